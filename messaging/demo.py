"""Demo messaging data: business numbers, templates, contacts and about 40 days
of conversation history for the demo companies of ``manage.py demo_seed``.

Everything goes through the real paths where the real paths can do it:

- inbound messages are signed webhook bodies fed to ``services.webhook_receive``,
  with provider timestamps in the past;
- sends happening now go through ``services.message_send``, and the sandbox
  provider reports their statuses through the webhook intake after commit;
- past sends cannot use ``message_send`` (it reads the clock, and production
  code has no time machine). They are recorded with exactly the fields
  ``message_send`` sets, after the same send rule (``rules.send_refusal``)
  accepted them at their past instant; the sandbox provider's status webhooks
  (``sandbox.status_payload``) then go through ``webhook_receive``.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Company, User
from licensing.selectors import licensed_user_ids

from . import rules, sandbox, selectors, services
from .models import (
    BusinessNumber,
    Contact,
    ContactOptIn,
    Conversation,
    Message,
    MessageTemplate,
    WebhookDelivery,
)
from .transports import TRANSPORT_SANDBOX, SandboxTransport

logger = logging.getLogger(__name__)

IN = "in"
OUT = "out"


@dataclass(frozen=True)
class Step:
    """One message of a scripted conversation."""

    direction: str
    # How long before the seed ran; None sends it now through message_send.
    ago: timedelta | None
    text: str = ""
    template: str = ""
    params: tuple[str, ...] = ()
    # An inbound message sent from a click-to-WhatsApp ad (opens a free entry point).
    ad: str = ""


@dataclass(frozen=True)
class Script:
    number: str  # the business number's label
    wa_id: str
    name: str
    steps: tuple[Step, ...]


def d(days: float = 0, hours: float = 0, minutes: float = 0) -> timedelta:
    return timedelta(days=days, hours=hours, minutes=minutes)


TEMPLATE = MessageTemplate.Category
APPROVED = MessageTemplate.Status.APPROVED
PENDING = MessageTemplate.Status.PENDING

# The variable names and examples the demo's templates were approved with (the
# composer labels their values with them; the Graph API's BODY component).
TEMPLATE_EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "oferta_primavera": [("nombre", "Ana"), ("descuento", "20 %")],
    "pedido_enviado": [("nombre", "Ana"), ("pedido", "A-1042")],
    "recordatorio_cita": [("fecha", "12 de mayo"), ("hora", "10:30")],
}


def _components(name: str) -> list[dict]:
    examples = TEMPLATE_EXAMPLES.get(name)
    if not examples:
        return []
    return [
        {
            "type": "BODY",
            "example": {
                "body_text_named_params": [
                    {"param_name": param, "example": example}
                    for param, example in examples
                ]
            },
        }
    ]


COMPANIES: dict[str, dict] = {
    "acme-iberia": {
        "waba_id": "310000000000001",
        "numbers": [
            ("109000000000101", "34910000101", "Ventas"),
            ("109000000000102", "34910000102", "Soporte"),
        ],
        "templates": [
            (
                "oferta_primavera",
                "es_ES",
                TEMPLATE.MARKETING,
                APPROVED,
                "¡Hola {{1}}! Esta semana tienes un {{2}} de descuento en toda la "
                "tienda.",
            ),
            (
                "pedido_enviado",
                "es_ES",
                TEMPLATE.UTILITY,
                APPROVED,
                "Hola {{1}}, tu pedido {{2}} ya está en camino.",
            ),
            (
                "recordatorio_cita",
                "es_ES",
                TEMPLATE.UTILITY,
                APPROVED,
                "Te recordamos tu cita con el servicio técnico el {{1}} a las {{2}}.",
            ),
            (
                "codigo_verificacion",
                "es_ES",
                TEMPLATE.AUTHENTICATION,
                APPROVED,
                "{{1}} es tu código de verificación. Por tu seguridad, no lo "
                "compartas.",
            ),
            (
                "novedades_verano",
                "es_ES",
                TEMPLATE.MARKETING,
                PENDING,
                "Descubre las novedades de verano, {{1}}.",
            ),
        ],
        "scripts": [
            Script(
                "Ventas",
                "34612345678",
                "Lucía Fernández",
                (
                    Step(IN, d(38), "Hola, ¿tenéis la cafetera Aroma en stock?"),
                    Step(OUT, d(38) - d(minutes=12), "¡Hola Lucía! Sí, quedan 3."),
                    Step(IN, d(37, 23), "Genial, la pido ahora."),
                    Step(
                        OUT,
                        d(37, 22),
                        template="oferta_primavera",
                        params=("Lucía", "10 %"),
                    ),
                    Step(
                        OUT,
                        d(36),
                        template="pedido_enviado",
                        params=("Lucía", "A-1042"),
                    ),
                    Step(IN, d(hours=2), "Hola, ¿cuándo llega el pedido A-1042?"),
                    Step(OUT, None, "Hola Lucía, llega mañana antes de las 14:00."),
                ),
            ),
            Script(
                "Ventas",
                "12025550143",
                "James Miller",
                (
                    Step(
                        OUT,
                        d(21),
                        template="oferta_primavera",
                        params=("James", "20 %"),
                    ),
                    Step(IN, d(20, 23), "Do you ship to Texas?"),
                    Step(OUT, d(20, 22), "Yes, we ship to every US state."),
                ),
            ),
            Script(
                "Soporte",
                "18095550123",
                "María José Peña",
                (
                    Step(IN, d(hours=5), "Buenas, mi cafetera no enciende."),
                    Step(
                        OUT,
                        d(hours=4, minutes=50),
                        template="recordatorio_cita",
                        params=("jueves", "10:00"),
                    ),
                    Step(OUT, d(hours=4, minutes=45), "Le esperamos, ¡gracias!"),
                    Step(IN, d(hours=4, minutes=30), "Perfecto, allí estaré."),
                ),
            ),
            Script(
                "Soporte",
                "919876543210",
                "Arjun Sharma",
                (
                    Step(IN, d(12), "Hi, I cannot log in to my account."),
                    Step(
                        OUT,
                        d(12) - d(minutes=2),
                        template="codigo_verificacion",
                        params=("482913",),
                    ),
                    Step(
                        OUT,
                        d(12) - d(minutes=3),
                        "Use this code to log in; it expires in 10 minutes.",
                    ),
                    Step(IN, d(12) - d(minutes=15), "It worked, thanks!"),
                ),
            ),
            Script(
                "Ventas",
                "34622334455",
                "Carmen Ruiz",
                (
                    Step(
                        IN,
                        d(6),
                        "Hola, vengo del anuncio de la cafetera Aroma.",
                        ad="Cafetera Aroma: 20 % esta semana",
                    ),
                    Step(OUT, d(6) - d(minutes=20), "¡Hola Carmen! Te cuento."),
                    Step(
                        OUT,
                        d(5),
                        template="oferta_primavera",
                        params=("Carmen", "20 %"),
                    ),
                ),
            ),
            Script(
                "Ventas",
                # The sandbox provider fails numbers ending in 0000.
                "34699990000",
                "Pablo Ortega",
                (
                    Step(
                        OUT,
                        d(3),
                        template="oferta_primavera",
                        params=("Pablo", "15 %"),
                    ),
                ),
            ),
            Script(
                "Soporte",
                # No country uses +999: the contact's market is unknown ("Other").
                "99912345678",
                "Alex",
                (
                    Step(IN, d(25), "Hello? Is this the support line?"),
                    Step(OUT, d(25) - d(minutes=20), "Yes, how can we help?"),
                ),
            ),
        ],
    },
    "globex-mx": {
        "waba_id": "320000000000001",
        "numbers": [("209000000000201", "5215500000201", "Ventas")],
        "templates": [
            (
                "promo_fin_de_semana",
                "es_MX",
                TEMPLATE.MARKETING,
                APPROVED,
                "¡Hola {{1}}! Este fin de semana tu plan tiene {{2}} de descuento.",
            ),
            (
                "pago_confirmado",
                "es_MX",
                TEMPLATE.UTILITY,
                APPROVED,
                "Hola {{1}}, recibimos tu pago de la factura {{2}}. ¡Gracias!",
            ),
            (
                "codigo_acceso",
                "es_MX",
                TEMPLATE.AUTHENTICATION,
                APPROVED,
                "Tu código de acceso es {{1}}. Vence en 10 minutos.",
            ),
            (
                "lanzamiento_producto",
                "es_MX",
                TEMPLATE.MARKETING,
                PENDING,
                "{{1}}, muy pronto lanzamos algo nuevo para tu empresa.",
            ),
        ],
        "scripts": [
            Script(
                "Ventas",
                "5215512345678",
                "Fernanda Ruiz",
                (
                    Step(IN, d(30), "Hola, quiero información del plan empresarial."),
                    Step(OUT, d(30) - d(minutes=15), "¡Claro! Te envío los detalles."),
                    Step(IN, d(29, 23), "Gracias, lo reviso."),
                    Step(
                        OUT,
                        d(27),
                        template="pago_confirmado",
                        params=("Fernanda", "F-0931"),
                    ),
                    Step(IN, d(hours=1), "Ya hice el pago de este mes, ¿me confirman?"),
                    Step(
                        OUT,
                        None,
                        template="pago_confirmado",
                        params=("Fernanda", "F-1007"),
                    ),
                    Step(OUT, None, "¡Gracias, Fernanda! Todo en orden."),
                ),
            ),
            Script(
                "Ventas",
                "5213312345678",
                "Roberto Sánchez",
                (
                    Step(
                        OUT,
                        d(15),
                        template="promo_fin_de_semana",
                        params=("Roberto", "15 %"),
                    ),
                    Step(
                        OUT,
                        None,
                        template="promo_fin_de_semana",
                        params=("Roberto", "20 %"),
                    ),
                ),
            ),
            Script(
                "Ventas",
                "13055550199",
                "Emily Johnson",
                (
                    Step(IN, d(8), "Hi! Do you have support in English?"),
                    Step(OUT, d(8) - d(minutes=10), "Yes, of course. How can we help?"),
                ),
            ),
            Script(
                "Ventas",
                "18095550177",
                "Rafael Peña",
                (
                    Step(
                        IN, d(40), "Buenas tardes, ¿atienden en República Dominicana?"
                    ),
                    Step(OUT, d(40) - d(minutes=30), "Sí, con gusto le atendemos."),
                    Step(
                        OUT,
                        d(40) - d(minutes=32),
                        template="codigo_acceso",
                        params=("730418",),
                    ),
                ),
            ),
            Script(
                "Ventas",
                "919812345678",
                "Priya Patel",
                (
                    Step(IN, d(3), "Hello, could I get a quote for 20 users?"),
                    Step(OUT, d(3) - d(minutes=5), "Sure, a colleague will call you."),
                ),
            ),
            Script(
                "Ventas",
                # The sandbox provider fails numbers ending in 0000.
                "5215587650000",
                "Luis Ortega",
                (
                    Step(
                        OUT,
                        d(6),
                        template="promo_fin_de_semana",
                        params=("Luis", "10 %"),
                    ),
                ),
            ),
        ],
    },
}


@transaction.atomic
def seed(*, actor: User) -> dict[str, dict[str, int]]:
    """Create the messaging demo of every demo company that has none yet.

    Idempotent: a company that already has business numbers is left alone.
    ``actor`` is the Customer Success user setting the demo up. Returns what
    was created, per company slug.
    """
    now = timezone.now().replace(microsecond=0)
    created: dict[str, dict[str, int]] = {}
    for slug, spec in COMPANIES.items():
        company = Company.objects.filter(slug=slug).first()
        if company is None or company.business_numbers.exists():
            continue
        agents = list(
            User.objects.filter(pk__in=licensed_user_ids(company=company)).order_by(
                "email"
            )
        )
        if not agents:
            logger.warning("Messaging demo skipped for %s: no licensed agent.", slug)
            continue
        logger.info("Messaging demo for %s, set up by %s.", slug, actor)
        created[slug] = _company_seed(
            company=company, spec=spec, agents=agents, now=now
        )
    return created


def _company_seed(
    *, company: Company, spec: dict, agents: list[User], now: datetime
) -> dict[str, int]:
    numbers = {
        label: BusinessNumber.objects.create(
            company=company,
            phone_number_id=phone_number_id,
            display_phone_number=display,
            waba_id=spec["waba_id"],
            label=label,
        )
        for phone_number_id, display, label in spec["numbers"]
    }
    templates = {
        name: MessageTemplate.objects.create(
            company=company,
            name=name,
            language=language,
            category=category,
            status=status,
            body=body,
            components=_components(name),
        )
        for name, language, category, status, body in spec["templates"]
    }
    send_now = settings.WHATSAPP_TRANSPORT == TRANSPORT_SANDBOX
    if not send_now:
        # The demo's numbers are made up: never send them to the real provider.
        logger.warning("Messaging demo: not sending today's messages (no sandbox).")
    for index, script in enumerate(spec["scripts"]):
        sender = agents[index % len(agents)]
        conversation = None
        for step in script.steps:
            number = numbers[script.number]
            if step.direction == IN:
                _inbound(number=number, script=script, step=step, at=now - step.ago)
                conversation = Conversation.objects.get(
                    business_number=number, contact__wa_id=script.wa_id
                )
                continue
            if conversation is None:
                conversation = _conversation(number=number, script=script, now=now)
            template = templates.get(step.template)
            if step.ago is None:
                if send_now:
                    services.message_send(
                        sender=sender,
                        conversation=conversation,
                        text=step.text,
                        template=template,
                        params=list(step.params),
                    )
                continue
            _outbound_past(
                conversation=conversation,
                sender=sender,
                step=step,
                template=template,
                at=now - step.ago,
            )
    return {
        "numbers": len(numbers),
        "templates": len(templates),
        "conversations": Conversation.objects.filter(company=company).count(),
        "messages": Message.objects.filter(company=company).count(),
    }


# F8: contacts the demo writes to first opted in on the company's website this
# long before the seed (recorded as imported), so the business may write first.
DEMO_OPT_IN_AGO = timedelta(days=120)


def _conversation(*, number: BusinessNumber, script: Script, now) -> Conversation:
    """Return the conversation of a contact we write to first (never wrote to us),
    with their opt-in to the number."""
    contact, _ = Contact.objects.get_or_create(
        company=number.company,
        wa_id=script.wa_id,
        defaults={
            "profile_name": script.name,
            "country": rules.country_of(script.wa_id),
        },
    )
    conversation, _ = Conversation.objects.get_or_create(
        business_number=number, contact=contact, defaults={"company": number.company}
    )
    services.contact_opt_in_record(
        contact=contact,
        business_number=number,
        source=ContactOptIn.Source.IMPORT,
        at=now - DEMO_OPT_IN_AGO,
    )
    return conversation


def _receive(payload: dict) -> None:
    """Feed one provider webhook through the real intake and process it now.

    The intake processes on commit; the demo runs inside the command's
    transaction and needs the result at once (later steps read the window), so
    it processes here too. Processing is idempotent, so the on-commit run that
    follows changes nothing.
    """
    body, signature = sandbox.signed_body(payload)
    delivery, _ = services.webhook_receive(body=body, signature=signature)
    delivery.refresh_from_db(fields=["status"])
    if delivery.status == WebhookDelivery.Status.RECEIVED:
        services.delivery_process(delivery_id=delivery.pk)


def _referral(step: Step) -> dict:
    """The referral of a click-to-WhatsApp ad, shaped like the provider's."""
    if not step.ad:
        return {}
    return {
        "referral": {
            "source_url": "https://fb.me/demo-ad",
            "source_id": "120226305854810726",
            "source_type": "ad",
            "headline": step.ad,
            "body": step.ad,
            "media_type": "image",
            "ctwa_clid": f"demo-{uuid.uuid5(uuid.NAMESPACE_URL, step.ad).hex}",
        }
    }


def _inbound(*, number: BusinessNumber, script: Script, step: Step, at) -> None:
    """Receive the contact's text message sent at ``at`` (the provider's time)."""
    _receive(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": number.waba_id,
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": number.display_phone_number,
                                    "phone_number_id": number.phone_number_id,
                                },
                                "contacts": [
                                    {
                                        "profile": {"name": script.name},
                                        "wa_id": script.wa_id,
                                    }
                                ],
                                "messages": [
                                    {
                                        "from": script.wa_id,
                                        "id": f"wamid.DEMO{uuid.uuid4().hex}",
                                        "timestamp": str(int(at.timestamp())),
                                        "type": "text",
                                        "text": {"body": step.text},
                                        **_referral(step),
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    )


def _outbound_past(
    *,
    conversation: Conversation,
    sender: User,
    step: Step,
    template: MessageTemplate | None,
    at: datetime,
) -> Message:
    """Record a message sent at ``at`` as message_send would have, then its statuses."""
    conversation.refresh_from_db()
    params = list(step.params)
    latest_in = selectors.last_inbound_at(conversation=conversation, at=at)
    refusal = rules.send_refusal(
        is_template=template is not None,
        window_open=rules.window_is_open(last_inbound_at=latest_in, at=at),
        text=step.text,
        template_approved=template is not None
        and template.status == MessageTemplate.Status.APPROVED,
        placeholders=template.placeholder_count if template else 0,
        params_given=len(params),
    )
    if refusal:
        raise ValueError(
            f"Demo script error: {step!r} would be refused at {at} ({refusal})."
        )
    message = services.outbound_message_record(
        conversation=conversation,
        sender=sender,
        text=step.text,
        template=template,
        params=params,
        at=at,
        transport=SandboxTransport(),
    )
    message = Message.objects.select_related(
        "conversation__business_number", "conversation__contact"
    ).get(pk=message.pk)
    _receive(sandbox.status_payload(message))
    return message


# --- Usage volumes -------------------------------------------------------------------
#
# A month of real traffic on one invoice: thousands of delivered templates to
# contacts in many markets, in every category, some answering within the 24-hour
# window (free utility, B1/C3). Recorded set-based with bulk_create, with exactly
# the fields ``outbound_message_record`` and the delivery status webhook set on a
# message (and ``inbound_message_record`` on an inbound one): charges are then
# derived from these facts by the billing run like any others (charges_sync).
# Status events are not stored (no charge depends on them).

VOLUME_WAMID = "wamid.DEMOVOLUME"
# Contacts per market, by the calling-code prefix of their WhatsApp id (C6).
VOLUME_MARKETS = {
    "acme-iberia": [
        ("34612", 150),  # Spain
        ("33612", 25),  # France
        ("49151", 20),  # Germany
        ("44771", 20),  # United Kingdom
        ("39320", 15),  # Italy
        ("52155", 15),  # Mexico
        ("54911", 10),  # Argentina
        ("57300", 10),  # Colombia
        ("91981", 10),  # India
        ("12025", 10),  # North America
    ],
    "globex-mx": [
        ("52155", 120),  # Mexico
        ("57300", 15),  # Colombia
        ("54911", 10),  # Argentina
        ("56912", 10),  # Chile
        ("51987", 10),  # Peru
        ("12025", 15),  # North America
        ("34612", 10),  # Spain
    ],
}
# Category shares of the month's templates; utility answers come with an
# inbound message an hour before in this share of cases (inside the window).
VOLUME_SHARES = (
    (MessageTemplate.Category.MARKETING, 50),
    (MessageTemplate.Category.UTILITY, 35),
    (MessageTemplate.Category.AUTHENTICATION, 15),
)
VOLUME_IN_WINDOW = 4  # one utility template in four answers the contact
BATCH = 2000


def volume_seed(
    *, company: Company, start: datetime, end: datetime, messages: int, sender: User
) -> int:
    """Record ``messages`` delivered templates of ``company`` in [start, end),
    spread over the days and the markets of ``VOLUME_MARKETS``; return how many
    were recorded (0 when the company has its volume already, or no number or
    approved template of a category)."""
    import random

    markets = VOLUME_MARKETS.get(company.slug)
    number = company.business_numbers.order_by("pk").first()
    if not markets or number is None:
        return 0
    if Message.objects.filter(company=company, wamid__startswith=VOLUME_WAMID).exists():
        return 0
    templates = {}
    for category, _share in VOLUME_SHARES:
        template = (
            MessageTemplate.objects.filter(
                company=company,
                category=category,
                status=MessageTemplate.Status.APPROVED,
            )
            .order_by("pk")
            .first()
        )
        if template is None:
            return 0
        templates[category] = template
    rng = random.Random(f"{company.slug}:{start:%Y-%m}")
    with transaction.atomic():
        contacts = Contact.objects.bulk_create(
            [
                Contact(
                    company=company,
                    wa_id=f"{prefix}{i:06d}",
                    profile_name=f"Cliente {prefix}-{i}",
                    country=rules.country_of(f"{prefix}{i:06d}"),
                    created_at=start,
                )
                for prefix, count in markets
                for i in range(count)
            ],
            ignore_conflicts=True,
        )
        contacts = list(
            Contact.objects.filter(
                company=company, wa_id__in=[c.wa_id for c in contacts]
            ).order_by("wa_id")
        )
        Conversation.objects.bulk_create(
            [
                Conversation(
                    company=company,
                    business_number=number,
                    contact=contact,
                    created_at=start,
                )
                for contact in contacts
            ],
            ignore_conflicts=True,
        )
        conversations = list(
            Conversation.objects.filter(
                business_number=number, contact__in=contacts
            ).select_related("contact")
        )
        weights = [count for _prefix, count in markets for _ in range(count)]
        span = (end - start).total_seconds() - 3 * 3600
        rows: list[Message] = []
        latest: dict[int, datetime] = {}
        inbound_latest: dict[int, datetime] = {}
        categories = [c for c, _ in VOLUME_SHARES]
        shares = [s for _, s in VOLUME_SHARES]
        for n in range(messages):
            conversation = rng.choices(conversations, weights=weights)[0]
            category = rng.choices(categories, weights=shares)[0]
            template = templates[category]
            at = start + timedelta(seconds=3600 + rng.random() * span)
            at = at.replace(microsecond=0)
            if category == MessageTemplate.Category.UTILITY and (
                n % VOLUME_IN_WINDOW == 0
            ):
                asked = at - timedelta(hours=1)
                wamid = f"{VOLUME_WAMID}.IN.{start:%Y%m}.{n:07d}"
                text = "¿Dónde está mi pedido?"
                rows.append(
                    Message(
                        company=company,
                        conversation=conversation,
                        direction=Message.Direction.INBOUND,
                        type="text",
                        body=text,
                        wamid=wamid,
                        provider_timestamp=asked,
                        status=Message.Status.RECEIVED,
                        # The message object as the webhook carries it.
                        raw={
                            "from": conversation.contact.wa_id,
                            "id": wamid,
                            "timestamp": str(int(asked.timestamp())),
                            "type": "text",
                            "text": {"body": text},
                        },
                        created_at=asked,
                    )
                )
                inbound_latest[conversation.pk] = max(
                    inbound_latest.get(conversation.pk, asked), asked
                )
            params = ["Cliente", "15%", "A-1042", "482913"][
                : template.placeholder_count
            ]
            rows.append(
                Message(
                    company=company,
                    conversation=conversation,
                    direction=Message.Direction.OUTBOUND,
                    type="template",
                    body=services.template_render(template=template, params=params),
                    template=template,
                    template_category=template.category,
                    template_params=params,
                    sender=sender,
                    wamid=f"{VOLUME_WAMID}.OUT.{start:%Y%m}.{n:07d}",
                    provider_timestamp=at,
                    status=Message.Status.DELIVERED,
                    sent_at=at + timedelta(seconds=2),
                    delivered_at=at + timedelta(seconds=5),
                    created_at=at,
                )
            )
            latest[conversation.pk] = max(latest.get(conversation.pk, at), at)
        for i in range(0, len(rows), BATCH):
            Message.objects.bulk_create(rows[i : i + BATCH])
        for conversation in conversations:
            if conversation.pk in latest:
                conversation.last_message_at = latest[conversation.pk]
                conversation.last_inbound_at = inbound_latest.get(conversation.pk)
        Conversation.objects.bulk_update(
            conversations, ["last_message_at", "last_inbound_at"], batch_size=BATCH
        )
    logger.info("Messaging demo: %d delivered templates for %s", messages, company)
    return messages
