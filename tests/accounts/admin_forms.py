"""The admin's user change form, posted as a browser would."""

from django.urls import reverse


def change_url(user) -> str:
    return reverse("admin:accounts_user_change", args=[user.pk])


def change_form(target, **changes) -> dict:
    """The change form as the admin posts it, with ``changes`` applied."""
    data = {
        "email": target.email,
        "full_name": target.full_name,
        "role": target.role,
        "date_joined_0": target.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": target.date_joined.strftime("%H:%M:%S"),
        "_save": "Save",
    }
    flags = {
        "is_active": target.is_active,
        "is_staff": target.is_staff,
        "is_superuser": target.is_superuser,
    }
    flags.update({k: v for k, v in changes.items() if k in flags})
    data.update({k: "on" for k, v in flags.items() if v})
    data.update({k: v for k, v in changes.items() if k not in flags})
    return data


def post_change(client, target, **changes):
    page = client.get(change_url(target))
    assert page.status_code == 200
    data = change_form(target, **changes)
    for formset in page.context["inline_admin_formsets"]:
        prefix = formset.formset.prefix
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    return client.post(change_url(target), data)
