from contextlib import suppress

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.i18n import set_language

from accounts.decorators import company_user_required, private_no_store
from accounts.services import user_language_set
from billing import rules as billing_rules
from billing import selectors as billing_selectors
from billing.services import send_cost_preview
from billing.templatetags.billing_tags import category_label, market_label, rate
from licensing.selectors import license_summary, user_holds_license
from messaging import selectors as messaging_selectors
from messaging.contact_views import contact_list_context
from messaging.models import Conversation
from messaging.selectors import template_costlier_changes

# F9: how far back the home page lists templates moved to a dearer category.
TEMPLATE_NOTICE_DAYS = 90


@login_required
def home(request):
    """Landing page of a company user: their company, license and where to go next."""
    user = request.user
    if user.company_id is None:
        # Customer Success staff work in the admin site.
        return redirect("admin:index")
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    context = {
        "company": user.company,
        "holds_license": user_holds_license(user=user, at=now),
        "summary": license_summary(company=user.company, at=now),
        "template_notices": (
            list(
                template_costlier_changes(
                    company_id=user.company_id,
                    since=now - timedelta(days=TEMPLATE_NOTICE_DAYS),
                )[:10]
            )
            if user.is_company_admin
            else []
        ),
    }
    return render(request, "accounts/home.html", context)


@require_GET
@company_user_required
def conversation_cost(request, pk: int):
    """The composer's cost preview (htmx fragment): what sending the chosen
    template (``?template=<id>``) or a free-form text (``?kind=text``) in this
    conversation will cost if delivered now, by billing's own rules
    (``billing.services.send_cost_preview``). Reads only: the tier position
    is counted from the month so far's charges, nothing is written or locked."""
    try:
        conversation = messaging_selectors.conversation_get(user=request.user, pk=pk)
    except Conversation.DoesNotExist as exc:
        raise Http404(_("No such conversation.")) from exc
    template = None
    if request.GET.get("kind") != "text":
        raw = request.GET.get("template", "")
        if not raw:
            return HttpResponse("")
        template = (
            messaging_selectors.sendable_templates(company_id=conversation.company_id)
            .filter(pk=raw if raw.isdigit() else None)
            .first()
        )
        if template is None:
            return render(
                request,
                "portal/_cost_preview.html",
                {"error": _("Choose an approved template of your company.")},
            )
    now = timezone.now()
    preview = send_cost_preview(conversation=conversation, template=template, at=now)
    return render(
        request,
        "portal/_cost_preview.html",
        {
            "preview": preview,
            "text": cost_preview_text(preview, zone=conversation.company.zone),
            "template": template,
        },
    )


def cost_preview_text(preview, *, zone) -> str:
    """The preview in words, e.g. "Marketing template to Spain: €0.0509 on delivery"."""
    cost = preview.cost
    until = ""
    if preview.window_closes_at:
        closes = timezone.localtime(preview.window_closes_at, zone)
        today = timezone.localtime(timezone.now(), zone).date()
        # The time alone today; with the day when it closes on another one.
        until = date_format(closes, "H:i" if closes.date() == today else "j M, H:i")
    kind = (
        _("Free-form message")
        if cost.category == billing_rules.SERVICE
        else _("%(category)s template") % {"category": category_label(cost.category)}
    )
    reason = billing_rules.Reason
    if not cost.billable:
        if cost.reason in (reason.ENTRY_POINT, reason.PROVIDER_ENTRY_POINT):
            return _("Free entry point window: free")
        if cost.reason in (reason.UTILITY_IN_WINDOW, reason.SERVICE_FREE) and until:
            return _("%(kind)s: free, the window is open until %(time)s") % {
                "kind": kind,
                "time": until,
            }
        if cost.reason == reason.SERVICE_FREE:
            return _("%(kind)s: free") % {"kind": kind}
        return _("%(kind)s: free under your charge policy") % {"kind": kind}
    if cost.amount is None:
        return _(
            "%(kind)s to %(market)s: charged on delivery; its rate is not set yet"
        ) % {"kind": kind, "market": preview.market}
    text = _("%(kind)s to %(market)s: %(amount)s on delivery") % {
        "kind": kind,
        "market": preview.market,
        "amount": rate(cost.amount, preview.currency),
    }
    if cost.tier is not None:
        text += " " + _("(volume tier from message %(start)s of the month)") % {
            "start": cost.tier.from_message
        }
    return text


@require_POST
def language_set(request):
    """The top bar's language switch: Django's ``set_language`` (the cookie and
    the redirect), and for a signed-in user their language from now on, on every
    device and in the emails they get (``User.language``)."""
    response = set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and response.status_code in (302, 204):
        # Not a language of the portal: set_language ignored it too.
        with suppress(ValueError):
            user_language_set(user=request.user, language=language)
    return response


@require_GET
@private_no_store
@company_user_required
def contact_list(request):
    """The company's contacts (``messaging.contact_views.contact_list_context``)
    with the market each number is priced in (C6), in the viewer's language."""
    context = contact_list_context(request)
    markets = billing_selectors.markets_of_numbers(
        wa_ids=[row["contact"].wa_id for row in context["rows"]], at=context["at"]
    )
    for row in context["rows"]:
        row["market"] = market_label(markets.get(row["contact"].wa_id))
    return render(request, "messaging/contacts.html", context)
