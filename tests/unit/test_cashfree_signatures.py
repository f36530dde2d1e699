"""Cashfree webhook signatures (vector computed with openssl) and exact rupee/paise handling."""

from decimal import Decimal

import pytest

from edge_adapter.gateways.cashfree import client, dumps, loads, paise, rupees
from edge_adapter.gateways.payments import WebhookRejected

STAMP = "1746427759733"
BODY = b'{"type":"PAYMENT_SUCCESS_WEBHOOK","data":{"payment":{"payment_amount":170.00}}}'
# printf '%s' "$STAMP$BODY" | openssl dgst -sha256 -hmac 'cfsk_secret' -binary | base64
SIGNATURE = "dWibLa1gcW/uO5TEwlmMC/WPU3BesWPG3tw0Fhi/C70="
CREDS = {"client_id": "app", "client_secret": "cfsk_secret"}
HEADERS = {"x-webhook-timestamp": STAMP, "x-webhook-signature": SIGNATURE}


def test_known_vector_verifies_with_current_or_previous_secret():
    client.verify_webhook(HEADERS, BODY, [CREDS])
    client.verify_webhook(HEADERS, BODY, [{"client_secret": "rotated"}, CREDS])


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        ({"x-webhook-signature": SIGNATURE}, BODY, "missing_signature"),
        ({**HEADERS, "x-webhook-timestamp": "1746427759734"}, BODY, "bad_signature"),
        # a JSON round trip turns 170.00 into 170.0: the raw body is what is signed
        (HEADERS, BODY.replace(b"170.00", b"170.0"), "bad_signature"),
    ],
)
def test_rejections(headers, body, reason):
    with pytest.raises(WebhookRejected) as rejected:
        client.verify_webhook(headers, body, [CREDS])
    assert rejected.value.reason == reason


def test_wrong_secret_is_rejected():
    with pytest.raises(WebhookRejected) as rejected:
        client.verify_webhook(HEADERS, BODY, [{"client_secret": "other"}])
    assert rejected.value.reason == "bad_signature"


@pytest.mark.parametrize(
    ("minor", "major"), [(1, "0.01"), (10, "0.10"), (10001, "100.01"), (12345678, "123456.78")]
)
def test_paise_and_rupees_round_trip_exactly(minor, major):
    assert rupees(minor) == Decimal(major)
    assert str(rupees(minor)) == major
    assert paise(major) == paise(Decimal(major)) == minor
    assert dumps({"order_amount": rupees(minor)}) == f'{{"order_amount": {major}}}'.encode()
    assert paise(loads(dumps({"a": rupees(minor)}))["a"]) == minor


def test_fractions_of_a_paisa_are_refused_not_rounded():
    with pytest.raises(ValueError):
        paise("1.005")


def test_answers_are_parsed_without_floats():
    parsed = loads(b'{"payment_amount": 0.29}')
    assert isinstance(parsed["payment_amount"], Decimal)
    assert paise(parsed["payment_amount"]) == 29


def test_event_id_prefers_cashfree_idempotency_key():
    body = (
        b'{"type":"PAYMENT_SUCCESS_WEBHOOK","data":{"order":{"order_id":"att_1",'
        b'"order_amount":1.00,"order_tags":{"payment_id":"pay_1"}},"payment":'
        b'{"cf_payment_id":9,"payment_amount":1.00,"payment_currency":"INR"}}}'
    )
    keyed = client.parse_webhook({"x-idempotency-key": "abc="}, body)
    assert (keyed.event_id, keyed.attempt_id, keyed.payment_id, keyed.amount) == (
        "abc=",
        "att_1",
        "pay_1",
        100,
    )
    digest = client.parse_webhook({}, body)
    assert digest.event_id == client.parse_webhook({}, body).event_id
    assert digest.event_id.startswith("sha256:")
