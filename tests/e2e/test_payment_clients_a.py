"""Payment clients of group A (sandbox, razorpay, cashfree, stripe) against the fake provider
server over real HTTP: outcomes, never-charge-twice lookups, transport faults, refunds, and
webhooks the fake sends to a local receiver, verified and parsed by the client."""

import asyncio
import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from edge_adapter.fake_providers import FAKE_CREDENTIALS
from edge_adapter.gateways import PROVIDERS
from edge_adapter.gateways.payments import (
    ChargeRef,
    ChargeRequest,
    ChargeResult,
    Customer,
    ProviderCall,
    ProviderEvent,
    RefundRequest,
    RefundResult,
    WebhookRejected,
    run_provider_call,
)

from .conftest import Receiver

GROUP = ("sandbox", "razorpay", "cashfree", "stripe")
CUSTOMER = Customer(email="buyer@example.test", phone="9999999999")


def ids() -> tuple[str, str]:
    return f"pay_{uuid.uuid4().hex[:20]}", f"att_{uuid.uuid4().hex[:20]}"


def charge(
    method: str = "upi", vpa: str | None = None, amount: int = 10_000, **extra: Any
) -> ChargeRequest:
    payment_id, attempt_id = ids()
    fields: dict[str, Any] = {
        "customer": CUSTOMER,
        "return_url": "https://merchant.example.test/return",
        "description": "Order 42",
    }
    fields.update(extra)
    return ChargeRequest(payment_id, attempt_id, amount, "INR", method, vpa, **fields)  # type: ignore[arg-type]


def another_secret(value: str) -> str:
    """A different secret of the same shape (whsec_<base64> stays decodable)."""
    if value.startswith("whsec_"):
        return "whsec_" + base64.b64encode(uuid.uuid4().bytes * 2).decode()
    return value + "-rotated"


def ref(req: ChargeRequest, result: ChargeResult) -> ChargeRef:
    return ChargeRef(
        req.payment_id,
        req.attempt_id,
        req.amount,
        req.currency,
        result.provider_order_id,
        result.provider_payment_id,
    )


class Harness:
    """One provider's client, a call context on the fake, and its webhooks."""

    def __init__(self, fake, provider: str, http: httpx.AsyncClient, receiver: Receiver) -> None:
        self.fake = fake
        self.provider = provider
        self.client = PROVIDERS[provider]
        self.http = http
        self.receiver = receiver
        self.creds = dict(FAKE_CREDENTIALS[provider])
        self.attempts: set[str] = set()  # events naming another attempt are a past test's
        fake.client.post(
            "/_webhooks", json={"provider": provider, "url": receiver.url}
        ).raise_for_status()

    def call(self, **creds: str) -> ProviderCall:
        return ProviderCall(self.http, f"{self.fake.base}/{self.provider}", {**self.creds, **creds})

    async def create(self, req: ChargeRequest) -> ChargeResult:
        self.attempts.add(req.attempt_id)
        result = await run_provider_call(self.client.create_charge, self.call(), req)
        assert isinstance(result, ChargeResult)
        return result

    async def find(self, req: ChargeRequest) -> ChargeResult:
        result = await run_provider_call(self.client.find_charge, self.call(), req)
        assert isinstance(result, ChargeResult)
        return result

    async def status(self, req: ChargeRequest, created: ChargeResult) -> ChargeResult:
        result = await run_provider_call(self.client.fetch_status, self.call(), ref(req, created))
        assert isinstance(result, ChargeResult)
        return result

    async def refund(self, req: RefundRequest) -> RefundResult:
        result = await run_provider_call(self.client.refund, self.call(), req, refund=True)
        assert isinstance(result, RefundResult)
        return result

    async def fetch_refund(self, req: RefundRequest) -> RefundResult:
        result = await run_provider_call(self.client.fetch_refund, self.call(), req, refund=True)
        assert isinstance(result, RefundResult)
        return result

    def complete(self, order_id: str, outcome: str = "success") -> None:
        response = self.fake.client.post(
            f"/_hosted/{self.provider}/{order_id}/complete", json={"outcome": outcome}
        )
        assert response.status_code == 200, response.text

    def captures(self, payment_id: str) -> int:
        return self.fake.client.get("/_captures").json().get(payment_id, 0)

    async def wait_event(
        self, match: Callable[[ProviderEvent], bool], within_s: float = 5.0
    ) -> tuple[ProviderEvent, dict[str, Any]]:
        """The first webhook the receiver got that verifies with the provider's credentials
        and matches; returns the parsed event and the raw request."""
        deadline = time.monotonic() + within_s
        seen = 0
        while time.monotonic() < deadline:
            with self.receiver.lock:
                pending = self.receiver.requests[seen:]
            for request in pending:
                seen += 1
                body = request["body"].encode()
                self.client.verify_webhook(request["headers"], body, [self.creds])
                event = self.client.parse_webhook(request["headers"], body)
                stray = event.attempt_id is not None and event.attempt_id not in self.attempts
                if not stray and match(event):
                    return event, request
            await asyncio.sleep(0.05)
        raise AssertionError(f"no matching {self.provider} webhook within {within_s} s")

    def refund_request(
        self, req: ChargeRequest, result: ChargeResult, amount: int, **extra: Any
    ) -> RefundRequest:
        return RefundRequest(
            refund_id=f"rfd_{uuid.uuid4().hex[:20]}",
            payment_id=req.payment_id,
            attempt_id=req.attempt_id,
            amount=amount,
            currency=req.currency,
            provider_order_id=result.provider_order_id,
            provider_payment_id=result.provider_payment_id,
            **extra,
        )


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0) as client:
        yield client


def harness(fake_providers, provider, http, receiver) -> Harness:
    return Harness(fake_providers, provider, http, receiver)


def paid(event: ProviderEvent) -> bool:
    return event.kind == "payment" and event.status == "succeeded"


def declined(event: ProviderEvent) -> bool:
    return event.kind == "payment" and event.status == "failed"


# -- every provider of the group: the interface's promises -------------------------------------


@pytest.mark.parametrize("provider", GROUP)
def test_the_client_is_registered(provider):
    client = PROVIDERS[provider]
    assert client.name == provider
    module = __import__(f"edge_adapter.gateways.{provider}", fromlist=["ERROR_MAP"])
    assert module.ERROR_MAP, "every module exports its error map"
    for code, (decision, unified, message) in module.ERROR_MAP.items():
        assert decision in ("retry", "next", "fail"), code
        assert unified == unified.lower() and " " not in unified and message, code


@pytest.mark.parametrize("provider", GROUP)
async def test_a_hang_is_unknown_within_the_timeout(fake_providers, provider, receiver):
    fake_providers.mode(provider, "hang")
    async with httpx.AsyncClient(timeout=0.5) as http:
        h = harness(fake_providers, provider, http, receiver)
        req = charge("card")
        started = time.monotonic()
        result = await h.create(req)
    assert (result.status, result.error_code, result.sent) == ("unknown", "timeout", True)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("provider", GROUP)
async def test_a_5xx_is_unknown(fake_providers, provider, http, receiver):
    fake_providers.mode(provider, "error")
    result = await harness(fake_providers, provider, http, receiver).create(charge("card"))
    assert (result.status, result.http_status) == ("unknown", 503)
    assert result.error_code == "provider_5xx"


@pytest.mark.parametrize("provider", GROUP)
async def test_429_is_an_error_that_sent_nothing(fake_providers, provider, http, receiver):
    fake_providers.mode(provider, "rate_limit")
    result = await harness(fake_providers, provider, http, receiver).create(charge("card"))
    assert (result.status, result.sent, result.error_code) == ("error", False, "rate_limited")


@pytest.mark.parametrize("provider", GROUP)
async def test_bad_credentials_are_an_error_that_sent_nothing(
    fake_providers, provider, http, receiver
):
    h = harness(fake_providers, provider, http, receiver)
    secret_field = {
        "sandbox": "api_secret",
        "razorpay": "key_secret",
        "cashfree": "client_secret",
        "stripe": "secret_key",
    }[provider]
    result = await run_provider_call(
        h.client.create_charge, h.call(**{secret_field: "wrong-secret"}), charge("card")
    )
    assert isinstance(result, ChargeResult)
    assert (result.status, result.sent, result.error_code) == ("error", False, "auth_failed")


@pytest.mark.parametrize("provider", GROUP)
async def test_an_unknown_attempt_is_not_found(fake_providers, provider, http, receiver):
    h = harness(fake_providers, provider, http, receiver)
    for method in ("upi", "card"):
        assert (await h.find(charge(method))).status == "not_found"


@pytest.mark.parametrize("provider", GROUP)
async def test_redirect_completed_on_the_hosted_page(fake_providers, provider, http, receiver):
    h = harness(fake_providers, provider, http, receiver)
    req = charge("card", notify_url=receiver.url)
    created = await h.create(req)
    assert created.status == "requires_action", created
    assert created.next_action and created.next_action["type"] == "redirect"
    url = created.next_action["url"]
    page = await h.http.get(url)
    assert page.status_code == 200 and "checkout" in page.text
    assert (await h.status(req, created)).status == "requires_action"
    assert h.captures(req.payment_id) == 0
    h.fake.client.post(url + "/complete", json={"outcome": "success"}).raise_for_status()
    event, _ = await h.wait_event(paid)
    assert event.attempt_id == req.attempt_id
    assert (event.amount, event.currency) == (req.amount, "INR")
    status = await h.status(req, created)
    assert (status.status, status.amount, status.currency) == ("succeeded", req.amount, "INR")
    assert h.captures(req.payment_id) == 1
    found = await h.find(req)
    assert found.status == "succeeded"


@pytest.mark.parametrize("provider", GROUP)
async def test_redirect_declined_on_the_hosted_page(fake_providers, provider, http, receiver):
    h = harness(fake_providers, provider, http, receiver)
    req = charge("card", notify_url=receiver.url)
    created = await h.create(req)
    assert created.next_action and created.next_action["type"] == "redirect"
    h.fake.client.post(
        created.next_action["url"] + "/complete", json={"outcome": "failure"}
    ).raise_for_status()
    event, _ = await h.wait_event(declined)
    assert event.error_code
    if provider == "cashfree":
        # A failed try on a Cashfree payment link is reported for the order the link made,
        # which does not name our attempt; the link stays payable.
        assert event.attempt_id is None
    else:
        assert event.attempt_id == req.attempt_id
    assert h.captures(req.payment_id) == 0
    assert (await h.status(req, created)).status in ("requires_action", "failed")


@pytest.mark.parametrize("provider", GROUP)
async def test_error_after_commit_is_unknown_then_found_and_charged_once(
    fake_providers, provider, http, receiver
):
    h = harness(fake_providers, provider, http, receiver)
    req = charge("card", notify_url=receiver.url)
    fake_providers.mode(provider, "error_after_commit")
    first = await h.create(req)
    assert first.status == "unknown", first
    fake_providers.mode(provider, "ok")
    found = await h.find(req)
    assert found.status == "requires_action", found
    assert found.next_action and found.next_action["type"] == "redirect"
    # A second create for the same attempt never makes a second order: it returns the same
    # one, or (Stripe) replays the first answer saved under the Idempotency-Key, the 500.
    again = await h.create(req)
    if provider == "stripe":
        assert (again.status, again.http_status) == ("unknown", 500)
    else:
        assert again.status == "requires_action"
        assert again.provider_order_id == found.provider_order_id
    assert (await h.find(req)).provider_order_id == found.provider_order_id
    h.fake.client.post(found.next_action["url"] + "/complete", json={"outcome": "success"})
    await h.wait_event(paid)
    assert h.captures(req.payment_id) == 1


@pytest.mark.parametrize("provider", GROUP)
async def test_refunds_full_partial_and_over(fake_providers, provider, http, receiver):
    h = harness(fake_providers, provider, http, receiver)
    req = charge("card", amount=50_000, notify_url=receiver.url)
    created = await h.create(req)
    assert created.next_action
    h.fake.client.post(created.next_action["url"] + "/complete", json={"outcome": "success"})
    await h.wait_event(paid)
    done = await h.status(req, created)
    assert done.status == "succeeded"

    part = h.refund_request(req, done, 20_000)
    first = await h.refund(part)
    assert first.status in ("succeeded", "pending"), first
    assert first.amount == 20_000 and first.provider_refund_id
    # Asking again with the same refund id never refunds twice.
    repeat = await h.refund(part)
    assert repeat.provider_refund_id == first.provider_refund_id
    looked = await h.fetch_refund(
        RefundRequest(**{**part.__dict__, "provider_refund_id": first.provider_refund_id})
    )
    assert (looked.status, looked.amount) == (first.status, 20_000)
    by_ours = await h.fetch_refund(part)
    assert by_ours.provider_refund_id == first.provider_refund_id

    over = await h.refund(h.refund_request(req, done, 30_001))
    assert over.status == "failed" and over.error_code, over
    rest = await h.refund(h.refund_request(req, done, 30_000))
    assert rest.status in ("succeeded", "pending") and rest.amount == 30_000
    nothing_left = await h.refund(h.refund_request(req, done, 1))
    assert nothing_left.status == "failed"
    missing = await h.fetch_refund(h.refund_request(req, done, 1))
    assert missing.status == "not_found"


@pytest.mark.parametrize("provider", GROUP)
async def test_webhook_signatures(fake_providers, provider, http, receiver):
    h = harness(fake_providers, provider, http, receiver)
    req = charge("card", notify_url=receiver.url)
    created = await h.create(req)
    assert created.next_action
    h.fake.client.post(created.next_action["url"] + "/complete", json={"outcome": "success"})
    event, request = await h.wait_event(paid)
    headers, body = request["headers"], request["body"].encode()
    client = h.client

    client.verify_webhook(headers, body, [h.creds])  # good
    previous = {**h.creds}
    rotated = {k: another_secret(v) if "secret" in k else v for k, v in h.creds.items()}
    client.verify_webhook(headers, body, [rotated, previous])  # previous secret accepted
    with pytest.raises(WebhookRejected) as wrong_secret:
        client.verify_webhook(headers, body, [rotated])
    assert wrong_secret.value.reason == "bad_signature"
    tampered = body.replace(req.attempt_id.encode(), b"att_someone_else", 1)
    assert tampered != body
    with pytest.raises(WebhookRejected) as bad:
        client.verify_webhook(headers, tampered, [h.creds])
    assert bad.value.reason == "bad_signature"
    signature_headers = {
        "sandbox": "webhook-signature",
        "razorpay": "x-razorpay-signature",
        "cashfree": "x-webhook-signature",
        "stripe": "stripe-signature",
    }
    stripped = {k: v for k, v in headers.items() if k.lower() != signature_headers[provider]}
    with pytest.raises(WebhookRejected) as missing:
        client.verify_webhook(stripped, body, [h.creds])
    assert missing.value.reason == "missing_signature"
    # The event id is stable across a redelivery of the same request.
    assert client.parse_webhook(headers, body).event_id == event.event_id


# -- per-provider flows ------------------------------------------------------------------------

UPI_TEST_VPAS = {
    "sandbox": ("success@sandbox", "failure@sandbox"),
    "razorpay": ("success@razorpay", "failure@razorpay"),
    "cashfree": ("testsuccess@gocash", "testfailure@gocash"),
}


@pytest.mark.parametrize("provider", sorted(UPI_TEST_VPAS))
async def test_upi_test_vpa_success(fake_providers, provider, http, receiver):
    h = harness(fake_providers, provider, http, receiver)
    req = charge("upi", UPI_TEST_VPAS[provider][0], notify_url=receiver.url)
    created = await h.create(req)
    assert created.status in ("succeeded", "requires_action", "pending"), created
    event, _ = await h.wait_event(paid)
    assert (event.attempt_id, event.payment_id) == (req.attempt_id, req.payment_id)
    assert event.amount == req.amount
    status = await h.status(req, created)
    assert status.status == "succeeded" and status.amount == req.amount
    assert h.captures(req.payment_id) == 1


@pytest.mark.parametrize("provider", sorted(UPI_TEST_VPAS))
async def test_upi_test_vpa_decline(fake_providers, provider, http, receiver):
    h = harness(fake_providers, provider, http, receiver)
    req = charge("upi", UPI_TEST_VPAS[provider][1], notify_url=receiver.url)
    created = await h.create(req)
    assert created.status in ("failed", "requires_action", "pending"), created
    event, _ = await h.wait_event(declined)
    assert event.attempt_id == req.attempt_id and event.error_code
    status = await h.status(req, created)
    assert status.status == "failed" and status.error_code
    module = __import__(f"edge_adapter.gateways.{provider}", fromlist=["ERROR_MAP"])
    assert status.error_code in module.ERROR_MAP
    assert h.captures(req.payment_id) == 0


@pytest.mark.parametrize("provider", sorted(UPI_TEST_VPAS))
async def test_upi_collect_pending_then_webhook_success(fake_providers, provider, http, receiver):
    h = harness(fake_providers, provider, http, receiver)
    req = charge("upi", "someone@okbank", notify_url=receiver.url)
    created = await h.create(req)
    assert created.status == "requires_action", created
    assert created.next_action == {"type": "upi_collect", "vpa": "someone@okbank"}
    assert (await h.status(req, created)).status == "requires_action"
    assert (await h.find(req)).status == "requires_action"
    await asyncio.sleep(0.3)
    with pytest.raises(AssertionError):  # nothing happens until the customer approves
        await h.wait_event(lambda e: e.kind == "payment", within_s=0.2)
    h.complete(created.provider_order_id or "")
    event, _ = await h.wait_event(paid)
    assert event.attempt_id == req.attempt_id
    assert (await h.status(req, created)).status == "succeeded"
    assert h.captures(req.payment_id) == 1


@pytest.mark.parametrize("provider", sorted(UPI_TEST_VPAS))
async def test_upi_intent(fake_providers, provider, http, receiver):
    h = harness(fake_providers, provider, http, receiver)
    req = charge("upi", None, notify_url=receiver.url)
    created = await h.create(req)
    assert created.status == "requires_action", created
    assert created.next_action and created.next_action["type"] == "upi_intent"
    assert created.next_action["url"].startswith("upi://pay?")


async def test_sandbox_pending_until_driven(fake_providers, http, receiver):
    h = harness(fake_providers, "sandbox", http, receiver)
    req = charge("upi", "pending@sandbox", notify_url=receiver.url)
    created = await h.create(req)
    assert created.status == "pending"
    assert (await h.status(req, created)).status == "pending"
    h.complete(created.provider_order_id or "")
    event, _ = await h.wait_event(paid)
    assert event.attempt_id == req.attempt_id
    assert (await h.status(req, created)).status == "succeeded"


async def test_sandbox_repeat_create_is_found_not_charged_twice(fake_providers, http, receiver):
    h = harness(fake_providers, "sandbox", http, receiver)
    req = charge("upi", "success@sandbox", notify_url=receiver.url)
    first = await h.create(req)
    second = await h.create(req)
    assert first.status == second.status == "succeeded"
    assert first.provider_payment_id == second.provider_payment_id
    assert h.captures(req.payment_id) == 1


async def test_sandbox_invalid_vpa_fails(fake_providers, http, receiver):
    h = harness(fake_providers, "sandbox", http, receiver)
    result = await h.create(charge("upi", "not-a-vpa"))
    assert (result.status, result.error_code) == ("failed", "invalid_vpa")


async def test_sandbox_stale_webhook_is_rejected(fake_providers, http, receiver):
    h = harness(fake_providers, "sandbox", http, receiver)
    req = charge("upi", "success@sandbox", notify_url=receiver.url)
    await h.create(req)
    _, request = await h.wait_event(paid)
    old = int(time.time()) - 600
    body = request["body"]
    sig = Webhook(h.creds["webhook_secret"]).sign(
        request["headers"]["webhook-id"], datetime.fromtimestamp(old, tz=UTC), body
    )
    headers = {**request["headers"], "webhook-timestamp": str(old), "webhook-signature": sig}
    with pytest.raises(WebhookRejected) as stale:
        h.client.verify_webhook(headers, body.encode(), [h.creds])
    assert stale.value.reason == "stale_timestamp"


# -- Razorpay ----------------------------------------------------------------------------------


async def test_razorpay_documented_test_amount_fails_with_its_reason(
    fake_providers, http, receiver
):
    """With success@razorpay, 201 paise fails as insufficient_funds in test mode."""
    h = harness(fake_providers, "razorpay", http, receiver)
    req = charge("upi", "success@razorpay", amount=201)
    created = await h.create(req)
    event, _ = await h.wait_event(declined)
    assert event.error_code == "insufficient_funds"
    status = await h.status(req, created)
    assert (status.status, status.error_code) == ("failed", "insufficient_funds")
    from edge_adapter.gateways.razorpay import ERROR_MAP

    assert ERROR_MAP["insufficient_funds"][:2] == ("fail", "insufficient_funds")


async def test_razorpay_upi_sequence_is_safe_to_repeat(fake_providers, http, receiver):
    """The order is made, then the answer is lost: the attempt's order is found by receipt
    and reused, so the customer gets one collect request and is charged once."""
    h = harness(fake_providers, "razorpay", http, receiver)
    req = charge("upi", "someone@okbank")
    fake_providers.mode("razorpay", "error_after_commit")
    lost = await h.create(req)
    assert lost.status == "unknown"
    fake_providers.mode("razorpay", "ok")
    found = await h.find(req)
    assert found.status == "not_found" and found.provider_order_id  # an order, no payment yet
    created = await h.create(req)
    assert created.status == "requires_action"
    assert created.provider_order_id == found.provider_order_id
    again = await h.create(req)  # a repeat reuses the payment too
    assert again.provider_payment_id == created.provider_payment_id
    orders = await h.http.get(
        f"{fake_providers.base}/razorpay/v1/orders",
        params={"receipt": req.attempt_id},
        auth=(h.creds["key_id"], h.creds["key_secret"]),
    )
    assert orders.json()["count"] == 1
    h.complete(created.provider_order_id or "")
    await h.wait_event(paid)
    assert h.captures(req.payment_id) == 1


async def test_razorpay_refunds_are_idempotent_by_our_refund_id(fake_providers, http, receiver):
    h = harness(fake_providers, "razorpay", http, receiver)
    req = charge("upi", "success@razorpay", amount=30_000)
    created = await h.create(req)
    await h.wait_event(paid)
    refund = h.refund_request(req, created, 10_000)
    first, second = await h.refund(refund), await h.refund(refund)
    assert first.provider_refund_id == second.provider_refund_id
    event, _ = await h.wait_event(
        lambda e: e.kind == "refund" and e.status == "succeeded" and e.refund_id == refund.refund_id
    )
    assert (event.refund_id, event.amount) == (refund.refund_id, 10_000)


# -- Cashfree ----------------------------------------------------------------------------------


async def test_cashfree_needs_the_customer_phone(fake_providers, http, receiver):
    h = harness(fake_providers, "cashfree", http, receiver)
    result = await h.create(charge("upi", "testsuccess@gocash", customer=Customer(email="a@b.c")))
    assert (result.status, result.sent, result.error_code) == (
        "error",
        False,
        "customer_phone_required",
    )
    assert fake_providers.calls().get("cashfree", 0) == 0


async def test_cashfree_upi_sequence_is_safe_to_repeat(fake_providers, http, receiver):
    """The order (order_id = attempt id) is made but the answer is lost: a repeat gets 409,
    reuses the order and pays it once."""
    h = harness(fake_providers, "cashfree", http, receiver)
    req = charge("upi", "testsuccess@gocash", amount=12_345, notify_url=receiver.url)
    fake_providers.mode("cashfree", "error_after_commit")
    assert (await h.create(req)).status == "unknown"
    fake_providers.mode("cashfree", "ok")
    found = await h.find(req)
    assert (found.status, found.provider_order_id) == ("not_found", req.attempt_id)
    created = await h.create(req)
    assert created.status == "requires_action"
    again = await h.create(req)
    assert again.provider_payment_id == created.provider_payment_id
    event, request = await h.wait_event(paid)
    assert (event.amount, event.attempt_id) == (12_345, req.attempt_id)
    assert b"123.45" in request["body"].encode()  # rupees with two decimals on the wire
    assert h.captures(req.payment_id) == 1


async def test_cashfree_refund_of_a_link_payment_uses_the_link_order(
    fake_providers, http, receiver
):
    h = harness(fake_providers, "cashfree", http, receiver)
    req = charge("card", amount=20_050, notify_url=receiver.url)
    created = await h.create(req)
    assert created.next_action
    h.fake.client.post(created.next_action["url"] + "/complete", json={"outcome": "success"})
    await h.wait_event(paid)
    # Without the CFPay_ order id (as a caller that only kept the attempt id would be).
    ours = h.refund_request(req, created, 5_050)
    refund = await h.refund(ours)
    assert (refund.status, refund.amount) == ("succeeded", 5_050)
    event, _ = await h.wait_event(lambda e: e.kind == "refund" and e.refund_id == ours.refund_id)
    assert event.provider_order_id and event.provider_order_id.startswith("CFPay_")


# -- Stripe ------------------------------------------------------------------------------------


async def test_stripe_refuses_what_checkout_cannot_do(fake_providers, http, receiver):
    h = harness(fake_providers, "stripe", http, receiver)
    netbanking = await h.create(charge("netbanking"))
    assert (netbanking.status, netbanking.sent) == ("error", False)
    assert netbanking.error_code == "payment_method_not_supported"
    no_return = await h.create(charge("card", return_url=None))
    assert (no_return.status, no_return.error_code) == ("error", "return_url_required")
    assert fake_providers.calls().get("stripe", 0) == 0


async def test_stripe_idempotency_key_replays_the_session(fake_providers, http, receiver):
    h = harness(fake_providers, "stripe", http, receiver)
    req = charge("upi")
    first, second = await h.create(req), await h.create(req)
    assert first.status == second.status == "requires_action"
    assert first.provider_order_id == second.provider_order_id
    changed = ChargeRequest(**{**req.__dict__, "amount": req.amount + 1})
    conflict = await h.create(changed)
    assert (conflict.status, conflict.error_code) == ("unknown", "idempotency_error")


async def test_stripe_lost_answer_is_found_by_listing(fake_providers, receiver):
    fake_providers.mode("stripe", "hang_after_commit")
    async with httpx.AsyncClient(timeout=0.5) as http:
        h = harness(fake_providers, "stripe", http, receiver)
        req = charge("card")
        lost = await h.create(req)
        assert (lost.status, lost.error_code) == ("unknown", "timeout")
        fake_providers.mode("stripe", "ok")
        in_flight = await h.create(req)  # the first request never finished
        assert (in_flight.status, in_flight.http_status) == ("unknown", 409)
        found = await h.find(req)
    assert found.status == "requires_action" and found.provider_order_id
    assert found.next_action and found.next_action["type"] == "redirect"


async def test_stripe_stale_and_multiple_signatures(fake_providers, http, receiver):
    h = harness(fake_providers, "stripe", http, receiver)
    req = charge("card")
    created = await h.create(req)
    assert created.next_action
    h.fake.client.post(created.next_action["url"] + "/complete", json={"outcome": "success"})
    _, request = await h.wait_event(paid)
    body = request["body"].encode()
    secret = h.creds["webhook_secret"].encode()

    def signed(stamp: int, *extra: str) -> dict[str, str]:
        mac = hmac.new(secret, str(stamp).encode() + b"." + body, hashlib.sha256).hexdigest()
        return {"Stripe-Signature": ",".join([f"t={stamp}", *extra, f"v1={mac}"])}

    now = int(time.time())
    h.client.verify_webhook(signed(now, "v1=" + "0" * 64, "v0=abc"), body, [h.creds])
    with pytest.raises(WebhookRejected) as stale:
        h.client.verify_webhook(signed(now - 301), body, [h.creds])
    assert stale.value.reason == "stale_timestamp"
    with pytest.raises(WebhookRejected) as malformed:
        h.client.verify_webhook({"Stripe-Signature": "v1=abc"}, body, [h.creds])
    assert malformed.value.reason == "malformed"
