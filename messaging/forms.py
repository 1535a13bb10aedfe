"""The conversation composer: free text or an approved template.

Forms check only the shape of the input. What may be sent (license, window,
template state, placeholder count) is decided by ``services.message_send``.
"""

import uuid

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from .models import MessageTemplate

# WhatsApp's limit for the body of a text message.
TEXT_MAX_LENGTH = 4096
# The Cloud API's limit for one template text parameter.
PARAM_MAX_LENGTH = 1024


def param_field_name(template: MessageTemplate, number: int) -> str:
    """Return the input name of placeholder ``{{number}}`` of ``template``.

    Every template has its own inputs, so the page works without JavaScript.
    """
    return f"param-{template.pk}-{number}"


def template_params_clean(data, template: MessageTemplate | None) -> list[str]:
    """The values typed for ``template``'s placeholders ``{{1}}``… in order, each
    required and at most PARAM_MAX_LENGTH long (``ValidationError`` otherwise);
    no template: none."""
    params = []
    if template is None:
        return params
    for number in range(1, template.placeholder_count + 1):
        value = data.get(param_field_name(template, number), "").strip()
        if not value:
            raise forms.ValidationError(
                _("Fill in a value for {{%(number)s}}."),
                code="param_missing",
                params={"number": number},
            )
        if len(value) > PARAM_MAX_LENGTH:
            raise forms.ValidationError(
                _("The value for {{%(number)s}} is too long."),
                code="param_too_long",
                params={"number": number},
            )
        params.append(value)
    return params


class MessageSendForm(forms.Form):
    # Generated when the page renders: a double submit sends once.
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)
    text = forms.CharField(
        label=_("Message"),
        required=False,
        strip=False,
        max_length=TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
    )
    template = forms.ModelChoiceField(
        label=_("Template"),
        queryset=MessageTemplate.objects.none(),
        required=False,
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def __init__(self, *args, templates: QuerySet[MessageTemplate], **kwargs):
        kwargs.setdefault("initial", {}).setdefault("idempotency_key", uuid.uuid4())
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = templates

    def clean(self):
        cleaned = super().clean()
        cleaned["params"] = template_params_clean(self.data, cleaned.get("template"))
        return cleaned
