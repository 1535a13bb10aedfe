"""The JSON API: read the company's conversations and send messages.

Every object is looked up through the company-scoped selectors, so another
company's ids answer 404. Sending goes through ``services.message_send``, the
one place that decides whether a message may be sent; its refusals become
``{"error": {"code", "message"}}`` with the status in ``error_status``.
"""

from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    OpenApiTypes,
    extend_schema,
)
from rest_framework import generics, serializers, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.exceptions import DomainError
from licensing.exceptions import SenderNotLicensed

from . import selectors
from .exceptions import (
    InvalidMessage,
    OptInMissing,
    TemplateNotSendable,
    TransportError,
    WindowClosed,
)
from .filters import ConversationFilter, conversations_with_window
from .models import BusinessNumber, Conversation, Message, MessageTemplate
from .serializers import (
    ConversationSerializer,
    ConversationStartedSerializer,
    ConversationStartSerializer,
    ErrorSerializer,
    MessageSendSerializer,
    MessageSerializer,
)
from .services import conversation_start, message_send

IDEMPOTENCY_HEADER = "Idempotency-Key"
# The header both sending endpoints accept, as the schema documents it.
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Same as the body's idempotency_key.",
)

# Token first: an anonymous request then gets 401 with a WWW-Authenticate header.
AUTHENTICATION = [TokenAuthentication, SessionAuthentication]

_ERROR_STATUS = [
    (SenderNotLicensed, status.HTTP_403_FORBIDDEN),
    (WindowClosed, status.HTTP_409_CONFLICT),
    (OptInMissing, status.HTTP_409_CONFLICT),
    (TemplateNotSendable, status.HTTP_422_UNPROCESSABLE_ENTITY),
    (InvalidMessage, status.HTTP_422_UNPROCESSABLE_ENTITY),
]


def error_status(exc: DomainError) -> int:
    """Return the HTTP status of a refused send."""
    if isinstance(exc, TransportError):
        # Transient provider trouble (rate limits, timeouts) may pass: 503.
        if exc.transient:
            return status.HTTP_503_SERVICE_UNAVAILABLE
        return status.HTTP_502_BAD_GATEWAY
    for cls, code in _ERROR_STATUS:
        if isinstance(exc, cls):
            return code
    return status.HTTP_422_UNPROCESSABLE_ENTITY


def error_response(exc: DomainError) -> Response:
    return Response(
        {"error": {"code": exc.code, "message": exc.message}},
        status=error_status(exc),
    )


def idempotency_key_of(request, data) -> str | None:
    """The request's idempotency key: the body's or the header's (the same rules
    for every sending endpoint)."""
    in_body = data.get("idempotency_key") or None
    in_header = request.headers.get(IDEMPOTENCY_HEADER) or None
    if in_body and in_header and in_body != in_header:
        raise serializers.ValidationError(
            {"idempotency_key": _("Differs from the Idempotency-Key header.")}
        )
    if in_header is not None:
        # The header gets the same validation as the body field (length,
        # no NUL characters, which PostgreSQL cannot store).
        try:
            in_header = serializers.CharField(max_length=100).run_validation(in_header)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"idempotency_key": exc.detail}) from exc
    key = in_body or in_header
    if key is not None and len(key) > 100:
        raise serializers.ValidationError(
            {"idempotency_key": _("At most 100 characters.")}
        )
    return key


class CompanyConversationMixin:
    """Conversations of the user's company with their window state right now."""

    authentication_classes = AUTHENTICATION

    def conversations(self):
        return conversations_with_window(
            selectors.conversation_list(user=self.request.user), at=timezone.now()
        )


class ConversationListView(CompanyConversationMixin, generics.ListAPIView):
    serializer_class = ConversationSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ConversationFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Conversation.objects.none()
        return self.conversations()

    @extend_schema(
        tags=["conversations"],
        summary="List conversations",
        description=(
            "Conversations of your company, newest first, with the state of their "
            "24-hour customer service window."
        ),
        responses={
            200: ConversationSerializer(many=True),
            400: OpenApiResponse(description="A filter value is not valid."),
            401: OpenApiResponse(description="Not authenticated."),
            404: OpenApiResponse(description="No such page."),
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["conversations"],
        summary="Start a conversation",
        description=(
            "Send an approved `template` with its `params` from one of your "
            "business numbers (`from_number`) to a phone number (`to`, normalised "
            "to E.164), whether or not the contact ever wrote to you. The contact "
            "and the conversation are created, or reused when they exist (never "
            "twice). The send obeys the same rules as `POST /api/messages/`: only "
            "users holding a WhatsApp license send; outside the customer service "
            "window the contact must have opted in to the number when your "
            "company requires it (`opt_in_missing`; `opt_in: true` records the "
            "opt-in in your name); paused or disabled templates are refused "
            "(`template_paused`, `template_disabled`). Idempotency keys follow "
            "the rules of `POST /api/messages/`. A refused send creates nothing."
        ),
        request=ConversationStartSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            201: ConversationStartedSerializer,
            400: OpenApiResponse(description="The body is not valid."),
            401: OpenApiResponse(description="No or invalid credentials."),
            403: OpenApiResponse(
                ErrorSerializer,
                description="The sender holds no WhatsApp license.",
            ),
            404: OpenApiResponse(description="No such business number or template."),
            409: OpenApiResponse(
                ErrorSerializer,
                description=(
                    "The contact has not opted in to this number (`opt_in_missing`)."
                ),
            ),
            422: OpenApiResponse(
                ErrorSerializer,
                description=(
                    "The phone number is invalid or unsupported "
                    "(`invalid_phone_number`), the template cannot be sent as given "
                    "(`template_not_sendable`, `template_paused`, "
                    "`template_disabled`), or the idempotency key was used for "
                    "another request."
                ),
            ),
            502: OpenApiResponse(
                ErrorSerializer, description="WhatsApp refused the message."
            ),
            503: OpenApiResponse(
                ErrorSerializer,
                description="WhatsApp is busy or unreachable; try again later.",
            ),
        },
    )
    def post(self, request, *args, **kwargs):
        body = ConversationStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        key = idempotency_key_of(request, data)
        number = get_object_or_404(
            BusinessNumber.objects.filter(company_id=request.user.company_id),
            pk=data["from_number"],
        )
        template = get_object_or_404(
            MessageTemplate.objects.filter(company_id=number.company_id),
            pk=data["template"],
        )
        try:
            started = conversation_start(
                sender=request.user,
                business_number=number,
                to=data["to"],
                template=template,
                params=data["params"],
                idempotency_key=key,
                profile_name=data.get("name", ""),
                opt_in_confirmed=data["opt_in"],
            )
        except DomainError as exc:
            return error_response(exc)
        conversation = self.conversations().get(pk=started.conversation.pk)
        message = selectors.message_list(conversation=conversation).get(
            pk=started.message.pk
        )
        return Response(
            ConversationStartedSerializer(
                {
                    "conversation": conversation,
                    "message": message,
                    "contact_created": started.contact_created,
                    "conversation_created": started.conversation_created,
                }
            ).data,
            status=status.HTTP_201_CREATED,
        )


@extend_schema(
    tags=["conversations"],
    summary="Get a conversation",
    description=(
        "One conversation of your company, with the state of its 24-hour "
        "customer service window."
    ),
    responses={
        200: ConversationSerializer,
        401: OpenApiResponse(description="Not authenticated."),
        404: OpenApiResponse(description="Not found."),
    },
)
class ConversationDetailView(CompanyConversationMixin, generics.RetrieveAPIView):
    serializer_class = ConversationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Conversation.objects.none()
        return self.conversations()


@extend_schema(
    tags=["conversations"],
    summary="List a conversation's messages",
    description="Messages of one conversation, oldest first.",
    parameters=[
        OpenApiParameter(
            "conversation_id",
            OpenApiTypes.INT,
            OpenApiParameter.PATH,
            description="The conversation's id.",
        )
    ],
    responses={
        200: MessageSerializer(many=True),
        401: OpenApiResponse(description="Not authenticated."),
        404: OpenApiResponse(description="Not found, or no such page."),
    },
)
class ConversationMessageListView(generics.ListAPIView):
    authentication_classes = AUTHENTICATION
    serializer_class = MessageSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Message.objects.none()
        conversation = get_object_or_404(
            selectors.conversation_list(user=self.request.user),
            pk=self.kwargs["conversation_id"],
        )
        return selectors.message_list(conversation=conversation)


class MessageCreateView(APIView):
    authentication_classes = AUTHENTICATION

    @extend_schema(
        tags=["messages"],
        summary="Send a message",
        description=(
            "Send free-form `text` (needs an open customer service window) or an "
            "approved `template` with its `params`. Only users holding a WhatsApp "
            "license may send. With an idempotency key (body or `Idempotency-Key` "
            "header) a repeated request returns the first message and sends nothing. "
            "Keys are the sending user's own; the same key with a different request "
            "is refused with 422 `idempotency_key_reused`, and the license is checked "
            "before a first answer is replayed."
        ),
        request=MessageSendSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            201: MessageSerializer,
            400: OpenApiResponse(description="The body is not valid."),
            401: OpenApiResponse(description="No or invalid credentials."),
            403: OpenApiResponse(
                ErrorSerializer,
                description="The sender holds no WhatsApp license.",
            ),
            404: OpenApiResponse(description="No such conversation or template."),
            409: OpenApiResponse(
                ErrorSerializer,
                description="The customer service window is closed: use a template.",
            ),
            422: OpenApiResponse(
                ErrorSerializer,
                description=(
                    "The template or the message cannot be sent as given, or the "
                    "idempotency key was used for another request."
                ),
            ),
            502: OpenApiResponse(
                ErrorSerializer, description="WhatsApp refused the message."
            ),
            503: OpenApiResponse(
                ErrorSerializer,
                description="WhatsApp is busy or unreachable; try again later.",
            ),
        },
    )
    def post(self, request):
        body = MessageSendSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        key = idempotency_key_of(request, data)
        conversation = get_object_or_404(
            selectors.conversation_list(user=request.user), pk=data["conversation"]
        )
        template = None
        if data.get("template") is not None:
            template = get_object_or_404(
                MessageTemplate.objects.filter(company_id=conversation.company_id),
                pk=data["template"],
            )
        try:
            message = message_send(
                sender=request.user,
                conversation=conversation,
                text=data.get("text", ""),
                template=template,
                params=data["params"],
                idempotency_key=key,
            )
        except DomainError as exc:
            return error_response(exc)
        # Re-read: statuses may have arrived while the send committed (sandbox).
        message = selectors.message_list(conversation=conversation).get(pk=message.pk)
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


def api_docs(request):
    """List the API's endpoints from the generated schema (no CDN assets needed)."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    endpoints = [
        {
            "method": method.upper(),
            "path": path,
            "summary": operation.get("summary", ""),
            "description": operation.get("description", ""),
        }
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    ]
    return render(
        request,
        "messaging/api_docs.html",
        {"endpoints": endpoints, "info": schema["info"]},
    )
