"""The weekly idle license notices (F6): those whose email is still due."""

from datetime import datetime, timedelta

from ..models import IdleLicenseNotice


def idle_license_notices_unsent(
    *,
    at: datetime,
    older_than: timedelta = timedelta(minutes=10),
    within: timedelta = timedelta(days=7),
) -> list[int]:
    """Notices recorded (``older_than`` ago, at most ``within``) but not emailed:
    their email task was lost (broker down) or gave up (mail server down)."""
    return list(
        IdleLicenseNotice.objects.filter(
            emailed_at__isnull=True,
            created_at__lt=at - older_than,
            created_at__gte=at - within,
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:500]
    )
