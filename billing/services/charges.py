"""Charges: one per delivered template (C1-C7), derived set-based from messaging's facts."""

from datetime import datetime

from django.db import connection
from django.db.models import (
    F,
    OuterRef,
    Q,
    Subquery,
)

from accounts.models import Company
from messaging.models import Message

from .. import rules
from ..models import (
    Charge,
    Invoice,
)
from ..selectors.charges import changed_messages, has_referrals
from .charges_sql import CHARGE_COLUMNS, _charge_select, _quote, charge_planner


def charges_sync(
    *,
    company: Company,
    invoice: Invoice | None,
    until: datetime,
    conversations=None,
    messages=None,
) -> int:
    """Derive one Charge per delivered template before ``until`` (set-based).

    Charges not yet on any invoice, or on ``invoice`` (a draft), are rebuilt
    from the facts, so a late inbound message re-classifies them (C3) and a
    new rate applies. Charges on other invoices are left alone; finalized ones
    are frozen forever. One INSERT … SELECT, which also puts each new charge on
    ``invoice`` (C7); ON CONFLICT makes overlaps harmless.

    Unbilled charges delivered from ``until`` on (the month so far, kept by
    ``usage_sync``) stay. With ``conversations`` and/or ``messages``, only the
    messages of those conversations and those messages are rebuilt (an
    incremental sync of the month so far; ``selectors.changed_messages``).
    """
    # By the charge's instant or the message's: an earlier delivery report may
    # have moved the message before ``until`` since its charge was made.
    stale = Q(invoice__isnull=True) & (
        Q(delivered_at__lt=until) | Q(message__delivered_at__lt=until)
    )
    if invoice is not None:
        stale |= Q(invoice=invoice)
    scope = Charge.objects.filter(company=company)
    changed = changed_messages(
        conversations=conversations, messages=messages, of_charges=True
    )
    if changed is not None:
        scope = scope.filter(changed)
    scope.filter(stale).order_by().delete()  # no sort of the charges to delete
    entry_points = has_referrals(company=company, until=until)
    select, params = _charge_select(
        company=company,
        until=until,
        invoice=invoice,
        entry_points=entry_points,
        conversations=conversations,
        messages=messages,
    )
    columns = ", ".join(_quote(c) for c in CHARGE_COLUMNS)
    with connection.cursor() as cursor, charge_planner(cursor):
        cursor.execute(
            f"INSERT INTO {_quote(Charge._meta.db_table)} ({columns}) {select} "  # noqa: S608
            "ON CONFLICT (message_id) DO NOTHING",
            params,
        )
        created = cursor.rowcount
    if entry_points:
        _entry_points_explain(company=company)
    return created


def _entry_points_explain(*, company: Company) -> None:
    """F2, D4: when the free entry point window of each new entry point charge opened."""
    pending = list(
        Charge.objects.filter(
            company=company,
            entry_point_message__isnull=False,
            entry_point_opened_at__isnull=True,
        ).annotate(
            referral_at=F("entry_point_message__provider_timestamp"),
            answer_at=Subquery(
                Message.objects.filter(
                    conversation_id=OuterRef("entry_point_message__conversation_id"),
                    direction=Message.Direction.OUTBOUND,
                    provider_timestamp__gte=OuterRef(
                        "entry_point_message__provider_timestamp"
                    ),
                )
                .order_by("provider_timestamp", "id")
                .values("provider_timestamp")[:1]
            ),
        )
    )
    for charge in pending:
        window = rules.entry_point_window(
            referral_at=charge.referral_at, first_answer_at=charge.answer_at
        )
        charge.entry_point_opened_at = window[0] if window else None
    Charge.objects.bulk_update(pending, ["entry_point_opened_at"], batch_size=1000)
