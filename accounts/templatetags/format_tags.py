"""Money and time formatting shared by every app's templates: the user's
language, the company's zone. ``billing_tags`` registers these same filters."""

from datetime import datetime

from django import template
from django.utils import timezone

from accounts.money import format_money

register = template.Library()


@register.filter
def money(amount, currency):
    """Format ``amount`` in ``currency`` for the active language: 1.234,50 € / €1,234.50."""
    return format_money(amount, currency)


class ZoneTime(datetime):
    """An aware datetime that template filters such as ``date`` leave in its own
    zone (they convert aware values to the active time zone, UTC here)."""

    convert_to_local_time = False


@register.filter
def in_zone(value, zone):
    """Convert an aware datetime to the company's billing time zone, and keep it
    there through the ``date`` filter that usually follows."""
    if value is None:
        return None
    local = timezone.localtime(value, zone)
    return ZoneTime(
        local.year,
        local.month,
        local.day,
        local.hour,
        local.minute,
        local.second,
        local.microsecond,
        tzinfo=local.tzinfo,
        fold=local.fold,
    )
