"""Account rules, as pure functions: no ORM, no request."""

# The fields of a user that hand over the account or its rights: whoever may
# change them may log in as that user or act with their permissions.
ACCOUNT_TAKEOVER_FIELDS = (
    "email",
    "is_active",
    "is_staff",
    "is_superuser",
    "groups",
    "user_permissions",
)


def may_manage_account(
    *,
    actor_is_superuser: bool,
    target_is_superuser: bool,
    target_is_staff: bool,
    is_self: bool,
) -> bool:
    """May the actor change the password, email, active flag, staff and superuser
    flags, groups and permissions of the target account, or delete it?

    A superuser may change any account. Other staff (Customer Success) may
    change company users and their own account, never a superuser or another
    staff user: that would let them log in as a more privileged person.
    """
    if actor_is_superuser:
        return True
    if is_self:
        return True
    return not (target_is_superuser or target_is_staff)
