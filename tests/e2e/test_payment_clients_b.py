"""PayU, PhonePe and Paytm payment clients against the fake provider server over real HTTP:
UPI collect success and decline, pending then a signed webhook, hosted-page redirects,
transport failures (hang, 5xx, 429, acted-then-500), refunds, webhook verification."""

import asyncio
import contextlib
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from edge_adapter.fake_providers import FAKE_CREDENTIALS
from edge_adapter.gateways import PROVIDERS as CLIENTS
from edge_adapter.gateways import paytm, payu, phonepe
from edge_adapter.gateways.payments import (
    ChargeRef,
    ChargeRequest,
    ChargeResult,
    Customer,
    ProviderCall,
    RefundRequest,
    RefundResult,
    WebhookRejected,
    run_provider_call,
)

GROUP = ["payu", "phonepe", "paytm"]
MODULES: dict[str, Any] = {"payu": payu, "phonepe": phonepe, "paytm": paytm}
SUCCESS_VPA = {"payu": "success@payu", "phonepe": "success@phonepe", "paytm": "buyer@paytm"}
FAILURE_VPA = {"payu": "failure@payu", "phonepe": "failure@phonepe", "paytm": "failure@paytm"}
WAITING_VPA = "customer@okbank"  # no automatic outcome: the customer approves later


def charge_request(
    method: str = "upi", vpa: str | None = None, amount: int = 10_000, attempt: str | None = None
) -> ChargeRequest:
    uid = uuid.uuid4().hex
    return ChargeRequest(
        payment_id=f"pay_{uid[:16]}",
        attempt_id=attempt or f"att_{uid[16:36]}",
        amount=amount,
        currency="INR",
        method=method,  # type: ignore[arg-type]
        upi_vpa=vpa,
        customer=Customer(email="buyer@example.com", phone="9999999999"),
        description="Order 1001",
        return_url="https://merchant.example/return",
        notify_url="https://api.example/providers/hooks",
    )


def ref(req: ChargeRequest) -> ChargeRef:
    return ChargeRef(req.payment_id, req.attempt_id, req.amount, req.currency)


@contextlib.asynccontextmanager
async def provider_call(
    fake, provider: str, limit_s: float = 3.0, creds: dict[str, str] | None = None
) -> AsyncIterator[ProviderCall]:
    async with httpx.AsyncClient(timeout=limit_s) as http:
        yield ProviderCall(
            http, f"{fake.base}/{provider}", dict(creds or FAKE_CREDENTIALS[provider])
        )


async def create(provider: str, call: ProviderCall, req: ChargeRequest) -> ChargeResult:
    result = await run_provider_call(CLIENTS[provider].create_charge, call, req)
    assert isinstance(result, ChargeResult)
    return result


async def eventually(check: Callable[[], Any], wait_s: float = 5.0) -> Any:
    """Poll until check() (sync or async) returns something truthy."""
    deadline = time.monotonic() + wait_s
    while True:
        value = check()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def listen(fake, provider: str, receiver) -> None:
    """Point the provider's webhooks (its dashboard setting) at the test's receiver."""
    fake.client.post("/_webhooks", json={"provider": provider, "url": receiver.url})


def captures(fake) -> dict[str, int]:
    return fake.client.get("/_captures").json()


async def payment_hook(receiver, provider: str) -> tuple[dict[str, str], bytes]:
    """The first payment webhook the receiver got (PayU's refund callbacks are JSON)."""

    def first() -> dict | None:
        for hook in receiver.requests:
            if provider == "payu" and hook["body"].startswith("{"):
                continue
            if '"refId"' in hook["body"] or "pg.refund" in hook["body"]:
                continue
            return hook
        return None

    hook = await eventually(first)
    return hook["headers"], hook["body"].encode()


async def complete(fake, provider: str, order_id: str, outcome: str) -> None:
    response = fake.client.post(
        f"/_hosted/{provider}/{order_id}/complete", params={"outcome": outcome}
    )
    assert response.status_code == 200, response.text


async def status_is(provider: str, call: ProviderCall, req: ChargeRequest, wanted: str):
    async def check():
        result = await CLIENTS[provider].fetch_status(call, ref(req))
        return result if result.status == wanted else None

    return await eventually(check)


# -- charges ---------------------------------------------------------------------------------
@pytest.mark.parametrize("provider", GROUP)
async def test_upi_collect_succeeds_and_the_signed_webhook_verifies(
    fake_providers, receiver, provider
):
    listen(fake_providers, provider, receiver)
    client = CLIENTS[provider]
    req = charge_request(vpa=SUCCESS_VPA[provider])
    async with provider_call(fake_providers, provider) as call:
        result = await create(provider, call, req)
        assert result.status == "requires_action", result
        assert result.next_action == {"type": "upi_collect", "vpa": SUCCESS_VPA[provider]}
        headers, body = await payment_hook(receiver, provider)
        client.verify_webhook(headers, body, [FAKE_CREDENTIALS[provider]])
        event = client.parse_webhook(headers, body)
        assert (event.kind, event.status) == ("payment", "succeeded")
        assert (event.attempt_id, event.payment_id) == (req.attempt_id, req.payment_id)
        assert (event.amount, event.currency) == (10_000, "INR")
        assert event.event_id == client.parse_webhook(headers, body).event_id  # stable
        status = await client.fetch_status(call, ref(req))
        assert (status.status, status.amount, status.currency) == ("succeeded", 10_000, "INR")
        assert status.provider_payment_id
    assert captures(fake_providers) == {req.payment_id: 1}


@pytest.mark.parametrize("provider", GROUP)
async def test_a_declined_upi_collect_fails_with_a_mapped_error(fake_providers, receiver, provider):
    listen(fake_providers, provider, receiver)
    client = CLIENTS[provider]
    req = charge_request(vpa=FAILURE_VPA[provider])
    async with provider_call(fake_providers, provider) as call:
        assert (await create(provider, call, req)).status == "requires_action"
        failed = await status_is(provider, call, req, "failed")
        assert failed.error_code in MODULES[provider].ERROR_MAP, failed
        decision, unified, _ = MODULES[provider].ERROR_MAP[failed.error_code]
        assert decision in ("retry", "next", "fail") and unified
        headers, body = await payment_hook(receiver, provider)
        client.verify_webhook(headers, body, [FAKE_CREDENTIALS[provider]])
        event = client.parse_webhook(headers, body)
        assert (event.status, event.attempt_id) == ("failed", req.attempt_id)
        assert event.error_code
    assert captures(fake_providers) == {}


@pytest.mark.parametrize("provider", GROUP)
async def test_pending_then_the_customer_approves_and_a_webhook_says_so(
    fake_providers, receiver, provider
):
    listen(fake_providers, provider, receiver)
    client = CLIENTS[provider]
    req = charge_request(vpa=WAITING_VPA)
    async with provider_call(fake_providers, provider) as call:
        result = await create(provider, call, req)
        assert (result.status, result.next_action) == (
            "requires_action",
            {"type": "upi_collect", "vpa": WAITING_VPA},
        )
        assert (await client.fetch_status(call, ref(req))).status == "pending"
        await asyncio.sleep(0.4)
        assert receiver.requests == []  # nothing happens until the customer acts
        await complete(fake_providers, provider, req.attempt_id, "success")
        headers, body = await payment_hook(receiver, provider)
        client.verify_webhook(headers, body, [FAKE_CREDENTIALS[provider]])
        event = client.parse_webhook(headers, body)
        assert (event.status, event.attempt_id, event.amount) == (
            "succeeded",
            req.attempt_id,
            10_000,
        )
        assert (await client.fetch_status(call, ref(req))).status == "succeeded"
        # a second completion moves nothing
        await complete(fake_providers, provider, req.attempt_id, "success")
    assert captures(fake_providers) == {req.payment_id: 1}


async def pay_on_hosted_page(http: httpx.AsyncClient, action: dict, outcome: str) -> None:
    """What the customer's browser does with a redirect next_action."""
    assert action["type"] == "redirect"
    if action.get("method") == "POST":  # PayU and Paytm: the browser posts a signed form
        posted = await http.post(action["url"], data=action["fields"])
        assert posted.status_code == 303, posted.text
        page = urljoin(action["url"], posted.headers["location"])
    else:
        page = action["url"]
    shown = await http.get(page)
    assert shown.status_code == 200 and "test checkout" in shown.text
    done = await http.post(f"{page}/complete", params={"outcome": outcome})
    assert done.status_code == 200


@pytest.mark.parametrize("provider", GROUP)
@pytest.mark.parametrize("method", ["card", "netbanking", "wallet"])
async def test_a_redirect_is_completed_on_the_hosted_page(
    fake_providers, receiver, provider, method
):
    listen(fake_providers, provider, receiver)
    client = CLIENTS[provider]
    req = charge_request(method=method)
    async with provider_call(fake_providers, provider) as call:
        result = await create(provider, call, req)
        assert result.status == "requires_action", result
        await pay_on_hosted_page(call.http, result.next_action or {}, "success")
        status = await client.fetch_status(call, ref(req))
        assert (status.status, status.amount) == ("succeeded", 10_000)
    headers, body = await payment_hook(receiver, provider)
    client.verify_webhook(headers, body, [FAKE_CREDENTIALS[provider]])
    event = client.parse_webhook(headers, body)
    assert (event.status, event.attempt_id, event.payment_id) == (
        "succeeded",
        req.attempt_id,
        req.payment_id,
    )
    assert captures(fake_providers) == {req.payment_id: 1}


@pytest.mark.parametrize("provider", GROUP)
async def test_a_redirect_declined_on_the_hosted_page_fails(fake_providers, provider):
    req = charge_request(method="card")
    async with provider_call(fake_providers, provider) as call:
        result = await create(provider, call, req)
        await pay_on_hosted_page(call.http, result.next_action or {}, "failure")
        status = await CLIENTS[provider].fetch_status(call, ref(req))
    assert status.status == "failed" and status.error_code in MODULES[provider].ERROR_MAP
    assert captures(fake_providers) == {}


@pytest.mark.parametrize("provider", ["phonepe", "paytm"])
async def test_repeating_a_create_answers_the_existing_order(fake_providers, provider):
    req = charge_request(vpa=WAITING_VPA)
    async with provider_call(fake_providers, provider) as call:
        first = await create(provider, call, req)
        assert first.status == "requires_action"
        again = await create(provider, call, req)
        assert again.status == "pending", again  # the order exists: no second one
        await complete(fake_providers, provider, req.attempt_id, "success")
        assert (await create(provider, call, req)).status == "succeeded"
    assert captures(fake_providers) == {req.payment_id: 1}


async def test_payu_hosted_form_is_signed_with_the_documented_hash(fake_providers):
    req = charge_request(method="card")
    async with provider_call(fake_providers, "payu") as call:
        result = await create("payu", call, req)
    fields = (result.next_action or {})["fields"]
    creds = FAKE_CREDENTIALS["payu"]
    parts = [creds["merchant_key"], req.attempt_id, "100.00", "Order 1001", "Customer"]
    parts += ["buyer@example.com", req.payment_id, req.attempt_id, "", "", ""]
    sequence = "|".join(parts)
    expected = hashlib.sha512(f"{sequence}||||||{creds['merchant_salt']}".encode()).hexdigest()
    assert fields["hash"] == expected
    assert (fields["txnid"], fields["amount"], fields["udf1"]) == (
        req.attempt_id,
        "100.00",
        req.payment_id,
    )
    assert fake_providers.calls() == {}  # building the form calls nothing


async def test_payu_tampered_form_is_refused_by_the_provider(fake_providers):
    req = charge_request(method="card")
    async with provider_call(fake_providers, "payu") as call:
        action = (await create("payu", call, req)).next_action or {}
        tampered = {**action["fields"], "amount": "1.00"}
        answer = await call.http.post(action["url"], data=tampered)
    assert answer.status_code == 200 and "Invalid Hash" in answer.text


@pytest.mark.parametrize("provider", ["phonepe", "paytm"])
async def test_upi_without_a_vpa_is_an_intent(fake_providers, provider):
    req = charge_request(vpa=None)
    async with provider_call(fake_providers, provider) as call:
        result = await create(provider, call, req)
    assert result.status == "requires_action"
    assert (result.next_action or {})["type"] == "upi_intent"
    assert (result.next_action or {})["url"].startswith("upi://pay?")


async def test_payu_upi_without_a_vpa_goes_to_the_hosted_page(fake_providers):
    async with provider_call(fake_providers, "payu") as call:
        result = await create("payu", call, charge_request(vpa=None))
    assert (result.next_action or {})["type"] == "redirect"


@pytest.mark.parametrize("provider", GROUP)
async def test_an_unknown_attempt_is_not_found(fake_providers, provider):
    async with provider_call(fake_providers, provider) as call:
        found = await CLIENTS[provider].find_charge(call, charge_request(vpa=WAITING_VPA))
    assert found.status == "not_found", found


@pytest.mark.parametrize("provider", GROUP)
async def test_bad_credentials_create_nothing(fake_providers, provider):
    creds = {
        k: v[:-1] + ("x" if v[-1] != "x" else "y") for k, v in FAKE_CREDENTIALS[provider].items()
    }
    if provider == "paytm":
        creds["merchant_key"] = "another&key#1234"  # a valid AES key that is not ours
    if provider == "phonepe":
        phonepe.clear_token_cache()
    req = charge_request(vpa=WAITING_VPA)
    async with provider_call(fake_providers, provider, creds=creds) as call:
        result = await create(provider, call, req)
    assert (result.status, result.sent) == ("error", False), result
    assert result.error_code in MODULES[provider].ERROR_MAP or result.error_code == "auth_failed"
    assert fake_providers.client.get(f"/_hosted/{provider}/{req.attempt_id}").status_code == 404


# -- transport outcomes ------------------------------------------------------------------------
async def _warm(fake, provider: str) -> None:
    """PhonePe needs a token first; fetch one so the faults hit the payment call itself."""
    if provider == "phonepe":
        async with provider_call(fake, provider) as call:
            await CLIENTS[provider].find_charge(call, charge_request())


@pytest.mark.parametrize("provider", GROUP)
async def test_a_hang_is_unknown_within_the_timeout(fake_providers, provider):
    await _warm(fake_providers, provider)
    fake_providers.mode(provider, "hang")
    async with provider_call(fake_providers, provider, limit_s=0.5) as call:
        started = time.monotonic()
        result = await create(provider, call, charge_request(vpa=WAITING_VPA))
    assert (result.status, result.error_code, result.sent) == ("unknown", "timeout", True)
    assert time.monotonic() - started < 2


async def test_phonepe_without_a_token_a_hang_creates_nothing(fake_providers):
    phonepe.clear_token_cache()
    fake_providers.mode("phonepe", "hang")
    async with provider_call(fake_providers, "phonepe", limit_s=0.5) as call:
        result = await create("phonepe", call, charge_request(vpa=WAITING_VPA))
    assert (result.status, result.error_code, result.sent) == ("error", "timeout", False)


@pytest.mark.parametrize("provider", GROUP)
async def test_a_5xx_is_unknown(fake_providers, provider):
    await _warm(fake_providers, provider)
    fake_providers.mode(provider, "error")
    async with provider_call(fake_providers, provider) as call:
        result = await create(provider, call, charge_request(vpa=WAITING_VPA))
    assert (result.status, result.http_status, result.sent) == ("unknown", 503, True)


@pytest.mark.parametrize("provider", GROUP)
async def test_429_is_an_error_that_sent_nothing(fake_providers, provider):
    await _warm(fake_providers, provider)
    fake_providers.mode(provider, "rate_limit")
    async with provider_call(fake_providers, provider) as call:
        result = await create(provider, call, charge_request(vpa=WAITING_VPA))
    assert (result.status, result.error_code, result.sent) == ("error", "rate_limited", False)


@pytest.mark.parametrize("provider", GROUP)
async def test_acted_then_500_is_unknown_and_find_charge_prevents_a_second_charge(
    fake_providers, provider
):
    await _warm(fake_providers, provider)
    client = CLIENTS[provider]
    req = charge_request(vpa=WAITING_VPA)
    fake_providers.mode(provider, "error_after_commit")
    async with provider_call(fake_providers, provider) as call:
        result = await create(provider, call, req)
        assert (result.status, result.http_status) == ("unknown", 500)
        fake_providers.mode(provider, "ok")
        found = await client.find_charge(call, req)
        assert found.status in ("pending", "requires_action"), found  # it exists: do not create
        await complete(fake_providers, provider, req.attempt_id, "success")
        assert (await client.find_charge(call, req)).status == "succeeded"
    assert captures(fake_providers) == {req.payment_id: 1}


async def test_a_closed_port_is_an_error_that_sent_nothing():
    from .conftest import free_port

    async with httpx.AsyncClient(timeout=1) as http:
        call = ProviderCall(http, f"http://127.0.0.1:{free_port()}/payu", FAKE_CREDENTIALS["payu"])
        result = await run_provider_call(payu.client.create_charge, call, charge_request(vpa="a@b"))
    assert (result.status, result.error_code, result.sent) == ("error", "unreachable", False)


# -- PhonePe token -----------------------------------------------------------------------------
async def test_phonepe_caches_its_token_per_credentials(fake_providers):
    phonepe.clear_token_cache()
    async with provider_call(fake_providers, "phonepe") as call:
        await create("phonepe", call, charge_request(vpa=WAITING_VPA))
        assert fake_providers.calls()["phonepe"] == 2  # token + pay
        await create("phonepe", call, charge_request(vpa=WAITING_VPA))
        await phonepe.client.find_charge(call, charge_request())
        assert fake_providers.calls()["phonepe"] == 4  # the same token, no new token call


async def test_phonepe_refetches_a_refused_token_once(fake_providers):
    phonepe.clear_token_cache()
    async with provider_call(fake_providers, "phonepe") as call:
        phonepe._TOKENS[phonepe._cache_key(call)] = phonepe._Token("revoked", time.time() + 900)
        result = await create("phonepe", call, charge_request(vpa=WAITING_VPA))
    assert result.status == "requires_action", result
    assert fake_providers.calls()["phonepe"] == 3  # refused pay, token, pay


async def test_phonepe_refreshes_a_token_shortly_before_it_expires(fake_providers):
    phonepe.clear_token_cache()
    async with provider_call(fake_providers, "phonepe") as call:
        first = await phonepe.access_token(call)
        key = phonepe._cache_key(call)
        phonepe._TOKENS[key].expires_at = time.time() + phonepe.TOKEN_MARGIN_S - 1
        second = await phonepe.access_token(call)
    assert first != second and fake_providers.calls()["phonepe"] == 2


# -- refunds -----------------------------------------------------------------------------------
async def _paid(fake, provider: str, call: ProviderCall, amount: int = 10_000):
    req = charge_request(vpa=SUCCESS_VPA[provider], amount=amount)
    assert (await create(provider, call, req)).status == "requires_action"
    paid = await status_is(provider, call, req, "succeeded")
    return req, paid


def refund_request(req: ChargeRequest, amount: int, paid: ChargeResult | None) -> RefundRequest:
    return RefundRequest(
        refund_id=f"rfd_{uuid.uuid4().hex[:16]}",
        payment_id=req.payment_id,
        attempt_id=req.attempt_id,
        amount=amount,
        currency="INR",
        provider_order_id=paid.provider_order_id if paid else None,
        provider_payment_id=paid.provider_payment_id if paid else None,
    )


async def refund(provider: str, call: ProviderCall, rr: RefundRequest) -> RefundResult:
    result = await run_provider_call(CLIENTS[provider].refund, call, rr, refund=True)
    assert isinstance(result, RefundResult)
    return result


@pytest.mark.parametrize("provider", GROUP)
async def test_partial_refunds_up_to_the_captured_amount_and_no_further(fake_providers, provider):
    client = CLIENTS[provider]
    async with provider_call(fake_providers, provider) as call:
        req, paid = await _paid(fake_providers, provider, call)
        first = refund_request(req, 4_000, paid)
        accepted = await refund(provider, call, first)
        assert accepted.status in ("pending", "succeeded"), accepted
        assert accepted.provider_refund_id
        fetched = await client.fetch_refund(
            call,
            RefundRequest(**{**first.__dict__, "provider_refund_id": accepted.provider_refund_id}),
        )
        assert (fetched.status, fetched.amount) == ("succeeded", 4_000)
        # without the payment's provider ids the client looks them up
        rest = await refund(provider, call, refund_request(req, 6_000, None))
        assert rest.status in ("pending", "succeeded"), rest
        over = await refund(provider, call, refund_request(req, 100, paid))
        assert over.status == "failed" and over.error_code, over
        missing = await client.fetch_refund(call, refund_request(req, 100, paid))
        assert missing.status == "not_found"


@pytest.mark.parametrize("provider", GROUP)
async def test_a_full_refund_and_an_over_refund_refused(fake_providers, provider):
    client = CLIENTS[provider]
    async with provider_call(fake_providers, provider) as call:
        req, paid = await _paid(fake_providers, provider, call)
        over = await refund(provider, call, refund_request(req, 10_001, paid))
        assert over.status == "failed", over
        full = refund_request(req, 10_000, paid)
        assert (await refund(provider, call, full)).status in ("pending", "succeeded")
        fetched = await client.fetch_refund(call, full)  # by our refund id alone
        assert (fetched.status, fetched.amount) == ("succeeded", 10_000)


@pytest.mark.parametrize("provider", GROUP)
async def test_refunding_an_unpaid_attempt_is_refused(fake_providers, provider):
    async with provider_call(fake_providers, provider) as call:
        req = charge_request(vpa=WAITING_VPA)
        await create(provider, call, req)
        result = await refund(provider, call, refund_request(req, 1_000, None))
    assert result.status == "failed", result


@pytest.mark.parametrize("provider", ["payu", "paytm"])
async def test_repeating_a_refund_id_finds_the_first_refund(fake_providers, provider):
    async with provider_call(fake_providers, provider) as call:
        req, paid = await _paid(fake_providers, provider, call)
        rr = refund_request(req, 2_000, paid)
        assert (await refund(provider, call, rr)).status in ("pending", "succeeded")
        again = await refund(provider, call, rr)
        assert (again.status, again.amount) == ("succeeded", 2_000)
        # and only 8 000 is left to refund
        assert (await refund(provider, call, refund_request(req, 8_001, paid))).status == "failed"


# -- webhook verification ------------------------------------------------------------------------
def _tampered(provider: str, headers: dict[str, str], body: bytes) -> tuple[dict, bytes]:
    if provider == "phonepe":  # the header signs the credentials, not the body
        auth = next(k for k in headers if k.lower() == "authorization")
        return {**headers, auth: "0" * 64}, body
    if provider == "payu":
        return headers, body.replace(b"amount=100.00", b"amount=1.00")
    return headers, body.replace(b'"txnAmount":"100.00"', b'"txnAmount":"1.00"')


def _wrong(provider: str) -> dict[str, str]:
    creds = dict(FAKE_CREDENTIALS[provider])
    field = {"payu": "merchant_salt", "phonepe": "webhook_password", "paytm": "merchant_key"}
    creds[field[provider]] = "another&key#1234"
    return creds


def _unsigned(provider: str, headers: dict[str, str], body: bytes) -> tuple[dict, bytes]:
    if provider == "phonepe":
        return {k: v for k, v in headers.items() if k.lower() != "authorization"}, body
    if provider == "payu":
        parts = [p for p in body.split(b"&") if not p.startswith(b"hash=")]
        return headers, b"&".join(parts)
    return headers, body.replace(b'"signature":"', b'"signature_":"')


@pytest.mark.parametrize("provider", GROUP)
async def test_webhook_verification(fake_providers, receiver, provider):
    listen(fake_providers, provider, receiver)
    client = CLIENTS[provider]
    async with provider_call(fake_providers, provider) as call:
        await _paid(fake_providers, provider, call)
    headers, body = await payment_hook(receiver, provider)
    good = FAKE_CREDENTIALS[provider]
    client.verify_webhook(headers, body, [good])
    client.verify_webhook(headers, body, [_wrong(provider), good])  # previous secret, rotation
    with pytest.raises(WebhookRejected) as wrong:
        client.verify_webhook(headers, body, [_wrong(provider)])
    assert wrong.value.reason == "bad_signature"
    with pytest.raises(WebhookRejected) as tampered:
        client.verify_webhook(*_tampered(provider, headers, body), [good])
    assert tampered.value.reason == "bad_signature"
    with pytest.raises(WebhookRejected) as unsigned:
        client.verify_webhook(*_unsigned(provider, headers, body), [good])
    assert unsigned.value.reason == "missing_signature"
    with pytest.raises(WebhookRejected):
        client.verify_webhook(headers, body, [])


@pytest.mark.parametrize("provider", ["phonepe", "paytm"])
async def test_refund_webhooks_verify_and_parse(fake_providers, receiver, provider):
    listen(fake_providers, provider, receiver)
    client = CLIENTS[provider]
    async with provider_call(fake_providers, provider) as call:
        req, paid = await _paid(fake_providers, provider, call)
        rr = refund_request(req, 3_000, paid)
        await refund(provider, call, rr)

    def refund_hook():
        return next(
            (h for h in receiver.requests if rr.refund_id in h["body"]),
            None,
        )

    hook = await eventually(refund_hook)
    client.verify_webhook(hook["headers"], hook["body"].encode(), [FAKE_CREDENTIALS[provider]])
    event = client.parse_webhook(hook["headers"], hook["body"].encode())
    assert (event.kind, event.status, event.refund_id) == ("refund", "succeeded", rr.refund_id)
    assert (event.amount, event.attempt_id) == (3_000, req.attempt_id)


async def test_payu_refund_callbacks_are_unsigned_and_refused(fake_providers, receiver):
    listen(fake_providers, "payu", receiver)
    async with provider_call(fake_providers, "payu") as call:
        req, paid = await _paid(fake_providers, "payu", call)
        await refund("payu", call, refund_request(req, 1_000, paid))
    hook = await eventually(
        lambda: next((h for h in receiver.requests if h["body"].startswith("{")), None)
    )
    with pytest.raises(WebhookRejected) as rejected:
        payu.client.verify_webhook(
            hook["headers"], hook["body"].encode(), [FAKE_CREDENTIALS["payu"]]
        )
    assert rejected.value.reason in ("malformed", "missing_signature")


async def test_payu_long_attempt_ids_become_a_stable_txnid(fake_providers):
    attempt = "att_" + "x" * 36  # 40 characters, PayU takes 25
    req = charge_request(vpa=SUCCESS_VPA["payu"], attempt=attempt)
    async with provider_call(fake_providers, "payu") as call:
        result = await create("payu", call, req)
        assert result.provider_order_id == payu.txnid_for(attempt)
        assert len(result.provider_order_id or "") == 25
        paid = await status_is("payu", call, req, "succeeded")
    assert paid.provider_order_id == payu.txnid_for(attempt)


async def test_paytm_form_webhooks_verify_with_checksumhash():
    from urllib.parse import urlencode

    params = {
        "MID": "FAKEMID12345678",
        "ORDERID": "att_1",
        "STATUS": "TXN_SUCCESS",
        "TXNAMOUNT": "1.00",
    }
    key = FAKE_CREDENTIALS["paytm"]["merchant_key"]
    signature = paytm.generate_signature(paytm.params_string(params), key)
    body = urlencode({**params, "CHECKSUMHASH": signature}).encode()
    headers = {"content-type": "application/x-www-form-urlencoded"}
    paytm.client.verify_webhook(headers, body, [FAKE_CREDENTIALS["paytm"]])
    event = paytm.client.parse_webhook(headers, body)
    assert (event.status, event.attempt_id, event.amount) == ("succeeded", "att_1", 100)
    forged = body.replace(b"TXNAMOUNT=1.00", b"TXNAMOUNT=9.00")
    with pytest.raises(WebhookRejected):
        paytm.client.verify_webhook(headers, forged, [FAKE_CREDENTIALS["paytm"]])
