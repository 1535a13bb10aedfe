"""The base of every refusal a service can raise; views and admin show its message."""


class DomainError(Exception):
    """A request that breaks a business rule; nothing was changed."""

    code = "domain_error"

    def __init__(self, message: str, **context):
        super().__init__(message)
        self.message = message
        self.context = context

    def __str__(self) -> str:
        return self.message


class ForeignTeamMember(DomainError):
    """A team member who is not a user of the team's company."""

    code = "foreign_team_member"
