"""Razorpay webhook signatures and event parsing, against vectors computed with openssl."""

import json

import pytest

from edge_adapter.gateways.payments import WebhookRejected
from edge_adapter.gateways.razorpay import client

BODY = b'{"event":"payment.captured","payload":{}}'
# printf '%s' "$BODY" | openssl dgst -sha256 -hmac 'rzp_webhook_s3cret' -hex
SIGNATURE = "95105534aa9d453e38c3db130707d3f7d8af137be0a742c54d1d7c0ed171dff1"
CREDS = {"key_id": "rzp_test_x", "key_secret": "api-secret", "webhook_secret": "rzp_webhook_s3cret"}


def test_known_vector_verifies():
    client.verify_webhook({"X-Razorpay-Signature": SIGNATURE}, BODY, [CREDS])


def test_previous_secret_is_tried_after_the_current_one():
    current = {**CREDS, "webhook_secret": "new-secret"}
    client.verify_webhook({"x-razorpay-signature": SIGNATURE}, BODY, [current, CREDS])
    with pytest.raises(WebhookRejected) as rejected:
        client.verify_webhook({"x-razorpay-signature": SIGNATURE}, BODY, [current])
    assert rejected.value.reason == "bad_signature"


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        ({}, BODY, "missing_signature"),
        ({"X-Razorpay-Signature": SIGNATURE}, BODY + b" ", "bad_signature"),
        ({"X-Razorpay-Signature": SIGNATURE.upper()}, BODY, "bad_signature"),
    ],
)
def test_rejections(headers, body, reason):
    with pytest.raises(WebhookRejected) as rejected:
        client.verify_webhook(headers, body, [CREDS])
    assert rejected.value.reason == reason


def test_api_key_secret_is_not_the_webhook_secret():
    with pytest.raises(WebhookRejected):
        client.verify_webhook(
            {"X-Razorpay-Signature": SIGNATURE}, BODY, [{"key_secret": "rzp_webhook_s3cret"}]
        )


def _event(name: str, payment: dict) -> bytes:
    return json.dumps(
        {"event": name, "payload": {"payment": {"entity": payment}}, "created_at": 1700000000}
    ).encode()


def test_parse_failed_payment_surfaces_the_reason_and_our_ids():
    payment = {
        "id": "pay_1",
        "amount": 20100,
        "currency": "INR",
        "status": "failed",
        "order_id": "order_1",
        "notes": {"attempt_id": "att_1", "payment_id": "pay_ours"},
        "error_code": "GATEWAY_ERROR",
        "error_reason": "insufficient_funds",
        "error_description": "Transaction failed due to insufficient funds.",
    }
    event = client.parse_webhook({"x-razorpay-event-id": "EvT1"}, _event("payment.failed", payment))
    assert (event.event_id, event.kind, event.status) == ("EvT1", "payment", "failed")
    assert (event.attempt_id, event.payment_id, event.amount) == ("att_1", "pay_ours", 20100)
    assert event.error_code == "insufficient_funds"


def test_event_id_falls_back_to_a_stable_digest():
    body = _event("payment.captured", {"id": "pay_1", "amount": 1, "currency": "INR", "notes": []})
    first, second = client.parse_webhook({}, body), client.parse_webhook({}, body)
    assert first.event_id == second.event_id and first.event_id.startswith("sha256:")
    assert first.attempt_id is None  # empty notes arrive as []
