"""Reads that feed the charge derivation: delivered outbound messages and the facts each
charge needs (C1, B1, C6, F2), as querysets the INSERT ... SELECT of
``billing.services.charges_sync`` embeds."""

from datetime import datetime

from django.db.models import (
    CharField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import (
    Cast,
    Coalesce,
    Length,
    NullIf,
    Substr,
)

from accounts.models import Company
from messaging.models import Message
from messaging.windows import entry_point_openers, window_openers

from .. import rules
from ..models import (
    Charge,
    Market,
    MarketPrefix,
)


def _market_expression(*, wa_id_ref: str, at_ref: str):
    """C6: longest calling-code prefix of the recipient in force at the instant."""
    longest = (
        MarketPrefix.objects.values_list(Length("prefix"), flat=True)
        .order_by(-Length("prefix"))
        .first()
        or 1
    )
    candidates = Q()
    for n in range(1, longest + 1):
        candidates |= Q(prefix=Substr(OuterRef(wa_id_ref), 1, n))
    match = (
        MarketPrefix.objects.filter(candidates, effective_from__lte=OuterRef(at_ref))
        .filter(
            Q(effective_until__isnull=True) | Q(effective_until__gt=OuterRef(at_ref))
        )
        .order_by(-Length("prefix"), "-effective_from")
        .values("market_id")[:1]
    )
    other = Market.objects.get_or_create(name=rules.OTHER_MARKET)[0].pk
    return Coalesce(Subquery(match), Value(other), output_field=IntegerField())


def delivered_messages(*, company: Company, until: datetime):
    """Delivered outbound messages of the company before ``until`` (C1)."""
    return Message.objects.filter(
        company=company,
        direction=Message.Direction.OUTBOUND,
        delivered_at__isnull=False,
        delivered_at__lt=until,
    )


def has_referrals(*, company: Company, until: datetime) -> bool:
    """F2: whether the company has any ad-referred inbound message before ``until``
    (without one, no free entry point window can exist)."""
    return Message.objects.filter(
        company=company,
        direction=Message.Direction.INBOUND,
        referral__isnull=False,
        provider_timestamp__lt=until,
    ).exists()


def charge_facts(
    *, company: Company, until: datetime, free_form: bool, entry_points: bool
):
    """Delivered messages without a charge yet, with the facts a charge needs:
    the category ("service" for free-form), the recipient's market (C6), the
    inbound message whose window was open at delivery (B1), the referral whose
    free entry point window covered it (F2) and the provider's pricing type.
    Free-form messages only when ``free_form`` (a policy may charge them).
    Each subquery appears once per row."""
    window = window_openers(conversation_ref="conversation_id", at_ref="delivered_at")
    entry_point = entry_point_openers(
        conversation_ref="conversation_id", at_ref="delivered_at"
    )
    messages = delivered_messages(company=company, until=until)
    if not free_form:
        messages = messages.filter(template__isnull=False)
    return (
        # Only this company's charges: during a run the table grows faster than
        # its statistics, and an anti-join against all of it would be scanned whole.
        messages.filter(
            ~Exists(Charge.objects.filter(company=company, message_id=OuterRef("pk")))
        )
        .order_by()  # the INSERT needs no order; skip the default sort
        .values(
            f_message=F("pk"),
            f_category=Coalesce(
                NullIf("template_category", Value("")),
                Value(rules.SERVICE),
                output_field=CharField(),
            ),
            f_delivered_at=F("delivered_at"),
            f_market=_market_expression(
                wa_id_ref="conversation__contact__wa_id", at_ref="delivered_at"
            ),
            f_window=Subquery(window.values("pk")[:1]),
            # Without any ad-referred message there is nothing to look for.
            f_entry_point=Subquery(entry_point.values("pk")[:1])
            if entry_points
            else Cast(Value(None), IntegerField()),
            f_provider_type=KeyTextTransform("type", "pricing"),
        )
    )
