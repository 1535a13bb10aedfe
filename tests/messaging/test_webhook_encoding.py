"""Signed webhook bodies are decoded once, strictly, at receipt.

What the intake accepts is exactly what the processing reads: a body that is
not strict UTF-8 JSON (a byte order mark, UTF-16, an encoded lone surrogate) is
refused with a 400 and nothing is stored, instead of being answered 200 and then
failing on every retry. A chunked body (no Content-Length) is read when the
server says the input is terminated, and answered 411 otherwise: never a 403.
"""

import io
import json

import pytest
from django.test import RequestFactory
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from messaging import webhooks
from messaging.exceptions import PayloadError
from messaging.models import Message, WebhookDelivery
from messaging.views import whatsapp_webhook
from tests import whatsapp
from tests.factories import BusinessNumberFactory

pytestmark = pytest.mark.django_db

SAMPLE = "inbound_text__meta_docs.json"


def _sample() -> dict:
    sample = whatsapp.fixture(SAMPLE)
    pnid = sample["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"]
    BusinessNumberFactory(phone_number_id=pnid)
    return sample


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda text: b"\xef\xbb\xbf" + text.encode(), id="UTF-8 BOM"),
        pytest.param(lambda text: text.encode("utf-16"), id="UTF-16 with BOM"),
        pytest.param(lambda text: text.encode("utf-16-le"), id="UTF-16-LE"),
        pytest.param(lambda text: text.encode("utf-32"), id="UTF-32"),
        pytest.param(
            lambda text: text.replace("color", "col\ud800or").encode(
                "utf-8", "surrogatepass"
            ),
            id="encoded lone surrogate",
        ),
    ],
)
def test_a_signed_body_that_is_not_strict_utf8_json_is_400_and_stores_nothing(
    client, encode
):
    text = json.dumps(_sample(), ensure_ascii=False)
    assert "color" in text
    body = encode(text)
    response = whatsapp.post(client, body)  # correctly signed
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert "UTF-8" in error or "JSON" in error, error
    assert not WebhookDelivery.objects.exists()
    assert not Message.objects.exists()


def test_a_valid_body_is_stored_as_received_and_processed(client):
    sample = _sample()
    body = json.dumps(sample, ensure_ascii=False).encode()
    response = whatsapp.post(client, body)
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.body.encode() == body  # exactly what was signed and validated
    assert (delivery.status, delivery.attempts) == ("processed", 1)
    assert Message.objects.count() == 1


def _chunked_request(body: bytes, *, terminated: bool | None):
    request = RequestFactory().post(
        reverse("whatsapp-webhook"),
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=whatsapp.sign(body),
        HTTP_TRANSFER_ENCODING="chunked",
    )
    # What gunicorn hands over for a chunked body: no CONTENT_LENGTH, the body
    # de-chunked in wsgi.input, and wsgi.input_terminated.
    del request.META["CONTENT_LENGTH"]
    request.environ["wsgi.input"] = io.BytesIO(body)
    if terminated is not None:
        request.environ["wsgi.input_terminated"] = terminated
    return type(request)(request.environ)


def test_a_chunked_body_on_a_terminated_input_is_read_and_processed():
    body = json.dumps(_sample()).encode()
    with whatsapp.on_commit():
        response = whatsapp_webhook(_chunked_request(body, terminated=True))
    assert response.status_code == 200, response.content
    delivery = WebhookDelivery.objects.get()
    assert delivery.body.encode() == body
    assert delivery.status == "processed"
    assert Message.objects.count() == 1


@pytest.mark.parametrize("terminated", [None, False])
def test_a_chunked_body_the_server_does_not_terminate_is_411_not_403(terminated):
    body = json.dumps(_sample()).encode()
    response = whatsapp_webhook(_chunked_request(body, terminated=terminated))
    assert response.status_code == 411, response.content
    assert "Content-Length" in json.loads(response.content)["error"]
    assert not WebhookDelivery.objects.exists()


def test_a_chunked_body_over_the_limit_is_413(settings):
    settings.WHATSAPP_WEBHOOK_MAX_BYTES = 1024
    body = json.dumps(_sample()).encode() + b" " * 2048
    response = whatsapp_webhook(_chunked_request(body, terminated=True))
    assert response.status_code == 413
    assert not WebhookDelivery.objects.exists()


# Any code point, lone surrogates and NUL included (what a hostile body can
# escape into a JSON string).
_ANY_CHAR = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=None)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(_ANY_CHAR, max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(_ANY_CHAR, max_size=4), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(value=_JSON, ascii_only=st.booleans())
def test_the_text_shortcut_never_lets_unstorable_text_through(value, ascii_only):
    # The intake and the worker skip the walk through every decoded string when
    # the JSON text shows it cannot hold a NUL or a lone surrogate: whenever the
    # walk would refuse the body, the text must say "maybe".
    text = json.dumps(value, ensure_ascii=ascii_only)
    decoded = json.loads(text)
    try:
        webhooks._storable(decoded)
    except PayloadError:
        assert webhooks._may_be_unstorable(text), text


@pytest.mark.parametrize(
    "escaped", ["a\\u0000b", "a\\ud800b", "\\udfff", "x\\\\\\u0000"]
)
def test_an_escaped_nul_or_lone_surrogate_is_refused_with_the_text_given(escaped):
    body = json.dumps(
        {"object": "whatsapp_business_account", "entry": [], "note": "PLACEHOLDER"}
    ).replace("PLACEHOLDER", escaped)
    with pytest.raises(PayloadError, match="NUL or an unpaired surrogate"):
        webhooks.parse_payload(json.loads(body), text=body)
