"""JSON API serializers. Reads only; sending is validated by ``message_send``."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import User

from . import rules
from .forms import PARAM_MAX_LENGTH, TEXT_MAX_LENGTH
from .models import BusinessNumber, Contact, Conversation, Message, MessageTemplate


class ContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "wa_id", "profile_name", "country"]


class BusinessNumberSerializer(serializers.ModelSerializer):
    class Meta:
        model = BusinessNumber
        fields = ["id", "display_phone_number", "label"]


class WindowSerializer(serializers.Serializer):
    """The 24-hour customer service window at the time of the request."""

    # B1. ``window_open`` is annotated by filters.conversations_with_window.
    is_open = serializers.BooleanField(
        source="window_open",
        help_text=_("Whether free-form messages may be sent now (B3)."),
    )
    last_inbound_at = serializers.DateTimeField(
        allow_null=True,
        help_text=_("Provider timestamp of the contact's latest message."),
    )
    closes_at = serializers.SerializerMethodField(
        help_text=_("When the window closes (or closed); null if never opened."),
    )

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_closes_at(self, conversation: Conversation) -> str | None:
        closes_at = rules.window_closes_at(last_inbound_at=conversation.last_inbound_at)
        if closes_at is None:
            return None
        return serializers.DateTimeField().to_representation(closes_at)


class ConversationSerializer(serializers.ModelSerializer):
    contact = ContactSerializer(read_only=True)
    business_number = BusinessNumberSerializer(read_only=True)
    window = WindowSerializer(source="*", read_only=True)

    class Meta:
        model = Conversation
        fields = ["id", "contact", "business_number", "last_message_at", "window"]


class TemplateSummarySerializer(serializers.ModelSerializer):
    # No category here: a message's category is its own template_category, fixed
    # when it was sent (C2-C4), whatever the template's category is today.
    class Meta:
        model = MessageTemplate
        fields = ["id", "name", "language"]


class SenderSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="get_full_name", read_only=True)

    class Meta:
        model = User
        fields = ["id", "name"]


class MessageSerializer(serializers.ModelSerializer):
    template = TemplateSummarySerializer(read_only=True, allow_null=True)
    sender = SenderSerializer(read_only=True, allow_null=True)
    timestamp = serializers.DateTimeField(
        source="provider_timestamp",
        read_only=True,
        help_text=_(
            "Inbound: the provider's event time. Outbound: when the provider "
            "accepted the message."
        ),
    )
    template_category = serializers.SerializerMethodField(
        help_text=_(
            "The template's category when the message was sent; null for "
            "messages that are not templates."
        )
    )
    template_params = serializers.ListField(
        child=serializers.CharField(), read_only=True
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "conversation",
            "direction",
            "type",
            "body",
            "template",
            "template_category",
            "template_params",
            "sender",
            "wamid",
            "timestamp",
            "status",
            "sent_at",
            "delivered_at",
            "read_at",
            "failed_at",
            "error_code",
            "error_title",
        ]
        read_only_fields = fields

    @extend_schema_field(
        serializers.ChoiceField(
            choices=MessageTemplate.Category.choices, allow_null=True
        )
    )
    def get_template_category(self, message: Message) -> str | None:
        return message.template_category or None


class MessageSendSerializer(serializers.Serializer):
    """What to send: `text`, or `template` with its placeholder `params`."""

    conversation = serializers.IntegerField(
        min_value=1, help_text=_("Id of one of your company's conversations.")
    )
    text = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=TEXT_MAX_LENGTH,
        help_text=_("Free-form text; needs an open customer service window."),
    )
    template = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text=_("Id of an approved template of your company."),
    )
    params = serializers.ListField(
        child=serializers.CharField(max_length=PARAM_MAX_LENGTH),
        required=False,
        default=list,
        help_text=_("Values for the template's {{1}}, {{2}}, ... in order."),
    )
    idempotency_key = serializers.CharField(
        required=False,
        max_length=100,
        help_text=_(
            "Sending again with the same key returns the first message instead "
            "of sending twice. May also be given as the Idempotency-Key header."
        ),
    )

    def validate(self, attrs):
        if attrs.get("params") and attrs.get("template") is None:
            raise serializers.ValidationError(
                {"params": _("Parameters go with a template.")}
            )
        return attrs


class ConversationStartSerializer(serializers.Serializer):
    """Start a conversation: an approved template from one of your numbers to a
    phone number, which may never have written to you."""

    from_number = serializers.IntegerField(
        min_value=1,
        help_text=_(
            "Id of one of your company's business numbers (a conversation's "
            "business_number.id)."
        ),
    )
    to = serializers.CharField(
        max_length=40,
        help_text=_(
            "The contact's phone number, international format preferred "
            "(+34 612 34 56 78); a national number is read in the business "
            "number's country. Normalised to E.164."
        ),
    )
    template = serializers.IntegerField(
        min_value=1, help_text=_("Id of an approved template of your company.")
    )
    params = serializers.ListField(
        child=serializers.CharField(max_length=PARAM_MAX_LENGTH),
        required=False,
        default=list,
        help_text=_("Values for the template's {{1}}, {{2}}, ... in order."),
    )
    name = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text=_("The contact's name, kept when the contact is new."),
    )
    opt_in = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_(
            "Record now, in your name, that the contact opted in to messages "
            "from this number (F8)."
        ),
    )
    idempotency_key = serializers.CharField(
        required=False,
        max_length=100,
        help_text=_(
            "Sending again with the same key returns the first message instead "
            "of sending twice. May also be given as the Idempotency-Key header."
        ),
    )


class ConversationStartedSerializer(serializers.Serializer):
    conversation = ConversationSerializer()
    message = MessageSerializer()
    contact_created = serializers.BooleanField(
        help_text=_("Whether the contact was new to your company.")
    )
    conversation_created = serializers.BooleanField(
        help_text=_("Whether the conversation with this number was new.")
    )


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text=_("A stable code, e.g. window_closed."))
    message = serializers.CharField(help_text=_("What went wrong, for people."))


class ErrorSerializer(serializers.Serializer):
    """A refused send: nothing was sent or recorded."""

    error = ErrorDetailSerializer()
