"""Money and time formatting for the portal: the user's language, the company's zone.

``money`` and ``in_zone`` are the shared filters of ``accounts.templatetags.format_tags``
(one implementation), registered here too so billing's templates load one library.
"""

from decimal import Decimal

from babel import Locale
from babel.numbers import format_decimal, format_percent, parse_pattern
from django import template

from accounts.money import active_locale
from accounts.templatetags.format_tags import ZoneTime, in_zone, money
from billing.money import RATE_DECIMAL_PLACES

__all__ = ["ZoneTime", "in_zone", "money"]

register = template.Library()
register.filter("money", money)
register.filter("in_zone", in_zone)


@register.filter
def rate(amount, currency):
    """A per-message rate with its four decimals, in the language's currency pattern."""
    if amount is None:
        return "—"
    locale = Locale.parse(active_locale())
    pattern = parse_pattern(locale.currency_formats["standard"].pattern)
    pattern.frac_prec = (RATE_DECIMAL_PLACES, RATE_DECIMAL_PLACES)
    return pattern.apply(
        Decimal(amount), locale, currency=currency, currency_digits=False
    )


@register.filter
def percent(fraction):
    """A tax rate stored as a fraction (0.21), shown as a percentage (21 %)."""
    return format_percent(Decimal(fraction), format="#,##0.##%", locale=active_locale())


@register.filter
def category_label(code):
    """The translated name of a template category code ("utility" → "Utilidad")."""
    from billing.models import ChargeCategory

    try:
        return ChargeCategory(code).label
    except ValueError:
        return code


@register.filter
def number(value):
    if value is None:
        return "—"
    return format_decimal(Decimal(value).normalize(), locale=active_locale())


@register.filter
def line_label(line) -> str:
    """A usage line's name in the reader's language (the stored one is English)."""
    from django.utils.formats import date_format, number_format
    from django.utils.translation import gettext as _

    from billing.models import InvoiceLine

    names = {
        "category": category_label(line.category),
        "market": market_label(line.market),
    }
    if line.category == "service":
        title = _("Free-form messages, %(market)s") % names
    else:
        title = _("%(category)s templates, %(market)s") % names
    tier_from = (line.details or {}).get("tier_from_message")
    if tier_from:
        title += " " + _("(volume tier from message %(n)s of the month)") % {
            "n": number_format(tier_from, force_grouping=True)
        }
    if line.kind == InvoiceLine.Kind.CARRIED_OVER:
        month = date_format(line.original_month, "YEAR_MONTH_FORMAT")
        return _("Carried over from %(month)s: %(line)s") % {
            "month": month,
            "line": title,
        }
    return title


# F7: the customer status badges of the invoice list, page and PDF.
STATUS_BADGES = {
    "draft": "secondary",
    "open": "primary",
    "overdue": "danger",
    "paid": "success",
    "void": "dark",
}


@register.filter
def status_badge(status: str):
    """A customer status (``rules.CustomerStatus``) as a badge in the reader's
    language."""
    from django.utils.html import format_html

    from billing.selectors.documents import CUSTOMER_STATUS_LABELS

    return format_html(
        '<span class="badge text-bg-{} status-{}" data-status="{}">{}</span>',
        STATUS_BADGES[status],
        status,
        status,
        CUSTOMER_STATUS_LABELS[status],
    )


@register.filter
def market_label(market) -> str:
    """A market's name in the reader's language: the stored names are the
    provider's English ones, translated in the catalog (``billing/markets.py``
    lists them); a market added later without a translation keeps its name."""
    from django.utils.translation import gettext as _

    if market is None:
        return ""
    return _(getattr(market, "name", market))


@register.filter
def policy_name(policy) -> str:
    """A charge policy's name in the reader's language (the seeded ones are
    translated; those Customer Success create keep what they typed)."""
    from django.utils.translation import gettext as _

    return _(policy.name) if policy is not None else _("Standard rules")


@register.filter
def policy_description(policy) -> str:
    from django.utils.translation import gettext as _

    return _(policy.description) if policy is not None and policy.description else ""


@register.filter
def document_line_label(line) -> str:
    """An invoice line's name in the reader's language, whatever its kind (a
    credit note's lines name the invoice lines they credit)."""
    from django.utils.translation import gettext as _

    from billing.models import InvoiceLine

    if line.kind == InvoiceLine.Kind.LICENSE:
        return _("WhatsApp licenses")
    if line.kind == InvoiceLine.Kind.TAX:
        return _("Tax")
    return line_label(line)
