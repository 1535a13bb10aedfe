from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import F, Q

from . import rules
from .exceptions import ForeignTeamMember
from .locks import company_lock
from .models import Company, Team, User
from .roles import CUSTOMER_SUCCESS_GROUP, CUSTOMER_SUCCESS_PERMISSIONS


def customer_success_group_sync() -> Group:
    """Create or update the Customer Success group with exactly its permissions.

    Permissions of apps that are not installed yet are skipped; the next
    migrate (post_migrate) adds them.
    """
    group, _ = Group.objects.get_or_create(name=CUSTOMER_SUCCESS_GROUP)
    wanted = Q(pk__in=[])
    for dotted in CUSTOMER_SUCCESS_PERMISSIONS:
        app_label, codename = dotted.split(".")
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    group.permissions.set(Permission.objects.filter(wanted))
    return group


def team_members_validate(*, team: Team, users) -> None:
    """Refuse members that belong to another company than the team."""
    foreign = [u for u in users if u.company_id != team.company_id]
    if foreign:
        names = ", ".join(sorted(u.email for u in foreign))
        raise ForeignTeamMember(
            f"{names} do not belong to {team.company}; a team holds only its "
            "company's users."
        )


@transaction.atomic
def team_members_set(*, team: Team, users) -> Team:
    users = list(users)
    team_members_validate(team=team, users=users)
    team.members.set(users)
    return team


def company_user_create(
    *,
    company: Company,
    email: str,
    full_name: str = "",
    role: str = User.Role.AGENT,
    password: str | None = None,
) -> User:
    return User.objects.create_user(
        email=email, full_name=full_name, company=company, role=role, password=password
    )


def user_may_manage(*, actor: User, target: User | None) -> bool:
    """May ``actor`` change ``target``'s password, email, flags and rights, or
    delete it? ``None`` is a user not created yet."""
    if target is None or target.pk is None:
        return True
    return rules.may_manage_account(
        actor_is_superuser=actor.is_superuser,
        target_is_superuser=target.is_superuser,
        target_is_staff=target.is_staff,
        is_self=target.pk == actor.pk,
    )


@transaction.atomic
def user_sessions_revoke(*, user: User) -> User:
    """End every session of ``user``, on every session backend, and delete their
    API tokens: the session epoch is part of the hash Django checks on each
    request, so sessions opened before this call no longer log in, even once the
    user is active again; a reactivated user asks for a new token."""
    from rest_framework.authtoken.models import Token

    User.objects.filter(pk=user.pk).update(session_epoch=F("session_epoch") + 1)
    Token.objects.filter(user=user).delete()
    user.refresh_from_db(fields=["session_epoch"])
    return user


BILLING_DETAILS_FIELDS = ("legal_name", "billing_address", "tax_id", "billing_email")


def company_billing_details_update(*, company: Company, **details) -> Company:
    """F7: a company's billing details (legal name, address, tax ID, billing
    contact email), as its admin or Customer Success edit them.

    Validated whole (``Company.full_clean``: the tax ID for the country, the
    email); refused with ``ValidationError`` and nothing saved. Finalized
    invoices keep the details frozen on them; drafts show the new ones.
    """
    unknown = set(details) - set(BILLING_DETAILS_FIELDS)
    if unknown:
        raise TypeError(f"Not billing details: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        locked = company_lock(company.pk)
        for name, value in details.items():
            setattr(locked, name, (value or "").strip())
        locked.full_clean()
        locked.save(update_fields=[*details, "updated_at"])
    return locked


def user_language_set(*, user: User, language: str) -> User:
    """Keep ``language`` as the user's language (portal and emails); one the
    product does not speak is refused with ``ValueError``, nothing changed."""
    from django.conf import settings

    if language not in {code for code, _name in settings.LANGUAGES}:
        raise ValueError(f"{language!r} is not a language of the portal.")
    if user.language != language:
        User.objects.filter(pk=user.pk).update(language=language)
        user.language = language
    return user
