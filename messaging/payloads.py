"""Build WhatsApp Cloud API request bodies for ``POST /{version}/{phone_number_id}/messages``.

Pure functions: plain values in, a JSON-ready ``dict`` out, no settings and no I/O.
The shapes follow the ``Message`` request schema (operationId ``sendMessage``) of
Meta's OpenAPI spec in ``shared/meta-openapi``; the transport tests validate every
body built here against that schema.
"""

# Meta's spec names the product explicitly in every body, even though it is the only one.
MESSAGING_PRODUCT = "whatsapp"
RECIPIENT_TYPE_INDIVIDUAL = "individual"
# The spec's LanguageObject requires ``policy``, and "deterministic" is its only value.
TEMPLATE_LANGUAGE_POLICY = "deterministic"


def text_payload(*, to: str, body: str) -> dict:
    """Return the body of a free-form text message to ``to``.

    Link previews stay off so the customer sees exactly the text the agent wrote.
    """
    return {
        "messaging_product": MESSAGING_PRODUCT,
        "recipient_type": RECIPIENT_TYPE_INDIVIDUAL,
        "to": to,
        "type": "text",
        "text": {"body": body, "preview_url": False},
    }


def template_payload(
    *, to: str, name: str, language: str, body_params: list[str]
) -> dict:
    """Return the body of an approved template message to ``to``.

    ``body_params`` fill the template body's ``{{1}}``, ``{{2}}``, ... in order; an
    empty list sends the template without a ``components`` array.
    """
    template: dict = {
        "name": name,
        "language": {"policy": TEMPLATE_LANGUAGE_POLICY, "code": language},
    }
    if body_params:
        # Without variables there is nothing to send: the spec's own "Send Test
        # Message" example (hello_world) has no components at all.
        template["components"] = [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": param} for param in body_params
                ],
            }
        ]
    return {
        "messaging_product": MESSAGING_PRODUCT,
        "recipient_type": RECIPIENT_TYPE_INDIVIDUAL,
        "to": to,
        "type": "template",
        "template": template,
    }
