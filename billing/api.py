"""The JSON API of billing: invoices, the messages behind them (D4), credit notes
and the month so far, for integrators. Reads only; company admins only (A4).

Every object is looked up through the company-scoped selectors, so another
company's ids answer 404; agents get 403 like on the portal's billing pages.
"""

from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    OpenApiTypes,
    extend_schema,
)
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsCompanyAdmin
from messaging.api import AUTHENTICATION

from . import selectors
from .filters import InvoiceApiFilter
from .models import Charge, CreditNote, Invoice
from .serializers import (
    ChargeSerializer,
    CreditNoteSerializer,
    InvoiceDetailSerializer,
    InvoiceSerializer,
    UsageSerializer,
)

UNAUTHENTICATED = OpenApiResponse(description="Not authenticated.")
NOT_ADMIN = OpenApiResponse(description="Billing is for company admins only.")
NOT_FOUND = OpenApiResponse(description="Not found, or no such page.")


class BillingApiView:
    authentication_classes = AUTHENTICATION
    permission_classes = [IsCompanyAdmin]

    def invoice(self) -> Invoice:
        return selectors.invoice_document_get(
            company=self.request.user.company, pk=self.kwargs["invoice_id"]
        )


INVOICE_ID = OpenApiParameter(
    "invoice_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The invoice."
)


@extend_schema(
    tags=["billing"],
    summary="List invoices",
    description="Your company's invoices, newest month first.",
    parameters=[
        OpenApiParameter(
            "month",
            OpenApiTypes.STR,
            OpenApiParameter.QUERY,
            description="The billing month, YYYY-MM.",
            pattern=r"^\d{4}-\d{2}$",
        ),
        OpenApiParameter(
            "customer_status",
            OpenApiTypes.STR,
            OpenApiParameter.QUERY,
            description="draft, open, overdue (past its due date, unpaid), paid or void.",
            enum=["draft", "open", "overdue", "paid", "void"],
        ),
    ],
    responses={
        200: InvoiceSerializer(many=True),
        400: OpenApiResponse(description="A filter value is not valid."),
        401: UNAUTHENTICATED,
        403: NOT_ADMIN,
        404: OpenApiResponse(description="No such page."),
    },
)
class InvoiceListView(BillingApiView, generics.ListAPIView):
    serializer_class = InvoiceSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = InvoiceApiFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Invoice.objects.none()
        return selectors.invoice_list_documents(company=self.request.user.company)

    def get_serializer_context(self):
        # Drafts show the current issuer: read it once for the page.
        return {
            **super().get_serializer_context(),
            "issuer": selectors.issuer_details(),
        }


@extend_schema(
    tags=["billing"],
    summary="Get an invoice",
    description="One invoice of your company with its lines.",
    parameters=[INVOICE_ID],
    responses={
        200: InvoiceDetailSerializer,
        401: UNAUTHENTICATED,
        403: NOT_ADMIN,
        404: OpenApiResponse(description="Not found."),
    },
)
class InvoiceDetailView(BillingApiView, APIView):
    def get(self, request, invoice_id):
        invoice = self.invoice()
        context = {
            "request": request,
            "lines": selectors.invoice_lines(invoice=invoice),
            "issuer": selectors.issuer_details(),
        }
        return Response(InvoiceDetailSerializer(invoice, context=context).data)


class ChargeListView(BillingApiView, generics.ListAPIView):
    serializer_class = ChargeSerializer

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["zone"] = self.request.user.company.zone
        return context


@extend_schema(
    tags=["billing"],
    summary="List the messages behind a usage line",
    description=(
        "D4: every charged message behind one usage line (or usage carried over) "
        "of the invoice, oldest first; their count is the line's quantity."
    ),
    parameters=[
        INVOICE_ID,
        OpenApiParameter(
            "line_id",
            OpenApiTypes.INT,
            OpenApiParameter.PATH,
            description="A usage line of the invoice.",
        ),
    ],
    responses={
        200: ChargeSerializer(many=True),
        401: UNAUTHENTICATED,
        403: NOT_ADMIN,
        404: OpenApiResponse(description="No such invoice, usage line of it, or page."),
    },
)
class InvoiceLineChargeListView(ChargeListView):
    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Charge.objects.none()
        line = selectors.line_get(invoice=self.invoice(), pk=self.kwargs["line_id"])
        return selectors.line_charges(line=line)


@extend_schema(
    tags=["billing"],
    summary="List the free messages of an invoice and why",
    description=(
        "D4: every template delivered in the invoice's month that was free, "
        "with the reason in words (times in your company's time zone)."
    ),
    parameters=[INVOICE_ID],
    responses={
        200: ChargeSerializer(many=True),
        401: UNAUTHENTICATED,
        403: NOT_ADMIN,
        404: NOT_FOUND,
    },
)
class InvoiceFreeMessageListView(ChargeListView):
    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Charge.objects.none()
        return selectors.free_charges(invoice=self.invoice())


@extend_schema(
    tags=["billing"],
    summary="List credit notes",
    description="Your company's credit notes (D2), newest first.",
    responses={
        200: CreditNoteSerializer(many=True),
        401: UNAUTHENTICATED,
        403: NOT_ADMIN,
        404: OpenApiResponse(description="No such page."),
    },
)
class CreditNoteListView(BillingApiView, generics.ListAPIView):
    serializer_class = CreditNoteSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CreditNote.objects.none()
        return selectors.credit_note_list(company=self.request.user.company)


@extend_schema(
    tags=["billing"],
    summary="Get a credit note",
    description="One credit note of your company with its lines.",
    parameters=[
        OpenApiParameter(
            "credit_note_id",
            OpenApiTypes.INT,
            OpenApiParameter.PATH,
            description="The credit note.",
        )
    ],
    responses={
        200: CreditNoteSerializer,
        401: UNAUTHENTICATED,
        403: NOT_ADMIN,
        404: OpenApiResponse(description="Not found."),
    },
)
class CreditNoteDetailView(BillingApiView, APIView):
    def get(self, request, credit_note_id):
        note = selectors.credit_note_get(
            company=request.user.company, pk=credit_note_id
        )
        return Response(CreditNoteSerializer(note, context={"request": request}).data)


@extend_schema(
    tags=["billing"],
    summary="Get the month so far",
    description=(
        "This month's usage and licenses so far, as of `as_of` (the last sync, "
        "a few seconds behind the webhooks), with the lines and totals the "
        "invoice computed from the same charges has."
    ),
    responses={200: UsageSerializer, 401: UNAUTHENTICATED, 403: NOT_ADMIN},
)
class UsageView(BillingApiView, APIView):
    def get(self, request):
        company = request.user.company
        now = timezone.now()
        preview = selectors.month_so_far(company=company, at=now)
        context = {"request": request, "currency": preview.invoice.currency}
        return Response(
            UsageSerializer(
                {"preview": preview, "as_of": preview.synced_at or now},
                context=context,
            ).data
        )
