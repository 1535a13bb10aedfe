"""WhatsApp facts: numbers, contacts, conversations, messages, status events and
raw webhook deliveries.

Facts (messages keyed by ``wamid``, status events keyed by ``(wamid, status)``,
raw deliveries keyed by their body hash) are append-only. A message's status
timestamps and a conversation's ``last_inbound_at`` are derived from the facts
and can be recomputed at any time (see messaging/rules.py).
"""

import re

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Company, TimeStampedModel

PLACEHOLDER_RE = re.compile(r"\{\{\s*(\d+)\s*\}\}")
# WhatsApp template names: lowercase letters, digits and underscores.
TEMPLATE_NAME_RE = re.compile(r"\A[a-z0-9_]+\Z")


class BusinessNumber(TimeStampedModel):
    """One WhatsApp business phone number of a company."""

    company = models.ForeignKey(
        Company, on_delete=models.PROTECT, related_name="business_numbers"
    )
    # The Cloud API's id of the number; webhooks name it in metadata.phone_number_id.
    phone_number_id = models.CharField(_("phone number id"), max_length=64, unique=True)
    display_phone_number = models.CharField(_("display number"), max_length=32)
    waba_id = models.CharField(
        _("WhatsApp business account id"), max_length=64, blank=True
    )
    label = models.CharField(_("label"), max_length=100, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("business number")
        verbose_name_plural = _("business numbers")
        ordering = ["company__name", "display_phone_number"]

    def __str__(self) -> str:
        return f"+{self.display_phone_number}" + (
            f" ({self.label})" if self.label else ""
        )


class Contact(TimeStampedModel):
    """An end customer on WhatsApp, as seen by one company."""

    company = models.ForeignKey(
        Company, on_delete=models.PROTECT, related_name="contacts"
    )
    # The contact's WhatsApp id: their phone number in international digits.
    wa_id = models.CharField(_("WhatsApp id"), max_length=32)
    profile_name = models.CharField(_("profile name"), max_length=200, blank=True)
    # ISO 3166 region derived from wa_id with phonenumbers; empty when unknown.
    country = models.CharField(_("country"), max_length=2, blank=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["company", "wa_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "wa_id"], name="contact_unique_wa_id"
            ),
        ]

    def __str__(self) -> str:
        return self.profile_name or f"+{self.wa_id}"

    @property
    def masked_number(self) -> str:
        """Return the number with its middle digits hidden, e.g. +34 6•••••12."""
        digits = self.wa_id
        if len(digits) <= 5:
            return "+" + digits
        return f"+{digits[:3]}{'•' * (len(digits) - 5)}{digits[-2:]}"


class Conversation(TimeStampedModel):
    """All messages between one business number and one contact."""

    company = models.ForeignKey(
        Company, on_delete=models.PROTECT, related_name="conversations"
    )
    business_number = models.ForeignKey(
        BusinessNumber, on_delete=models.PROTECT, related_name="conversations"
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, related_name="conversations"
    )
    # Derived: the latest provider timestamp of an inbound message (B1). Only moves
    # forward; never the time a webhook happened to arrive.
    last_inbound_at = models.DateTimeField(
        _("last inbound message"), null=True, blank=True
    )
    # Derived: the latest message either way, for ordering the inbox.
    last_message_at = models.DateTimeField(_("last message"), null=True, blank=True)
    # The agent who answers it; set only by services.conversation_assign, which
    # keeps every change in ConversationAssignment.
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        on_delete=models.PROTECT,
        related_name="assigned_conversations",
        null=True,
        blank=True,
    )

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-last_message_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["business_number", "contact"], name="conversation_unique_pair"
            ),
        ]
        indexes = [
            models.Index(fields=["company", "-last_message_at"]),
            models.Index(
                fields=["assigned_to", "-last_message_at"],
                name="conversation_assigned_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact} ↔ {self.business_number}"


class ConversationAssignment(models.Model):
    """One change of a conversation's agent (the audit trail; append-only)."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.PROTECT, related_name="assignments"
    )
    # Empty: the conversation was unassigned.
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("conversation assignment")
        verbose_name_plural = _("conversation assignments")
        ordering = ["conversation", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.conversation_id} → {self.assigned_to_id or '-'}"


class ConversationRead(models.Model):
    """How far one user has read one conversation: the newest message they saw.

    Messages after it that came from the contact are unread for that user.
    Written only by ``services.conversation_mark_read`` (a POST), never by a GET.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="read_markers"
    )
    # The id of the newest message seen (ids only grow).
    last_read_message_id = models.BigIntegerField(default=0)
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("read marker")
        verbose_name_plural = _("read markers")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "conversation"], name="conversationread_unique"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.user_id} read {self.conversation_id} to {self.last_read_message_id}"
        )


class MessageTemplate(TimeStampedModel):
    class Category(models.TextChoices):
        MARKETING = "marketing", _("Marketing")
        UTILITY = "utility", _("Utility")
        AUTHENTICATION = "authentication", _("Authentication")

    class Status(models.TextChoices):
        APPROVED = "approved", _("Approved")
        PENDING = "pending", _("Pending")
        REJECTED = "rejected", _("Rejected")
        PAUSED = "paused", _("Paused")
        DISABLED = "disabled", _("Disabled")
        # The provider's other states of a template (message_template_status_update).
        IN_APPEAL = "in_appeal", _("In appeal")
        FLAGGED = "flagged", _("Flagged")
        LIMIT_EXCEEDED = "limit_exceeded", _("Limit exceeded")
        ARCHIVED = "archived", _("Archived")
        PENDING_DELETION = "pending_deletion", _("Pending deletion")
        DELETED = "deleted", _("Deleted")

    company = models.ForeignKey(
        Company, on_delete=models.PROTECT, related_name="templates"
    )
    # The provider's rule: lowercase letters, digits and underscores (so a name
    # is never markup or a spreadsheet formula either).
    name = models.CharField(
        _("name"),
        max_length=512,
        validators=[
            RegexValidator(
                TEMPLATE_NAME_RE,
                _(
                    "Use lowercase letters, digits and underscores only, as "
                    "WhatsApp requires (e.g. order_shipped)."
                ),
            )
        ],
    )
    language = models.CharField(_("language"), max_length=15, default="en_US")
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    status = models.CharField(
        _("approval status"),
        max_length=20,
        choices=Status.choices,
        default=Status.PENDING,
    )
    # Body text with {{1}}, {{2}}… placeholders, as approved by Meta.
    body = models.TextField(_("body"))
    # The provider's components as stored with the template (Graph API's
    # ``components``): the body's ``example.body_text`` or
    # ``example.body_text_named_params`` label the placeholders in the composer.
    components = models.JSONField(_("components"), default=list, blank=True)
    # The provider's id of the template (message_template_id in its webhooks);
    # empty until known. Webhooks match by it, else by company, name and language.
    provider_template_id = models.CharField(
        _("provider template id"),
        max_length=64,
        blank=True,
        default="",
        db_default="",
    )

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["company", "name", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "name", "language"],
                name="messagetemplate_unique_name",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language}, {self.get_category_display()})"

    @property
    def placeholder_count(self) -> int:
        numbers = {int(n) for n in PLACEHOLDER_RE.findall(self.body)}
        return max(numbers, default=0)


class ContactOptIn(models.Model):
    """F8: a contact agreed to receive messages from one business number.

    One row per (contact, business number): recorded again, it keeps the first
    instant and source (the earliest evidence of consent).
    """

    class Source(models.TextChoices):
        INBOUND = "inbound", _("The contact wrote to the number")
        IMPORT = "import", _("Contact import")
        MANUAL = "manual", _("Recorded by hand")

    company = models.ForeignKey(
        Company, on_delete=models.PROTECT, related_name="contact_opt_ins"
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, related_name="opt_ins"
    )
    business_number = models.ForeignKey(
        BusinessNumber, on_delete=models.PROTECT, related_name="opt_ins"
    )
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    # When the contact opted in: the inbound message's provider time, the
    # import's column, or when it was recorded by hand.
    opted_in_at = models.DateTimeField(_("opted in at"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("contact opt-in")
        verbose_name_plural = _("contact opt-ins")
        ordering = ["contact", "business_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "business_number"],
                name="contactoptin_unique_pair",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact} → {self.business_number} ({self.source})"


class TemplateEvent(models.Model):
    """F9: one status or category change of a template reported by the provider
    (message_template_status_update, template_category_update), as a fact.

    Unique per (template, kind, event, category change, provider time): a
    replayed webhook is stored once.
    """

    class Kind(models.TextChoices):
        STATUS = "status", _("Status")
        CATEGORY = "category", _("Category changed")
        CATEGORY_NOTICE = "category_notice", _("Category change announced")

    company = models.ForeignKey(
        Company, on_delete=models.PROTECT, related_name="template_events"
    )
    template = models.ForeignKey(
        MessageTemplate, on_delete=models.PROTECT, related_name="events"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    # The provider's event (APPROVED, PAUSED, …) for a status; empty otherwise.
    event = models.CharField(_("event"), max_length=32, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    previous_category = models.CharField(
        _("previous category"), max_length=20, blank=True
    )
    new_category = models.CharField(_("new category"), max_length=20, blank=True)
    # rules.category_costs_more(previous, new): shown to Customer Success and to
    # the company's admins.
    costs_more = models.BooleanField(_("costs more"), default=False)
    # The webhook's entry.time (or the announced change time of a notice).
    occurred_at = models.DateTimeField(_("occurred at"))
    delivery = models.ForeignKey(
        "WebhookDelivery",
        on_delete=models.PROTECT,
        related_name="template_events",
        null=True,
        blank=True,
    )
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("template event")
        verbose_name_plural = _("template events")
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "template",
                    "kind",
                    "event",
                    "previous_category",
                    "new_category",
                    "occurred_at",
                ],
                name="templateevent_unique",
            ),
        ]
        indexes = [
            models.Index(
                fields=["company", "-occurred_at"],
                condition=models.Q(costs_more=True),
                name="templateevent_costs_more_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template.name}: {self.get_kind_display()} {self.event}"

    @staticmethod
    def _category_label(value: str) -> str:
        if value in MessageTemplate.Category.values:
            return MessageTemplate.Category(value).label
        return value

    @property
    def previous_category_label(self) -> str:
        return self._category_label(self.previous_category)

    @property
    def new_category_label(self) -> str:
        return self._category_label(self.new_category)


class WebhookDelivery(models.Model):
    """One POST from the provider, stored raw before anything is parsed."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        UNMATCHED = "unmatched", _("Processed, with unknown numbers kept")
        FAILED = "failed", _("Failed")

    # Indexed on PostgreSQL by a BRIN index (migration 0009: rows come in time
    # order, and a BRIN index costs the intake's INSERT and the processed-update
    # no B-tree entry); the admin's list is by id, the retries by the pending
    # index below.
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    # The exact bytes that were signed, decoded as UTF-8 (JSON is UTF-8).
    body = models.TextField(_("raw body"))
    # A provider retry of the same POST has the same hash and is not processed
    # twice (unique: the constraint below, which the intake's INSERT … ON
    # CONFLICT names).
    body_sha256 = models.CharField(max_length=64)
    # The intake's INSERT names only the received time, the body and its hash:
    # the database gives the rest the same defaults as Python does.
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=Status.choices,
        default=Status.RECEIVED,
        db_default=Status.RECEIVED,
    )
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, db_default=0)
    error = models.TextField(
        _("processing error"), blank=True, default="", db_default=""
    )
    # Counts and flags of the last processing, e.g. unknown phone_number_ids.
    result = models.JSONField(
        _("processing result"), default=dict, db_default={}, blank=True
    )

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        # The order they were stored in, by the primary key's index.
        ordering = ["-id"]
        # Every POST inserts a row and updates it once processed: only the
        # indexes the intake and the workers need (no pattern-ops copies of the
        # hash and the status, no index of processed rows).
        constraints = [
            models.UniqueConstraint(
                fields=["body_sha256"], name="messaging_delivery_body_once"
            )
        ]
        indexes = [
            # The workers' claim (received, by id) and the beat's retries and
            # the dead letters (failed).
            models.Index(
                fields=["id"],
                name="messaging_delivery_pending",
                condition=models.Q(status__in=["received", "failed"]),
            )
        ]

    def __str__(self) -> str:
        return f"Delivery {self.pk} ({self.get_status_display()})"


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "in", _("Inbound")
        OUTBOUND = "out", _("Outbound")

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")  # inbound
        ACCEPTED = "accepted", _("Accepted")  # outbound, provider took it
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        READ = "read", _("Read")
        FAILED = "failed", _("Failed")

    company = models.ForeignKey(
        Company, on_delete=models.PROTECT, related_name="messages"
    )
    conversation = models.ForeignKey(
        Conversation, on_delete=models.PROTECT, related_name="messages"
    )
    direction = models.CharField(
        _("direction"), max_length=3, choices=Direction.choices
    )
    # The Cloud API message type: text, image, template, reaction, ...
    type = models.CharField(_("type"), max_length=32)
    # Text, or a readable summary of a non-text message ("📍 Location: …").
    body = models.TextField(_("body"), blank=True)
    template = models.ForeignKey(
        MessageTemplate,
        on_delete=models.PROTECT,
        related_name="messages",
        null=True,
        blank=True,
    )
    # The template's category when it was sent; later re-categorisation of the
    # template does not change what this message was (C2-C4).
    template_category = models.CharField(
        _("template category"),
        max_length=20,
        choices=MessageTemplate.Category.choices,
        blank=True,
    )
    template_params = models.JSONField(default=list, blank=True)
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="sent_messages",
        null=True,
        blank=True,
    )
    # The provider's id; unique, so a replayed inbound message is stored once.
    wamid = models.CharField(_("WhatsApp message id"), max_length=255, unique=True)
    # Inbound: the provider's event time (B1). Outbound: when the provider accepted it.
    provider_timestamp = models.DateTimeField(_("timestamp"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices)
    # Derived from status events (C1): delivered_at is the delivered instant, or the
    # read instant when "delivered" never came. Billing reads only this.
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    error_code = models.IntegerField(null=True, blank=True)
    error_title = models.CharField(max_length=300, blank=True)
    # The provider's pricing object from the latest status that carried one.
    pricing = models.JSONField(null=True, blank=True)
    # Inbound click-to-WhatsApp ad referral, kept as received.
    referral = models.JSONField(null=True, blank=True)
    # A client-supplied key: a double submit with the same key sends once.
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    # SHA-256 of the request the key was first used with (rules.send_fingerprint):
    # the same key with another request is refused instead of answered with this.
    idempotency_fingerprint = models.CharField(
        max_length=64, blank=True, default="", db_default=""
    )
    raw = models.JSONField(_("raw message object"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["provider_timestamp", "id"]
        constraints = [
            # Keys are the sender's own (as Stripe scopes them to an account).
            models.UniqueConstraint(
                fields=["sender", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="message_unique_idempotency_key",
            ),
            models.CheckConstraint(
                condition=models.Q(direction="out") | models.Q(template__isnull=True),
                name="message_inbound_has_no_template",
            ),
        ]
        indexes = [
            models.Index(
                fields=["conversation", "direction", "provider_timestamp"],
                name="message_window_idx",
            ),
            models.Index(fields=["conversation", "provider_timestamp"]),
            models.Index(fields=["company", "delivered_at"]),
            # Ad-referred inbound messages (free entry points, F2): few, looked up
            # per conversation and instant for every delivered message billed.
            models.Index(
                fields=["conversation", "provider_timestamp"],
                condition=models.Q(referral__isnull=False),
                name="message_referral_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.type} {self.wamid[:24]}"

    @property
    def is_template(self) -> bool:
        return self.template_id is not None


class MessageStatusEvent(models.Model):
    """One status webhook for one message, as the provider sent it (a fact).

    Unique per (wamid, company, status, timestamp): an exact repeat changes
    nothing, while the same status reported again with another timestamp is kept,
    so the derived delivery instant (the earliest, C1) does not depend on which
    report arrived first. ``message`` is empty while the wamid is unknown and is
    linked when a message of the same company appears.
    """

    wamid = models.CharField(max_length=255)
    # The company of the business number the status was posted for. A status only
    # ever touches that company's messages, whatever wamid it carries. Empty only
    # for events stored before it was recorded whose number could not be found.
    company = models.ForeignKey(
        Company,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    status = models.CharField(max_length=12)
    timestamp = models.DateTimeField(_("provider timestamp"))
    message = models.ForeignKey(
        Message,
        on_delete=models.PROTECT,
        related_name="status_events",
        null=True,
        blank=True,
    )
    delivery = models.ForeignKey(
        WebhookDelivery,
        on_delete=models.PROTECT,
        related_name="status_events",
        null=True,
        blank=True,
    )
    recipient_id = models.CharField(max_length=32, blank=True)
    error_code = models.IntegerField(null=True, blank=True)
    error_title = models.CharField(max_length=300, blank=True)
    pricing = models.JSONField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("message status event")
        verbose_name_plural = _("message status events")
        ordering = ["timestamp", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["wamid", "company", "status", "timestamp"],
                name="statusevent_unique",
            ),
        ]
        indexes = [
            models.Index(
                fields=["wamid"],
                condition=models.Q(message__isnull=True),
                name="statusevent_orphan_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.status} {self.wamid[:24]}"
