"""Templates follow the provider (F9): record the template webhooks' status and
category changes as TemplateEvent facts and derive each template's status and
category from them, whatever order they arrive in.

The status is the one of the latest status event (by the provider's time) that
sets one; the category the ``new_category`` of the latest completed category
change. A change to a dearer category (``rules.category_costs_more``) is kept
with ``costs_more`` for Customer Success (admin) and the company's admins
(portal home). Announced changes (``correct_category``) change nothing yet.
"""

from django.db import transaction

from .. import rules
from ..locks import template_lock
from ..models import BusinessNumber, MessageTemplate, TemplateEvent, WebhookDelivery
from ..template_webhooks import STATUS_FIELD, TemplateUpdate


def _category(provider_value: str) -> str:
    """Our category of the provider's, or its own value (lowercase) when unknown."""
    return rules.template_category_of(provider_value) or provider_value.lower()[:20]


def _templates_of(update: TemplateUpdate) -> list[MessageTemplate]:
    """The templates an update names: of the companies whose numbers are in its
    WhatsApp Business Account, by the provider's id, else by name and language."""
    companies = BusinessNumber.objects.filter(waba_id=update.waba_id).values(
        "company_id"
    )
    candidates = MessageTemplate.objects.filter(company_id__in=companies)
    if update.template_id:
        by_id = list(candidates.filter(provider_template_id=update.template_id))
        if by_id:
            return by_id
    if not update.name:
        return []
    language = update.language.replace("-", "_")
    matches = candidates.filter(name=update.name, provider_template_id="")
    if language:
        matches = matches.filter(language__iexact=language)
    return list(matches)


def _event_fields(update: TemplateUpdate, template: MessageTemplate) -> dict:
    if update.field == STATUS_FIELD:
        return {
            "kind": TemplateEvent.Kind.STATUS,
            "event": update.event,
            "previous_category": "",
            "new_category": "",
            "occurred_at": update.occurred_at,
        }
    if update.is_announcement:
        previous, new = (
            _category(update.new_category),
            _category(update.correct_category),
        )
        kind = TemplateEvent.Kind.CATEGORY_NOTICE
        occurred_at = update.changes_at or update.occurred_at
    else:
        previous = (
            _category(update.previous_category)
            if update.previous_category
            else template.category
        )
        new = _category(update.new_category)
        kind = TemplateEvent.Kind.CATEGORY
        occurred_at = update.occurred_at
    return {
        "kind": kind,
        "event": "",
        "previous_category": previous,
        "new_category": new,
        "occurred_at": occurred_at,
    }


def _template_refresh(template: MessageTemplate) -> None:
    """Derive the template's status and category from its events (F9)."""
    events = TemplateEvent.objects.filter(template=template)
    changed = []
    settable = [e for e in rules.TEMPLATE_EVENT_STATUS]
    latest_status = (
        events.filter(kind=TemplateEvent.Kind.STATUS, event__in=settable)
        .order_by("-occurred_at", "-id")
        .first()
    )
    if latest_status is not None:
        status = rules.template_status_for_event(latest_status.event)
        if status and status != template.status:
            template.status = status
            changed.append("status")
    latest_category = (
        events.filter(kind=TemplateEvent.Kind.CATEGORY)
        .order_by("-occurred_at", "-id")
        .first()
    )
    if latest_category is not None:
        category = rules.template_category_of(latest_category.new_category)
        if category and category != template.category:
            template.category = category
            changed.append("category")
    if changed:
        template.save(update_fields=[*changed, "updated_at"])


def template_events_record(
    *, updates: list[TemplateUpdate], delivery: WebhookDelivery | None
) -> dict:
    """Store the template updates of a delivery and re-derive their templates.

    Safe to re-run: an event already stored is not stored again. Returns counts
    and the updates naming no known template (kept in the raw delivery).
    """
    recorded, unknown = 0, []
    for update in updates:
        templates = _templates_of(update)
        if not templates:
            unknown.append(f"{update.name or update.template_id} ({update.language})")
            continue
        for found in sorted(templates, key=lambda t: t.pk):
            with transaction.atomic():
                template = template_lock(found.pk)
                if update.template_id and not template.provider_template_id:
                    template.provider_template_id = update.template_id
                    template.save(update_fields=["provider_template_id", "updated_at"])
                fields = _event_fields(update, template)
                _, created = TemplateEvent.objects.get_or_create(
                    template=template,
                    **fields,
                    defaults={
                        "company_id": template.company_id,
                        "reason": update.reason,
                        "costs_more": rules.category_costs_more(
                            previous=fields["previous_category"],
                            new=fields["new_category"],
                        ),
                        "delivery": delivery,
                        "payload": update.raw or {},
                    },
                )
                recorded += created
                _template_refresh(template)
    return {"recorded": recorded, "unknown_templates": unknown}
