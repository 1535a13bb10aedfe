"""Contacts and "New conversation" in the portal.

Every company user reads the contacts (A4); licensed users start conversations
(``services.conversation_start`` decides, A4, B3, F8, F9); company admins import
contacts; admins and licensed users record an opt-in by hand (F8).
"""

from babel import Locale, UnknownLocaleError
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import (
    company_admin_required,
    company_user_required,
    private_no_store,
)
from accounts.exceptions import DomainError
from licensing.selectors import user_holds_license

from . import rules, selectors
from .contact_forms import ContactImportForm, ContactOptInForm, ConversationStartForm
from .exceptions import ContactImportInvalid
from .forms import param_field_name
from .models import Contact, ContactOptIn
from .services import contact_opt_in_record, contacts_import, conversation_start

CONTACTS_PAGE_SIZE = 50


def country_name(code: str) -> str:
    """The country's name in the viewer's language ("ES" -> "Spain", "España")."""
    if not code:
        return ""
    try:
        locale = Locale.parse(translation.get_language() or "en", sep="-")
    except (UnknownLocaleError, ValueError):
        locale = Locale("en")
    return locale.territories.get(code, code)


def contact_list_context(request) -> dict:
    """What the contacts page shows (``portal.views.contact_list`` adds each
    contact's market, a billing fact): name, number, country, last inbound,
    window, opt-ins."""
    user = request.user
    at = timezone.now()
    query = request.GET.get("q", "")[:100]
    paginator = Paginator(
        selectors.contact_list(company_id=user.company_id, at=at, query=query),
        CONTACTS_PAGE_SIZE,
    )
    page = paginator.get_page(request.GET.get("page"))
    holds_license = user_holds_license(user=user, at=at)
    may_opt_in = rules.may_record_opt_in(
        is_company_admin=user.is_company_admin, holds_license=holds_license
    )
    numbers = list(selectors.company_numbers(company_id=user.company_id))
    rows = [
        {
            "contact": contact,
            "country": country_name(contact.country),
            "opt_ins": list(contact.opt_ins.all()),
        }
        for contact in page.object_list
    ]
    for row in rows:
        opted = {o.business_number_id for o in row["opt_ins"]}
        row["numbers_without_opt_in"] = [n for n in numbers if n.pk not in opted]
    return {
        "company": user.company,
        "at": at,
        "page": page,
        "rows": rows,
        "query": query,
        "may_opt_in": may_opt_in,
        "may_start": holds_license,
        "may_import": user.is_company_admin,
    }


@require_POST
@company_user_required
def contact_opt_in(request, pk: int):
    """F8: record by hand that a contact opted in to one of the company's numbers."""
    user = request.user
    try:
        contact = Contact.objects.get(company_id=user.company_id, pk=pk)
    except Contact.DoesNotExist as exc:
        raise Http404(_("No such contact.")) from exc
    at = timezone.now()
    if not rules.may_record_opt_in(
        is_company_admin=user.is_company_admin,
        holds_license=user_holds_license(user=user, at=at),
    ):
        messages.error(
            request,
            _("Only your company's admins and licensed users record opt-ins."),
        )
        return redirect("contacts")
    form = ContactOptInForm(
        request.POST, numbers=selectors.company_numbers(company_id=user.company_id)
    )
    if not form.is_valid():
        messages.error(request, _("Choose one of your business numbers."))
        return redirect("contacts")
    number = form.cleaned_data["business_number"]
    contact_opt_in_record(
        contact=contact,
        business_number=number,
        source=ContactOptIn.Source.MANUAL,
        at=at,
        recorded_by=user,
    )
    messages.success(
        request,
        _("Opt-in of %(contact)s to %(number)s recorded.")
        % {"contact": contact, "number": number},
    )
    return redirect("contacts")


@require_http_methods(["GET", "POST"])
@private_no_store
@company_admin_required
def contact_import(request):
    """Company admins: import contacts (and opt-ins) from a CSV file, all or nothing."""
    errors: list[tuple[int, str]] = []
    if request.method == "POST":
        form = ContactImportForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                result = contacts_import(
                    company=request.user.company,
                    text=form.cleaned_data["file"],
                    actor=request.user,
                )
            except ContactImportInvalid as exc:
                errors = exc.errors
            else:
                messages.success(
                    request,
                    _(
                        "Imported %(contacts)d contact(s), %(created)d new, and "
                        "%(opt_ins)d opt-in(s)."
                    )
                    % result,
                )
                return redirect("contacts")
    else:
        form = ContactImportForm()
    return render(
        request,
        "messaging/contact_import.html",
        {
            "form": form,
            "errors": errors,
            "numbers": selectors.company_numbers(company_id=request.user.company_id),
        },
        status=422 if errors else 200,
    )


def _start_templates(company_id: int) -> list[dict]:
    return [
        {
            "template": template,
            "params": [
                (number, param_field_name(template, number))
                for number in range(1, template.placeholder_count + 1)
            ],
        }
        for template in selectors.sendable_templates(company_id=company_id)
    ]


@require_http_methods(["GET", "POST"])
@company_user_required
def conversation_new(request):
    """Start a conversation: a business number, a phone number, an approved
    template and its values; the send is ``conversation_start``'s."""
    user = request.user
    at = timezone.now()
    numbers = selectors.company_numbers(company_id=user.company_id)
    templates = selectors.sendable_templates(company_id=user.company_id)
    can_send = user_holds_license(user=user, at=at)
    refusal = ""
    initial = {"to": request.GET.get("to", "")[:40]}
    if request.method == "POST" and can_send:
        form = ConversationStartForm(request.POST, numbers=numbers, templates=templates)
        if form.is_valid():
            data = form.cleaned_data
            try:
                started = conversation_start(
                    sender=user,
                    business_number=data["business_number"],
                    to=data["to"],
                    template=data["template"],
                    params=data["params"],
                    idempotency_key=str(data["idempotency_key"]),
                    profile_name=data["name"],
                    opt_in_confirmed=data["opt_in"],
                )
            except DomainError as exc:
                refusal = exc.message
            else:
                messages.success(request, _("Template sent."))
                return redirect(reverse("conversation", args=[started.conversation.pk]))
    else:
        form = ConversationStartForm(
            numbers=numbers, templates=templates, initial=initial
        )
    chosen = str(form["template"].value() or "")
    return render(
        request,
        "messaging/conversation_new.html",
        {
            "company": user.company,
            "form": form,
            "can_send": can_send,
            "refusal": refusal,
            "templates": _start_templates(user.company_id),
            "chosen_template": chosen,
            "param_values": {
                k: v for k, v in request.POST.items() if k.startswith("param-")
            },
            "has_numbers": numbers.exists(),
        },
        status=200,
    )
