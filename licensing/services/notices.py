"""The weekly idle license notice (F6): recorded once per company and ISO week,
emailed to the company's admins once, after commit."""

from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from accounts.models import Company, User
from accounts.queueing import enqueue_on_commit
from accounts.selectors import admin_recipients, company_email_language

from .. import rules
from ..locks import idle_license_notice_lock
from ..models import IdleLicenseNotice
from ..selectors import idle_licenses_by_company


@transaction.atomic
def idle_license_notice_record(
    *, company: Company, at: datetime
) -> IdleLicenseNotice | None:
    """Record this ISO week's idle license notice for ``company``; email on commit.

    Returns ``None`` (and sends nothing) when the company has no idle license, no
    active admin, or already has its notice for the week: the unique
    (company, week) constraint makes a re-run or a concurrent run a no-op.
    """
    from ..tasks import idle_license_notice_email_task

    week = rules.iso_week_start(at=at)
    if IdleLicenseNotice.objects.filter(company=company, week=week).exists():
        return None
    found = idle_licenses_by_company(at=at, company=company)
    if not found:
        return None
    idle = found[0]
    recipients = sorted(
        company.users.filter(is_active=True, role=User.Role.COMPANY_ADMIN).values_list(
            "email", flat=True
        )
    )
    if not recipients:
        return None
    try:
        with transaction.atomic():
            notice = IdleLicenseNotice.objects.create(
                company=company,
                week=week,
                created_at=at,
                recipients=recipients,
                licenses=[
                    {
                        "email": a.user.email,
                        "name": a.user.get_full_name(),
                        "assigned_at": a.assigned_at.isoformat(),
                        "last_sent_at": a.last_sent_at.isoformat()
                        if a.last_sent_at
                        else None,
                    }
                    for a in idle.assignments
                ],
                idle_count=idle.idle_count,
                monthly_saving=idle.saving,
                currency=idle.currency,
            )
    except IntegrityError:
        return None  # another run recorded (and sends) this week's notice
    enqueue_on_commit(idle_license_notice_email_task, notice.pk)
    return notice


def _notice_context(notice: IdleLicenseNotice) -> dict:
    def when(value: str | None) -> datetime | None:
        if value is None:
            return None
        return timezone.localtime(datetime.fromisoformat(value), notice.company.zone)

    return {
        "notice": notice,
        "company": notice.company,
        "licenses": [
            {
                **item,
                "assigned_at": when(item.get("assigned_at")),
                "last_sent_at": when(item.get("last_sent_at")),
            }
            for item in notice.licenses
        ],
        "idle_days": rules.IDLE_AFTER.days,
    }


@transaction.atomic
def idle_license_notice_email(*, notice_id: int) -> IdleLicenseNotice:
    """Email a recorded notice to its recipients once (``emailed_at`` guards it)."""
    notice = idle_license_notice_lock(notice_id)
    if notice.emailed_at is not None:
        return notice
    context = _notice_context(notice)
    # One email per language, each in its recipients' language.
    known = {r.email: r.language for r in admin_recipients(company=notice.company)}
    fallback = company_email_language(company=notice.company)
    by_language: dict[str, list[str]] = {}
    for email in notice.recipients:
        by_language.setdefault(known.get(email, fallback), []).append(email)
    for language, recipients in sorted(by_language.items()):
        # Dates in the company's zone (the ``date`` filter converts to it).
        with translation.override(language), timezone.override(notice.company.zone):
            subject = render_to_string("emails/idle_licenses_subject.txt", context)
            body = render_to_string("emails/idle_licenses.txt", context)
        send_mail(
            subject=" ".join(subject.split()),
            message=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
        )
    notice.emailed_at = timezone.now()
    notice.save(update_fields=["emailed_at"])
    return notice
