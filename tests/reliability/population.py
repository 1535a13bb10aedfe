"""A realistic population for the reliability tests, built fast and, when asked,
twice with the same shape (world A and world B).

Companies, numbers, contacts and conversations are created through the ORM;
outbound template messages with ``bulk_create`` carrying exactly the fields
``messaging.services.message_send`` sets (``message_send`` is far too slow for
tens of thousands of messages). Everything the provider says afterwards
(inbound messages and sent/delivered/read/failed statuses) is generated as
abstract events that each world renders into its own ids and posts as signed
webhook bodies.
"""

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import time_machine

from accounts.models import Company, User
from billing.models import Charge, Invoice
from licensing.services import license_assign, license_count_set, license_price_set
from messaging import rules as messaging_rules
from messaging.models import (
    BusinessNumber,
    Contact,
    Conversation,
    Message,
    MessageStatusEvent,
    MessageTemplate,
)
from messaging.webhooks import signature_for
from tests.billing_world import rate_card
from tests.factories import CompanyFactory, UserFactory

CATEGORIES = ("marketing", "utility", "authentication")
# (wa_id prefix, market) of the generated contacts: six markets and the fallback.
MARKETS = (
    ("346", "Spain"),
    ("521", "Mexico"),
    ("4915", "Germany"),
    ("447", "United Kingdom"),
    ("1415", "North America"),
    ("1809", "Rest of Latin America"),
    ("999", "Other"),
)
_BASE_RATES = {"marketing": "0.0615", "utility": "0.0200", "authentication": "0.0300"}
# Different per market so that a wrong market shows in the totals.
_MARKET_FACTOR = {
    "Spain": "1",
    "Mexico": "0.7",
    "Germany": "2.2",
    "United Kingdom": "0.86",
    "North America": "0.41",
    "Rest of Latin America": "1.19",
    "Other": "0.98",
}
RATES = {
    (market, category): (Decimal(base) * Decimal(factor)).quantize(Decimal("0.0001"))
    for market, factor in _MARKET_FACTOR.items()
    for category, base in _BASE_RATES.items()
}


def rates_seed(*, effective_from: datetime) -> None:
    """The price list's rate card (EUR) for every market the contacts are in."""
    rate_card(
        rates={key: str(value) for key, value in RATES.items()},
        effective_from=effective_from,
    )


def wa_id_for(company: int, contact: int) -> str:
    prefix = MARKETS[contact % len(MARKETS)][0]
    return f"{prefix}{company:02d}{contact:06d}"


def market_of(wa_id: str) -> str:
    return next(m for p, m in MARKETS if wa_id.startswith(p))


@dataclass
class Shape:
    companies: int
    numbers: int  # per company
    contacts: int  # per number
    time_zones: tuple[str, ...] = ("UTC", "Europe/Madrid")
    tax_rates: tuple[str, ...] = ("0", "0.21", "0")
    licenses: tuple[int, ...] = (3, 5, 8, 2, 12)


@dataclass
class World:
    """One population: ``conversations[(company, number, contact)]``."""

    tag: str
    companies: list[Company]
    numbers: dict[tuple[int, int], BusinessNumber]
    conversations: dict[tuple[int, int, int], Conversation]
    templates: dict[tuple[int, str], MessageTemplate]
    senders: list[User]
    outbound: dict[str, Message] = field(default_factory=dict)

    def wamid(self, key: str) -> str:
        return f"wamid.{self.tag}.{key}"

    def key_of(self, wamid: str) -> str:
        return wamid.removeprefix(f"wamid.{self.tag}.")


def world_build(
    shape: Shape, *, tag: str, month: date, phone_base: int, slug_prefix: str = ""
) -> World:
    """Companies with licenses (bought a month before ``month``), numbers, contacts
    and conversations; ``phone_base`` keeps phone_number_ids apart between worlds."""
    before = datetime(month.year, month.month, 1, tzinfo=UTC) - timedelta(days=20)
    companies, senders = [], []
    with time_machine.travel(before, tick=False):
        for ci in range(shape.companies):
            company = CompanyFactory(
                slug=f"{slug_prefix or tag.lower()}-{ci}",
                name=f"{tag} company {ci}",
                billing_timezone=shape.time_zones[ci % len(shape.time_zones)],
                tax_rate=Decimal(shape.tax_rates[ci % len(shape.tax_rates)]),
            )
            license_price_set(
                company=company,
                currency=company.billing_currency,
                monthly_amount=Decimal("15.00") + ci,
                actor=None,
            )
            license_count_set(
                company=company,
                quantity=shape.licenses[ci % len(shape.licenses)],
                actor=None,
            )
            sender = UserFactory(company=company, email=f"agent-{tag}-{ci}@example.com")
            license_assign(company=company, users=[sender], actor=None)
            companies.append(company)
            senders.append(sender)
    numbers = {}
    for ci, company in enumerate(companies):
        for ni in range(shape.numbers):
            numbers[ci, ni] = BusinessNumber.objects.create(
                company=company,
                phone_number_id=f"{phone_base + ci * 100 + ni}",
                display_phone_number=f"1555{phone_base % 1000:03d}{ci:02d}{ni:02d}",
                waba_id=f"{phone_base}{ci:02d}",
            )
    contacts = Contact.objects.bulk_create(
        [
            Contact(
                company=companies[ci],
                wa_id=wa_id_for(ci, k),
                profile_name=f"Customer {ci}-{k}",
                country=messaging_rules.country_of(wa_id_for(ci, k)),
            )
            for ci in range(shape.companies)
            for k in range(shape.numbers * shape.contacts)
        ]
    )
    by_wa = {(c.company_id, c.wa_id): c for c in contacts}
    pairs = [
        (ci, ni, k)
        for ci in range(shape.companies)
        for ni in range(shape.numbers)
        for k in range(shape.contacts)
    ]
    created = Conversation.objects.bulk_create(
        [
            Conversation(
                company=companies[ci],
                business_number=numbers[ci, ni],
                contact=by_wa[companies[ci].pk, wa_id_for(ci, ni * shape.contacts + k)],
            )
            for ci, ni, k in pairs
        ]
    )
    templates = {
        (ci, category): MessageTemplate.objects.create(
            company=company,
            name=f"{category}_{tag.lower()}_{ci}",
            category=category,
            status=MessageTemplate.Status.APPROVED,
            body=f"Your {category} message",
        )
        for ci, company in enumerate(companies)
        for category in CATEGORIES
    }
    return World(
        tag=tag,
        companies=companies,
        numbers=numbers,
        conversations=dict(zip(pairs, created, strict=True)),
        templates=templates,
        senders=senders,
    )


def contact_of(world: World, conv: tuple[int, int, int]) -> str:
    """The contact's wa_id; conversations not created yet belong to contacts who
    write for the first time (their inbound message creates them)."""
    known = world.conversations.get(conv)
    if known is not None:
        return known.contact.wa_id
    ci, ni, k = conv
    return wa_id_for(ci, 900_000 + ni * 1000 + k)


def profile_of(world: World, conv: tuple[int, int, int]) -> str:
    known = world.conversations.get(conv)
    return known.contact.profile_name if known is not None else f"New customer {conv}"


# --- The traffic: abstract, rendered per world --------------------------------------


@dataclass(frozen=True)
class Outbound:
    key: str
    conv: tuple[int, int, int]
    category: str
    at: datetime


@dataclass(frozen=True)
class Event:
    """One webhook item: an inbound message (``status`` empty) or a status."""

    at: datetime
    key: str  # the message key; wamid = wamid.<tag>.<key>
    conv: tuple[int, int, int]
    status: str = ""
    category: str = ""

    @property
    def is_inbound(self) -> bool:
        return not self.status


# How a template's life ends at the provider: statuses sent, with probabilities.
OUTCOMES = (
    (0.60, ("sent", "delivered", "read")),
    (0.12, ("sent", "delivered")),
    (0.06, ("sent", "read")),  # delivered lost: read implies delivered (C1)
    (0.03, ("delivered", "read")),  # sent lost
    (0.08, ("sent", "failed")),
    (0.05, ("sent",)),  # never delivered
    (0.06, ()),  # nothing heard back
)


def outcome(rng: random.Random) -> tuple[str, ...]:
    r, acc = rng.random(), 0.0
    for p, statuses in OUTCOMES:
        acc += p
        if r < acc:
            return statuses
    return OUTCOMES[-1][1]


def status_times(
    rng: random.Random, at: datetime, statuses: tuple[str, ...]
) -> list[tuple[str, datetime]]:
    """Strictly increasing whole-second instants after the send."""
    out, t = [], at
    gaps = {
        "sent": (1, 5),
        "delivered": (1, 90),
        "read": (10, 6 * 3600),
        "failed": (2, 30),
    }
    for status in statuses:
        lo, hi = gaps[status]
        t = t + timedelta(seconds=rng.randint(lo, hi))
        out.append((status, t))
    return out


def traffic(
    shape: Shape,
    *,
    month: date,
    outbound_per_conversation: int,
    inbound_per_conversation: int,
    seed: int,
    days: tuple[int, int] = (2, 27),
) -> tuple[list[Outbound], list[Event]]:
    """A month of traffic: templates sent by the business and what the provider
    reports (inbound messages and statuses), in no particular order."""
    rng = random.Random(seed)
    start = datetime(month.year, month.month, days[0], tzinfo=UTC)
    span = int((timedelta(days=days[1] - days[0])).total_seconds())
    outbound, events = [], []
    for ci in range(shape.companies):
        for ni in range(shape.numbers):
            for k in range(shape.contacts):
                conv = (ci, ni, k)
                for j in range(inbound_per_conversation):
                    at = start + timedelta(seconds=rng.randrange(span))
                    events.append(Event(at=at, key=f"in.{ci}.{ni}.{k}.{j}", conv=conv))
                for j in range(outbound_per_conversation):
                    category = rng.choices(CATEGORIES, weights=(40, 45, 15))[0]
                    at = start + timedelta(seconds=rng.randrange(span))
                    key = f"out.{ci}.{ni}.{k}.{j}"
                    outbound.append(Outbound(key, conv, category, at))
                    for status, t in status_times(rng, at, outcome(rng)):
                        events.append(
                            Event(
                                at=t,
                                key=key,
                                conv=conv,
                                status=status,
                                category=category,
                            )
                        )
    return outbound, events


def _outbound_rows(world: World, outbound: list[Outbound]) -> list[Message]:
    rows = []
    for o in outbound:
        ci = o.conv[0]
        template = world.templates[ci, o.category]
        rows.append(
            Message(
                company=world.companies[ci],
                conversation=world.conversations[o.conv],
                direction=Message.Direction.OUTBOUND,
                type="template",
                body=template.body,
                template=template,
                template_category=template.category,
                template_params=[],
                sender=world.senders[ci],
                wamid=world.wamid(o.key),
                provider_timestamp=o.at,
                status=Message.Status.ACCEPTED,
            )
        )
    return rows


def outbound_create(world: World, outbound: list[Outbound]) -> None:
    """The templates as message_send records them (accepted, provider timestamp =
    acceptance), in one bulk insert."""
    for message in Message.objects.bulk_create(
        _outbound_rows(world, outbound), batch_size=5000
    ):
        world.outbound[world.key_of(message.wamid)] = message


def delivered_outbound_create(
    world: World, outbound: list[Outbound], *, rng: random.Random
) -> int:
    """Templates already delivered: the messages as status processing leaves them
    and their fact (the delivered status event) — for tests that need a billed
    month, not the webhook path."""
    rows = _outbound_rows(world, outbound)
    for message in rows:
        message.status = Message.Status.DELIVERED
        message.delivered_at = message.provider_timestamp + timedelta(
            seconds=rng.randint(2, 95)
        )
    Message.objects.bulk_create(rows, batch_size=5000)
    MessageStatusEvent.objects.bulk_create(
        [
            MessageStatusEvent(
                wamid=m.wamid,
                status="delivered",
                timestamp=m.delivered_at,
                message=m,
                recipient_id=m.conversation.contact.wa_id,
                payload={},
            )
            for m in rows
        ],
        batch_size=5000,
    )
    for message in rows:
        world.outbound[world.key_of(message.wamid)] = message
    return len(rows)


def inbound_create(world: World, events: list[Event]) -> None:
    """Inbound messages stored directly (setup only; the storm posts them)."""
    rows = [
        Message(
            company=world.companies[e.conv[0]],
            conversation=world.conversations[e.conv],
            direction=Message.Direction.INBOUND,
            type="text",
            body="Hello",
            wamid=world.wamid(e.key),
            provider_timestamp=e.at,
            status=Message.Status.RECEIVED,
        )
        for e in events
        if e.is_inbound
    ]
    Message.objects.bulk_create(rows, batch_size=5000)
    latest: dict[int, datetime] = {}
    for row in rows:
        pk = row.conversation.pk
        latest[pk] = max(latest.get(pk, row.provider_timestamp), row.provider_timestamp)
    for pk, at in latest.items():
        Conversation.objects.filter(pk=pk).update(
            last_inbound_at=at, last_message_at=at
        )


def _status_item(world: World, e: Event) -> dict:
    item = {
        "id": world.wamid(e.key),
        "status": e.status,
        "timestamp": str(int(e.at.timestamp())),
        "recipient_id": contact_of(world, e.conv),
    }
    if e.status in ("sent", "delivered"):
        item["pricing"] = {
            "billable": True,
            "pricing_model": "PMP",
            "category": e.category,
            "type": "regular",
        }
        item["conversation"] = {"id": f"conv-{world.tag}-{e.key}"[:64]}
    if e.status == "failed":
        item["errors"] = [
            {
                "code": 131026,
                "title": "Message undeliverable",
                "message": "Message undeliverable",
                "error_data": {"details": "Receiver is incapable of receiving"},
            }
        ]
    return item


def payload(world: World, batch: list[Event]) -> dict:
    """One webhook body as the provider batches it: an entry per account, a change
    per number and kind (messages with their contacts, or statuses)."""
    entries: dict[int, dict[tuple[int, str], dict]] = defaultdict(dict)
    for e in batch:
        ci, ni, _ = e.conv
        kind = "messages" if e.is_inbound else "statuses"
        number = world.numbers[ci, ni]
        value = entries[ci].setdefault(
            (ni, kind),
            {
                "messaging_product": "whatsapp",
                "metadata": {
                    "display_phone_number": number.display_phone_number,
                    "phone_number_id": number.phone_number_id,
                },
            },
        )
        wa_id = contact_of(world, e.conv)
        if e.is_inbound:
            profiles = value.setdefault("contacts", [])
            if all(p["wa_id"] != wa_id for p in profiles):
                profiles.append(
                    {"profile": {"name": profile_of(world, e.conv)}, "wa_id": wa_id}
                )
            value.setdefault("messages", []).append(
                {
                    "from": wa_id,
                    "id": world.wamid(e.key),
                    "timestamp": str(int(e.at.timestamp())),
                    "type": "text",
                    "text": {"body": f"Message {e.key}"},
                }
            )
        else:
            value.setdefault("statuses", []).append(_status_item(world, e))
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": world.numbers[ci, 0].waba_id,
                "changes": [
                    {"field": "messages", "value": value}
                    for _, value in sorted(changes.items())
                ],
            }
            for ci, changes in sorted(entries.items())
        ],
    }


def signed(body: dict, secret: str) -> tuple[bytes, str]:
    raw = json.dumps(body, separators=(",", ":")).encode()
    return raw, signature_for(body=raw, secret=secret)


# --- Reading results back, by key, for comparisons --------------------------------


def messages_by_key(world: World) -> dict[str, tuple]:
    rows = Message.objects.filter(company__in=world.companies).values_list(
        "wamid",
        "direction",
        "status",
        "provider_timestamp",
        "sent_at",
        "delivered_at",
        "read_at",
        "failed_at",
        "error_code",
        "template_category",
    )
    return {world.key_of(r[0]): r[1:] for r in rows}


def charges_by_key(world: World) -> dict[str, tuple]:
    rows = Charge.objects.filter(company__in=world.companies).values_list(
        "message__wamid",
        "category",
        "market__name",
        "delivered_at",
        "billable",
        "reason",
        "rate",
        "amount",
        "currency",
        "window_opened_at",
        "invoice__month",
    )
    return {world.key_of(r[0]): r[1:] for r in rows}


def invoice_summary(invoice: Invoice) -> tuple:
    lines = tuple(
        invoice.lines.order_by("position").values_list(
            "position",
            "kind",
            "description",
            "category",
            "market__name",
            "quantity",
            "unit_price",
            "amount",
            "original_month",
        )
    )
    return (
        invoice.month,
        invoice.status,
        invoice.currency,
        invoice.subtotal,
        invoice.tax,
        invoice.total,
        invoice.free_templates,
        lines,
    )


def batches_by_number(events: list[Event], size) -> list[list[Event]]:
    """Cut a stream into POST bodies as the provider does: each POST carries the
    updates of one business number (at most 1000), in the stream's order; the
    POSTs of all numbers interleave by their position in the stream.

    ``size()`` gives the next batch size."""
    streams: dict[tuple[int, int], list[tuple[int, Event]]] = defaultdict(list)
    for position, e in enumerate(events):
        streams[e.conv[:2]].append((position, e))
    batches = []
    for stream in streams.values():
        i = 0
        while i < len(stream):
            n = size()
            chunk = stream[i : i + n]
            batches.append((chunk[0][0], [e for _, e in chunk]))
            i += n
    return [batch for _, batch in sorted(batches, key=lambda b: b[0])]
