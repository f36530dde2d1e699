"""PhonePe's webhook Authorization and host derivation."""

import json

import pytest

from edge_adapter.gateways import phonepe
from edge_adapter.gateways.payments import WebhookRejected


def test_webhook_authorization_matches_phonepes_sdk_vector():
    # PhonePe's own SDK test: username "username", password "password"
    # (github.com/PhonePe/phonepe-pg-sdk-python tests/test_validate_callback.py)
    assert (
        phonepe.webhook_authorization("username", "password")
        == "bc842c31a9e54efe320d30d948be61291f3ceee4766e36ab25fa65243cd76e0e"
    )


def test_verify_accepts_current_or_previous_credentials_only():
    header = {"Authorization": phonepe.webhook_authorization("u", "old")}
    current = {"webhook_username": "u", "webhook_password": "new"}
    previous = {"webhook_username": "u", "webhook_password": "old"}
    phonepe.client.verify_webhook(header, b"{}", [current, previous])
    with pytest.raises(WebhookRejected) as rejected:
        phonepe.client.verify_webhook(header, b"{}", [current])
    assert rejected.value.reason == "bad_signature"
    with pytest.raises(WebhookRejected) as missing:
        phonepe.client.verify_webhook({}, b"{}", [current])
    assert missing.value.reason == "missing_signature"
    with pytest.raises(WebhookRejected):  # credentials without webhook fields verify nothing
        phonepe.client.verify_webhook(header, b"{}", [{"client_id": "x"}])


def test_production_hosts_are_derived_from_either_base():
    oauth = "https://api.phonepe.com/apis/identity-manager"
    pg = "https://api.phonepe.com/apis/pg"
    sandbox = "https://api-preprod.phonepe.com/apis/pg-sandbox"
    assert phonepe.hosts(oauth) == (oauth, pg)
    assert phonepe.hosts(pg) == (oauth, pg)
    assert phonepe.hosts(sandbox) == (sandbox, sandbox)


def test_parse_order_events_and_stable_ids():
    body = json.dumps(
        {
            "event": "checkout.order.failed",
            "payload": {
                "orderId": "OMO1",
                "merchantOrderId": "att_9",
                "state": "FAILED",
                "amount": 2500,
                "metaInfo": {"udf1": "pay_9", "udf2": "att_9"},
                "paymentDetails": [
                    {
                        "transactionId": "OM1",
                        "timestamp": 1709547969783,
                        "state": "FAILED",
                        "errorCode": "PAYMENT_ERROR",
                        "detailedErrorCode": "Z9",
                    }
                ],
            },
        }
    ).encode()
    event = phonepe.client.parse_webhook({}, body)
    assert (event.kind, event.status, event.error_code) == ("payment", "failed", "Z9")
    assert (event.attempt_id, event.payment_id, event.amount) == ("att_9", "pay_9", 2500)
    assert event.occurred_at == pytest.approx(1709547969.783)
    assert event.event_id == phonepe.client.parse_webhook({}, body).event_id
    with pytest.raises(WebhookRejected):
        phonepe.client.parse_webhook({}, b"not json")
