"""Each provider client's cancel request (path, method, auth, body) and how it reads the
answer, and each client's pre-flight requirements: what a charge needs that a payment may
lack. The HTTP side is httpx's MockTransport, so the exact request is asserted."""

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from edge_adapter.gateways import PROVIDERS
from edge_adapter.gateways.payments import (
    ChargeRef,
    ChargeRequest,
    Customer,
    ProviderCall,
    VoidResult,
    run_provider_call,
)

CREDS: dict[str, dict[str, str]] = {
    "sandbox": {"api_key": "sk_sbx", "api_secret": "ss_sbx"},
    "razorpay": {"key_id": "rzp_test_key", "key_secret": "rzp_secret"},
    "stripe": {"secret_key": "sk_test_abc"},
    "cashfree": {"client_id": "cf_id", "client_secret": "cf_secret"},
    "payu": {"merchant_key": "pk", "merchant_salt": "ps"},
    "phonepe": {"client_id": "pp", "client_secret": "pps", "client_version": "1"},
    "paytm": {"mid": "MID123", "merchant_key": "k" * 16},
}
CUSTOMER = Customer(email="buyer@example.com", phone="+919876543210")


class Recorder:
    """A MockTransport that records every request and answers from a script."""

    def __init__(self, *answers: httpx.Response | Callable[[httpx.Request], httpx.Response]):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.answers:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answer = self.answers.pop(0)
        return answer(request) if callable(answer) else answer


def call_for(provider: str, recorder: Recorder, **creds: str) -> ProviderCall:
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    return ProviderCall(
        http=http, base_url=f"https://{provider}.test", credentials={**CREDS[provider], **creds}
    )


def ref(method: str = "card", **ids: Any) -> ChargeRef:
    return ChargeRef("pay_1", "att_00000000000000000001", 10_000, "INR", method=method, **ids)


def charge(method: str = "card", **fields: Any) -> ChargeRequest:
    base: dict[str, Any] = {
        "customer": CUSTOMER,
        "return_url": "https://shop.example/return",
        "notify_url": "https://api.example/hook",
    }
    base.update(fields)
    return ChargeRequest("pay_1", "att_00000000000000000001", 10_000, "INR", method, **base)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- sandbox (our own API: POST /v1/charges/{id}/cancel) ---------------------------------------


async def test_sandbox_cancels_the_charge_with_its_api_keys():
    rec = Recorder(httpx.Response(200, json={"id": "ch_1", "status": "canceled"}))
    result = await PROVIDERS["sandbox"].cancel_charge(
        call_for("sandbox", rec), ref(provider_payment_id="ch_1")
    )
    assert result.status == "voided"
    (request,) = rec.requests
    assert (request.method, request.url.path) == ("POST", "/v1/charges/ch_1/cancel")
    assert request.headers["x-api-key"] == "sk_sbx"
    assert request.headers["x-api-secret"] == "ss_sbx"


async def test_sandbox_already_paid_and_transient_answers():
    paid = Recorder(
        httpx.Response(
            409,
            json={"error": {"code": "charge_not_cancelable"}, "charge": {"status": "succeeded"}},
        )
    )
    result = await PROVIDERS["sandbox"].cancel_charge(
        call_for("sandbox", paid), ref(provider_payment_id="ch_1")
    )
    assert result.status == "already_paid"
    down = Recorder(httpx.Response(503, json={"error": "unavailable"}))
    result = await PROVIDERS["sandbox"].cancel_charge(
        call_for("sandbox", down), ref(provider_payment_id="ch_1")
    )
    assert (result.status, result.transient) == ("unknown", True)
    refused = Recorder(httpx.Response(401, json={"error": {"code": "invalid_api_key"}}))
    result = await PROVIDERS["sandbox"].cancel_charge(
        call_for("sandbox", refused), ref(provider_payment_id="ch_1")
    )
    assert (result.status, result.error_code, result.transient) == (
        "failed",
        "auth_failed",
        False,
    )


# -- Razorpay: payment links only ----------------------------------------------------------------


async def test_razorpay_cancels_a_payment_link_with_basic_auth():
    rec = Recorder(httpx.Response(200, json={"id": "plink_A", "status": "cancelled"}))
    result = await PROVIDERS["razorpay"].cancel_charge(
        call_for("razorpay", rec), ref(provider_order_id="plink_A")
    )
    assert result.status == "voided"
    (request,) = rec.requests
    assert (request.method, request.url.path) == ("POST", "/v1/payment_links/plink_A/cancel")
    assert request.headers["authorization"] == basic("rzp_test_key", "rzp_secret")


async def test_razorpay_refusal_reads_the_link_state_paid_means_already_paid():
    rec = Recorder(
        httpx.Response(
            400, json={"error": {"code": "BAD_REQUEST_ERROR", "description": "cannot cancel"}}
        ),
        httpx.Response(200, json={"id": "plink_A", "status": "paid"}),
    )
    result = await PROVIDERS["razorpay"].cancel_charge(
        call_for("razorpay", rec), ref(provider_order_id="plink_A")
    )
    assert result.status == "already_paid"
    assert [(r.method, r.url.path) for r in rec.requests] == [
        ("POST", "/v1/payment_links/plink_A/cancel"),
        ("GET", "/v1/payment_links/plink_A"),
    ]


async def test_razorpay_a_link_still_created_after_a_refusal_is_a_failed_void():
    rec = Recorder(
        httpx.Response(400, json={"error": {"code": "BAD_REQUEST_ERROR", "reason": "NA"}}),
        httpx.Response(200, json={"id": "plink_A", "status": "created"}),
    )
    result = await PROVIDERS["razorpay"].cancel_charge(
        call_for("razorpay", rec), ref(provider_order_id="plink_A")
    )
    assert (result.status, result.error_code) == ("failed", "BAD_REQUEST_ERROR")


async def test_razorpay_upi_has_no_cancel_api_and_makes_no_call():
    rec = Recorder()
    result = await PROVIDERS["razorpay"].cancel_charge(
        call_for("razorpay", rec), ref("upi", provider_order_id="order_X")
    )
    assert (result.status, result.sent) == ("not_supported", False)
    assert rec.requests == []


# -- Stripe: Checkout Session expire -------------------------------------------------------------


async def test_stripe_expires_the_checkout_session_with_the_secret_key():
    rec = Recorder(httpx.Response(200, json={"id": "cs_test_1", "status": "expired"}))
    result = await PROVIDERS["stripe"].cancel_charge(
        call_for("stripe", rec), ref(provider_order_id="cs_test_1")
    )
    assert result.status == "voided"
    (request,) = rec.requests
    assert (request.method, request.url.path) == ("POST", "/v1/checkout/sessions/cs_test_1/expire")
    assert request.headers["authorization"] == "Bearer sk_test_abc"
    assert request.content == b""  # the expire endpoint takes no parameters


async def test_stripe_a_completed_session_is_already_paid():
    rec = Recorder(
        httpx.Response(400, json={"error": {"type": "invalid_request_error", "message": "no"}}),
        httpx.Response(200, json={"id": "cs_test_1", "status": "complete"}),
    )
    result = await PROVIDERS["stripe"].cancel_charge(
        call_for("stripe", rec), ref(provider_order_id="cs_test_1")
    )
    assert result.status == "already_paid"
    assert rec.requests[1].url.path == "/v1/checkout/sessions/cs_test_1"


# -- Cashfree: link cancel, order terminate ------------------------------------------------------


async def test_cashfree_cancels_the_payment_link_by_our_link_id():
    rec = Recorder(httpx.Response(200, json={"link_id": "att_1", "link_status": "CANCELLED"}))
    result = await PROVIDERS["cashfree"].cancel_charge(call_for("cashfree", rec), ref("card"))
    assert result.status == "voided"
    (request,) = rec.requests
    assert (request.method, request.url.path) == (
        "POST",
        "/pg/links/att_00000000000000000001/cancel",
    )
    assert request.headers["x-client-id"] == "cf_id"
    assert request.headers["x-client-secret"] == "cf_secret"
    assert request.headers["x-api-version"] == "2023-08-01"


async def test_cashfree_terminates_a_upi_order():
    rec = Recorder(httpx.Response(200, json={"order_id": "att_1", "order_status": "TERMINATED"}))
    result = await PROVIDERS["cashfree"].cancel_charge(call_for("cashfree", rec), ref("upi"))
    assert result.status == "voided"
    (request,) = rec.requests
    assert (request.method, request.url.path) == ("PATCH", "/pg/orders/att_00000000000000000001")
    assert json.loads(request.content) == {"order_status": "TERMINATED"}


async def test_cashfree_termination_requested_is_asked_again_and_paid_is_already_paid():
    pending = Recorder(httpx.Response(200, json={"order_status": "TERMINATION_REQUESTED"}))
    result = await PROVIDERS["cashfree"].cancel_charge(call_for("cashfree", pending), ref("upi"))
    assert (result.status, result.transient) == ("unknown", True)
    paid = Recorder(
        httpx.Response(400, json={"code": "order_not_active", "message": "paid"}),
        httpx.Response(200, json={"order_id": "att_1", "order_status": "PAID"}),
    )
    result = await PROVIDERS["cashfree"].cancel_charge(call_for("cashfree", paid), ref("upi"))
    assert result.status == "already_paid"
    assert [r.method for r in paid.requests] == ["PATCH", "GET"]


async def test_cashfree_an_api_version_without_terminate_is_not_supported():
    rec = Recorder()
    result = await PROVIDERS["cashfree"].cancel_charge(
        call_for("cashfree", rec, api_version="2022-09-01"), ref("upi")
    )
    assert (result.status, result.error_code) == ("not_supported", "api_version")
    assert rec.requests == []


# -- providers without a cancel API ---------------------------------------------------------------


@pytest.mark.parametrize("provider", ["payu", "phonepe", "paytm"])
@pytest.mark.parametrize("method", ["upi", "card"])
async def test_providers_without_a_cancel_api_say_not_supported_without_calling(provider, method):
    rec = Recorder()
    result = await PROVIDERS[provider].cancel_charge(call_for(provider, rec), ref(method))
    assert (result.status, result.sent, result.transient) == ("not_supported", False, False)
    assert rec.requests == []


async def test_a_void_that_times_out_is_transient():
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    rec = Recorder(hang)
    result = await run_provider_call(
        PROVIDERS["sandbox"].cancel_charge,
        call_for("sandbox", rec),
        ref(provider_payment_id="ch_1"),
        void=True,
    )
    assert isinstance(result, VoidResult)
    assert (result.status, result.error_code, result.transient) == ("unknown", "timeout", True)


# -- requirements: what each provider's API needs ----------------------------------------------


def test_every_client_takes_a_complete_inr_card_payment():
    for name, client in PROVIDERS.items():
        assert client.requirements(charge("card")) is None, name


def test_razorpay_s2s_upi_needs_email_phone_and_a_return_url():
    bare = charge("upi", customer=Customer(), return_url=None)
    reason = PROVIDERS["razorpay"].requirements(bare)
    assert reason is not None
    assert "customer email" in reason and "customer phone" in reason and "return_url" in reason
    assert PROVIDERS["razorpay"].requirements(charge("upi")) is None
    # a payment link takes the same payment without them
    assert PROVIDERS["razorpay"].requirements(charge("card", customer=Customer())) is None
    small = ChargeRequest("pay_1", "att_1", 99, "INR", "card", customer=CUSTOMER)
    assert "100" in (PROVIDERS["razorpay"].requirements(small) or "")


def test_stripe_needs_a_return_url_and_takes_no_netbanking():
    assert "return_url" in (PROVIDERS["stripe"].requirements(charge("upi", return_url=None)) or "")
    assert "netbanking" in (PROVIDERS["stripe"].requirements(charge("netbanking")) or "")
    assert PROVIDERS["stripe"].requirements(charge("upi")) is None


def test_cashfree_needs_the_customer_phone_and_a_two_decimal_currency():
    no_phone = charge("card", customer=Customer(email="buyer@example.com"))
    assert "phone" in (PROVIDERS["cashfree"].requirements(no_phone) or "")
    yen = ChargeRequest("pay_1", "att_1", 10_000, "JPY", "card", customer=CUSTOMER)
    assert "JPY" in (PROVIDERS["cashfree"].requirements(yen) or "")


def test_payu_needs_email_phone_and_inr():
    reason = PROVIDERS["payu"].requirements(charge("card", customer=Customer()))
    assert reason is not None and "customer email" in reason and "customer phone" in reason
    usd = ChargeRequest("pay_1", "att_1", 10_000, "USD", "card", customer=CUSTOMER)
    assert PROVIDERS["payu"].requirements(usd) == "PayU India takes INR only"


@pytest.mark.parametrize("provider", ["phonepe", "paytm", "payu"])
def test_inr_only_providers_refuse_other_currencies(provider):
    usd = ChargeRequest(
        "pay_1", "att_1", 10_000, "USD", "card", customer=CUSTOMER, return_url="https://x.example"
    )
    assert "INR" in (PROVIDERS[provider].requirements(usd) or "")


def test_phonepe_takes_at_least_100_paise():
    small = ChargeRequest("pay_1", "att_1", 99, "INR", "card", customer=CUSTOMER)
    assert PROVIDERS["phonepe"].requirements(small) == "PhonePe takes at least 100 paise"


def test_reasons_never_carry_the_customers_data():
    odd = charge("upi", customer=Customer(email="someone@private.example"), return_url=None)
    for client in PROVIDERS.values():
        reason = client.requirements(odd) or ""
        assert "someone@private.example" not in reason and "private.example" not in reason
