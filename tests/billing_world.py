"""A company with a WhatsApp number, driven through the real webhook endpoint and
the real send service under time travel, ending in invoices."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import count

import time_machine

from billing.markets import markets_seed
from billing.models import Market, Rate, RateCard
from billing.services import invoice_compute, invoice_finalize
from licensing.services import license_price_set
from messaging.models import Message, MessageTemplate
from messaging.services import message_send
from tests import whatsapp
from tests.factories import (
    BusinessNumberFactory,
    CompanyFactory,
    MessageTemplateFactory,
    licensed_user,
)

_ids = count(1)


def rate_card(
    *, company=None, currency="EUR", rates: dict, effective_from: datetime
) -> RateCard:
    """rates: {(market name, category): "0.0615"}"""
    # Transactional tests flush the migration-seeded markets; put them back.
    markets_seed()
    card, _ = RateCard.objects.get_or_create(company=company, currency=currency)
    for (market, category), value in rates.items():
        Rate.objects.get_or_create(
            card=card,
            market=Market.objects.get(name=market),
            category=category,
            effective_from=effective_from,
            defaults={"rate": Decimal(value)},
        )
    return card


class World:
    """Business number B of a company and contact C, as in PRICING_RULES.md."""

    def __init__(
        self,
        client,
        *,
        start: datetime,
        wa_id: str = "34600111222",
        company=None,
        tz: str = "UTC",
        tax_rate: Decimal = Decimal("0"),
        license_price: Decimal = Decimal("0"),
        opted_in: bool = True,
    ):
        self.client = client
        with time_machine.travel(start - timedelta(days=400), tick=False):
            self.company = company or CompanyFactory(
                billing_timezone=tz, tax_rate=tax_rate
            )
            self.number = BusinessNumberFactory(company=self.company)
            self.agent = licensed_user(self.company)
            # Licenses are free here so totals are usage only; A5 is tested on its own.
            license_price_set(
                company=self.company,
                currency=self.company.billing_currency,
                monthly_amount=license_price,
                actor=None,
            )
        self.wa_id = wa_id
        # F8: the contact opted in to B (say, on the company's website) long
        # before the examples start, so B may write first.
        self.opted_in_at = start - timedelta(days=30) if opted_in else None
        self.templates = {
            category: MessageTemplateFactory(
                company=self.company, category=category, body=f"{category} template"
            )
            for category in MessageTemplate.Category.values
        }
        self.conversation = None

    # --- the contact ---------------------------------------------------------
    def contact_writes(
        self,
        at: datetime,
        *,
        arrives: datetime | None = None,
        referral: dict | None = None,
    ) -> Message:
        wamid = f"wamid.IN{next(_ids)}"
        message = {"type": "text", "text": {"body": "Hi"}}
        if referral:
            message["referral"] = referral
        payload = whatsapp.inbound_payload(
            phone_number_id=self.number.phone_number_id,
            wa_id=self.wa_id,
            wamid=wamid,
            at=at,
            message=message,
        )
        with time_machine.travel(arrives or at, tick=False):
            assert whatsapp.post(self.client, payload).status_code == 200
        message = Message.objects.get(wamid=wamid)
        self.conversation = message.conversation
        return message

    def contact_clicks_ad(self, at: datetime) -> Message:
        """F2: the contact writes from a click-to-WhatsApp ad (the referral of
        Meta's published sample)."""
        sample = whatsapp.fixture("inbound_text_ctwa_referral__meta_docs.json")
        referral = sample["entry"][0]["changes"][0]["value"]["messages"][0]["referral"]
        return self.contact_writes(at, referral=referral)

    # --- the business -----------------------------------------------------------
    def _conversation(self):
        if self.conversation is None:
            from messaging.models import Contact, Conversation

            contact, _ = Contact.objects.get_or_create(
                company=self.company, wa_id=self.wa_id
            )
            self.conversation, _ = Conversation.objects.get_or_create(
                business_number=self.number,
                contact=contact,
                defaults={"company": self.company},
            )
            if self.opted_in_at is not None:
                from messaging.models import ContactOptIn
                from messaging.services import contact_opt_in_record

                contact_opt_in_record(
                    contact=contact,
                    business_number=self.number,
                    source=ContactOptIn.Source.IMPORT,
                    at=self.opted_in_at,
                )
        return self.conversation

    def send_template(self, category: str, at: datetime) -> Message:
        with time_machine.travel(at, tick=False), whatsapp.on_commit():
            return message_send(
                sender=self.agent,
                conversation=self._conversation(),
                template=self.templates[category],
            )

    def send_text(self, at: datetime, text: str = "Thanks!") -> Message:
        with time_machine.travel(at, tick=False), whatsapp.on_commit():
            return message_send(
                sender=self.agent, conversation=self._conversation(), text=text
            )

    # --- the provider -----------------------------------------------------------
    def status(
        self, message: Message, status: str, at: datetime, *, arrives=None, **kw
    ):
        payload = whatsapp.status_payload(
            phone_number_id=self.number.phone_number_id,
            items=[
                whatsapp.status_item(
                    wamid=message.wamid,
                    status=status,
                    at=at,
                    recipient=self.wa_id,
                    **kw,
                )
            ],
        )
        with time_machine.travel(arrives or at, tick=False):
            assert whatsapp.post(self.client, payload).status_code == 200

    def deliver(self, message: Message, at: datetime | None = None, **kw):
        self.status(
            message,
            "delivered",
            at or message.provider_timestamp + timedelta(seconds=2),
            **kw,
        )

    def send_and_deliver(self, category: str, at: datetime) -> Message:
        message = self.send_template(category, at)
        self.deliver(message, at + timedelta(seconds=2))
        return message

    # --- billing -------------------------------------------------------------------
    def invoice(self, month: date, *, at: datetime | None = None):
        from billing.rules import month_bounds

        _, end = month_bounds(month, self.company.zone)
        with time_machine.travel(at or end + timedelta(hours=1), tick=False):
            return invoice_compute(company=self.company, month=month)

    def finalize(self, invoice, *, at: datetime | None = None):
        with time_machine.travel(
            at or invoice.period_end + timedelta(days=3), tick=False
        ):
            return invoice_finalize(invoice=invoice)
