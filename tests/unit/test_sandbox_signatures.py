"""The sandbox's Standard Webhooks verification, against the specification's test vector
(https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md)."""

import pytest

from edge_adapter.gateways import sandbox
from edge_adapter.gateways.payments import WebhookRejected
from edge_adapter.gateways.sandbox import client

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HEADERS = {
    "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "webhook-timestamp": "1614265330",
    "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}
BODY = b'{"test": 2432232314}'
CREDS = {"api_key": "k", "api_secret": "s", "webhook_secret": SECRET}


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    monkeypatch.setattr(sandbox.time, "time", lambda: 1614265330 + 60)


def test_spec_vector_verifies():
    client.verify_webhook(HEADERS, BODY, [CREDS])


def test_one_of_several_signatures_and_previous_secret():
    many = {**HEADERS, "webhook-signature": "v1,bm90IGl0 v2,abc " + HEADERS["webhook-signature"]}
    other = {**CREDS, "webhook_secret": "whsec_" + "QUJDREVGR0hJSktMTU5PUA=="}
    client.verify_webhook(many, BODY, [other, CREDS])


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        ({**HEADERS, "webhook-id": "msg_other"}, BODY, "bad_signature"),
        (HEADERS, BODY + b" ", "bad_signature"),
        ({k: v for k, v in HEADERS.items() if k != "webhook-signature"}, BODY, "missing_signature"),
        ({**HEADERS, "webhook-timestamp": "soon"}, BODY, "malformed"),
    ],
)
def test_rejections(headers, body, reason):
    with pytest.raises(WebhookRejected) as rejected:
        client.verify_webhook(headers, body, [CREDS])
    assert rejected.value.reason == reason


def test_stale_timestamp(monkeypatch):
    monkeypatch.setattr(sandbox.time, "time", lambda: 1614265330 + 301)
    with pytest.raises(WebhookRejected) as rejected:
        client.verify_webhook(HEADERS, BODY, [CREDS])
    assert rejected.value.reason == "stale_timestamp"


def test_no_webhook_secret_configured_verifies_nothing():
    with pytest.raises(WebhookRejected) as rejected:
        client.verify_webhook(HEADERS, BODY, [{"api_key": "k", "api_secret": "s"}])
    assert rejected.value.reason == "bad_signature"


def test_an_event_of_a_type_we_do_not_act_on_parses_as_other():
    """A signed event of another type (even without data) is acknowledged, not a 400 that
    the provider would retry."""
    import json

    body = json.dumps({"type": "payout.created", "timestamp": "2026-12-01T00:00:00+00:00"})
    event = client.parse_webhook({"webhook-id": "msg_x"}, body.encode())
    assert event.kind == "other" and event.type == "payout.created"
