"""Stripe-Signature verification (vector computed with openssl) and event parsing."""

import json

import pytest

from edge_adapter.gateways import stripe
from edge_adapter.gateways.payments import WebhookRejected
from edge_adapter.gateways.stripe import client

STAMP = 1700000000
BODY = b'{"id":"evt_1","type":"payment_intent.succeeded"}'
# printf '%s' "$STAMP.$BODY" | openssl dgst -sha256 -hmac 'whsec_test_secret' -hex
V1 = "22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31"
CREDS = {"secret_key": "sk_test_x", "webhook_secret": "whsec_test_secret"}


@pytest.fixture
def now(monkeypatch):
    def at(seconds: float) -> None:
        monkeypatch.setattr(stripe.time, "time", lambda: seconds)

    return at


def header(*parts: str) -> dict[str, str]:
    return {"Stripe-Signature": ",".join(parts)}


def test_known_vector_verifies_within_tolerance(now):
    now(STAMP + 300)
    client.verify_webhook(header(f"t={STAMP}", f"v1={V1}"), BODY, [CREDS])


def test_several_v1_and_unknown_schemes_are_allowed(now):
    now(STAMP)
    client.verify_webhook(header(f"t={STAMP}", "v1=" + "0" * 64, f"v1={V1}", "v0=x"), BODY, [CREDS])


def test_previous_secret_accepted_during_rotation(now):
    now(STAMP)
    rotated = {**CREDS, "webhook_secret": "whsec_new"}
    client.verify_webhook(header(f"t={STAMP}", f"v1={V1}"), BODY, [rotated, CREDS])
    with pytest.raises(WebhookRejected) as rejected:
        client.verify_webhook(header(f"t={STAMP}", f"v1={V1}"), BODY, [rotated])
    assert rejected.value.reason == "bad_signature"


@pytest.mark.parametrize(
    ("clock", "headers", "reason"),
    [
        (STAMP + 301, header(f"t={STAMP}", f"v1={V1}"), "stale_timestamp"),
        (STAMP - 301, header(f"t={STAMP}", f"v1={V1}"), "stale_timestamp"),
        (STAMP, header(f"t={STAMP + 1}", f"v1={V1}"), "bad_signature"),
        (STAMP, {}, "missing_signature"),
        (STAMP, header(f"v1={V1}"), "malformed"),
        (STAMP, header(f"t={STAMP}"), "malformed"),
    ],
)
def test_rejections(now, clock, headers, reason):
    now(clock)
    with pytest.raises(WebhookRejected) as rejected:
        client.verify_webhook(headers, BODY, [CREDS])
    assert rejected.value.reason == reason


def test_stale_is_only_reported_for_a_valid_signature(now):
    now(STAMP + 10_000)
    with pytest.raises(WebhookRejected) as rejected:
        client.verify_webhook(header(f"t={STAMP}", "v1=" + "1" * 64), BODY, [CREDS])
    assert rejected.value.reason == "bad_signature"


def test_form_encoding_nests_with_brackets():
    pairs = stripe.form({"a": {"b": 1, "c": [True, {"d": "x"}]}, "skip": None, "n": 5})
    assert pairs == [("a[b]", "1"), ("a[c][0]", "true"), ("a[c][1][d]", "x"), ("n", "5")]


def event(kind: str, obj: dict) -> bytes:
    return json.dumps(
        {"id": "evt_9", "type": kind, "created": STAMP, "data": {"object": obj}}
    ).encode()


def test_parse_checkout_completed_and_payment_failed():
    session = {
        "id": "cs_1",
        "status": "complete",
        "payment_status": "paid",
        "amount_total": 5000,
        "currency": "inr",
        "client_reference_id": "att_1",
        "metadata": {"payment_id": "pay_1", "attempt_id": "att_1"},
        "payment_intent": "pi_1",
        "url": None,
    }
    done = client.parse_webhook({}, event("checkout.session.completed", session))
    assert (done.event_id, done.status, done.attempt_id, done.payment_id) == (
        "evt_9",
        "succeeded",
        "att_1",
        "pay_1",
    )
    assert (done.amount, done.currency, done.provider_payment_id) == (5000, "INR", "pi_1")
    intent = {
        "id": "pi_1",
        "status": "requires_payment_method",
        "amount": 5000,
        "currency": "inr",
        "metadata": {"attempt_id": "att_1"},
        "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds"},
    }
    failed = client.parse_webhook({}, event("payment_intent.payment_failed", intent))
    assert (failed.status, failed.error_code, failed.attempt_id) == (
        "failed",
        "insufficient_funds",
        "att_1",
    )
    assert failed.error_code in stripe.ERROR_MAP
