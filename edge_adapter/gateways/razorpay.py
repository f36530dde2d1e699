"""Razorpay (https://razorpay.com/docs/api/): HTTP Basic key_id:key_secret, JSON bodies,
amounts in the currency's smallest unit (paise) both ways, so no conversion.

Flows:
* UPI (collect with a VPA, intent without): an Order (`receipt` = our attempt id, `notes`
  carry payment_id / attempt_id), then a server-to-server UPI payment on it
  (POST /v1/payments/create/upi). Razorpay creates a new order on every create and does not
  dedupe receipts, so `create_charge` first looks for the attempt's order by receipt and
  reuses it (and its payment) when one exists: repeating the sequence never makes a second
  order or a second collect request.
* card / netbanking / wallet: a Standard Payment Link (`reference_id` = our attempt id, unique
  per account) whose `short_url` is Razorpay's hosted page; we never see card details. A paid
  link creates an order (receipt = reference_id) and a payment that both carry the link's notes.

Credential fields: `key_id`, `key_secret`, and `webhook_secret` (the secret set on the
Dashboard's webhook, separate from the API keys).
"""

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import httpx

from .base import Outcome, by_status
from .payments import (
    ChargeRef,
    ChargeRequest,
    ChargeResult,
    ProviderCall,
    ProviderEvent,
    RefundRequest,
    RefundResult,
    VoidResult,
    WebhookRejected,
    by_http_status,
    void_by_http_status,
    void_from_state,
)

MIN_AMOUNT = 100  # paise: "The minimum value is 100" (https://razorpay.com/docs/api/orders/create/)

# Razorpay's `error.code` is a broad class; `error.reason` says what happened, so clients
# surface the reason where there is one ("Match on reason, not on the code":
# https://razorpay.com/docs/payments/payment-gateway/s2s-integration/payment-methods/upi/error-codes/
# and https://razorpay.com/docs/errors/ ; reasons: https://razorpay.com/docs/payments/payment-gateway/rainy-day/errors/error-reasons/).
ERROR_MAP: dict[str, tuple[str, str, str]] = {
    # customer / instrument problems: stop
    "insufficient_funds": ("fail", "insufficient_funds", "insufficient funds"),
    "incorrect_pin": ("fail", "authentication_failed", "the customer entered a wrong UPI PIN"),
    "invalid_vpa": ("fail", "invalid_vpa", "the UPI ID is not valid"),
    "payment_declined": ("fail", "bank_declined", "the customer's bank declined the payment"),
    "payment_failed": ("fail", "bank_declined", "the payment failed"),
    "payment_cancelled": ("fail", "cancelled", "the customer cancelled the payment"),
    "payment_timed_out": ("fail", "expired", "the customer did not approve in time"),
    "authentication_failed": ("fail", "authentication_failed", "authentication failed"),
    "authorisation_declined_by_psp": ("fail", "bank_declined", "the UPI app declined the payment"),
    "payment_risk_check_failed": ("fail", "risk_declined", "Razorpay's risk check declined it"),
    "transaction_limit_exceeded": ("fail", "limit_exceeded", "a transaction limit was exceeded"),
    "expired": ("fail", "expired", "the payment link expired"),
    "cancelled": ("fail", "cancelled", "the payment link was cancelled"),
    # the provider or the bank side: another gateway may succeed now
    "bank_technical_error": ("next", "provider_error", "the bank had a technical error"),
    "gateway_technical_error": ("next", "provider_error", "the payment gateway had an error"),
    "server_error": ("retry", "provider_error", "Razorpay had an internal error"),
    "SERVER_ERROR": ("retry", "provider_error", "Razorpay had an internal error"),
    "GATEWAY_ERROR": ("next", "provider_error", "the payment gateway had an error"),
    # our request was refused: nothing was created
    # (request_error in the SQL map: not counted against the gateway's success rate)
    "BAD_REQUEST_ERROR": ("next", "invalid_request", "Razorpay refused the request"),
    "input_validation_failed": ("next", "invalid_request", "Razorpay refused the request"),
}

_CHARGE_STATES = {
    "created": "requires_action",  # the collect request waits for the customer
    "authorized": "pending",  # captured automatically shortly after
    "captured": "succeeded",
    "refunded": "succeeded",  # captured, then refunded (refunds are tracked separately)
    "failed": "failed",
}


async def check(http: httpx.AsyncClient, base_url: str, creds: dict[str, str]) -> Outcome:
    response = await http.get(
        f"{base_url}/v1/payments",
        params={"count": 1},
        auth=(creds["key_id"], creds["key_secret"]),
    )
    outcome = by_status(response)
    if outcome.ok and response.json().get("entity") != "collection":
        return Outcome(False, response.status_code, "unexpected_response", "not a Razorpay answer")
    return outcome


def _auth(call: ProviderCall) -> tuple[str, str]:
    return call.credentials["key_id"], call.credentials["key_secret"]


def _notes(entity: Mapping[str, Any]) -> dict[str, Any]:
    notes = entity.get("notes")
    return notes if isinstance(notes, dict) else {}  # Razorpay sends [] when empty


def _error(response: httpx.Response) -> tuple[str, str, str | None]:
    """(code to surface, description, the field it is about): the reason when Razorpay gives
    a specific one, else the broad code."""
    try:
        err = response.json().get("error") or {}
    except ValueError:
        err = {}
    reason = err.get("reason")
    code = reason if reason and reason != "NA" else err.get("code")
    return (
        str(code or f"http_{response.status_code}"),
        str(err.get("description") or ""),
        (err.get("field")),
    )


def _charge_transport(response: httpx.Response) -> ChargeResult | None:
    result = by_http_status(response)
    return result if isinstance(result, ChargeResult) else None


def _refund_transport(response: httpx.Response) -> RefundResult | None:
    result = by_http_status(response, refund=True)
    return result if isinstance(result, RefundResult) else None


def _from_payment(payment: Mapping[str, Any], http_status: int | None = None) -> ChargeResult:
    """A payment entity (https://razorpay.com/docs/api/payments/entity/): status created |
    authorized | captured | refunded | failed; failures carry error_code / error_reason /
    error_description."""
    status = _CHARGE_STATES.get(payment["status"])
    if status is None:
        raise ValueError(f"unknown Razorpay payment status {payment['status']!r}")
    result = ChargeResult(
        status,  # type: ignore[arg-type]
        provider_order_id=payment.get("order_id"),
        provider_payment_id=payment["id"],
        amount=int(payment["amount"]),
        currency=str(payment["currency"]).upper(),
        http_status=http_status,
    )
    if status == "requires_action" and payment.get("method") == "upi" and payment.get("vpa"):
        result.next_action = {"type": "upi_collect", "vpa": payment["vpa"]}
    if status == "failed":
        result.error_code = payment.get("error_reason") or payment.get("error_code")
        result.error_message = payment.get("error_description")
    return result


def _from_link(link: Mapping[str, Any], http_status: int | None = None) -> ChargeResult:
    """A Standard Payment Link (https://razorpay.com/docs/api/payments/payment-links/entity/):
    status created | partially_paid | expired | cancelled | paid; `payments` lists captured
    payments only."""
    status = link["status"]
    payments = link.get("payments") or []
    result = ChargeResult(
        "requires_action",
        provider_order_id=link["id"],
        provider_payment_id=payments[-1]["payment_id"] if payments else None,
        amount=int(link["amount"]),
        currency=str(link.get("currency") or "INR").upper(),
        http_status=http_status,
    )
    if status == "created":
        result.next_action = {"type": "redirect", "url": link["short_url"]}
    elif status == "paid":
        result.status = "succeeded"
    elif status in ("expired", "cancelled"):
        result.status = "failed"
        result.error_code = status
        result.error_message = f"the payment link was {status}"
    elif status == "partially_paid":  # we never allow partial payments; treat as in progress
        result.status = "pending"
    else:
        raise ValueError(f"unknown Razorpay payment link status {status!r}")
    return result


def _latest(payments: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The payment that speaks for the attempt: a captured one if any, else the newest."""
    if not payments:
        return None
    for wanted in ("captured", "refunded", "authorized", "created"):
        for p in payments:
            if p["status"] == wanted:
                return p
    return max(payments, key=lambda p: p.get("created_at") or 0)


class RazorpayClient:
    name = "razorpay"

    # -- what a charge needs, and cancelling one ------------------------------------------------

    def requirements(self, req: ChargeRequest) -> str | None:
        """Orders and payment links take at least 100 paise
        (https://razorpay.com/docs/api/orders/create/). The S2S UPI payment
        (POST /v1/payments/create/upi) requires the customer's email and contact and the
        page's referer, for collect and intent alike
        (https://razorpay.com/docs/payments/payment-gateway/s2s-integration/payment-methods/upi/collect/,
        .../upi/intent/); we send the return URL as the referer. Payment links need nothing
        more (https://razorpay.com/docs/api/payments/payment-links/create-standard/)."""
        if req.amount < MIN_AMOUNT:
            return "Razorpay takes at least 100 minor units (INR 1.00)"
        if req.method == "upi":
            missing = [
                name
                for name, value in (
                    ("customer email", req.customer.email),
                    ("customer phone", req.customer.phone),
                    ("return_url", req.return_url),
                )
                if not value
            ]
            if missing:
                return "Razorpay's server-to-server UPI needs the " + ", ".join(missing)
        return None

    async def cancel_charge(self, call: ProviderCall, ref: ChargeRef) -> VoidResult:
        """Payment links: POST /v1/payment_links/{id}/cancel
        (https://razorpay.com/docs/api/payments/payment-links/cancel-standard/), which only a
        link in the created state allows: "You cannot cancel Payment Links in the
        partially_paid or paid state"
        (https://razorpay.com/docs/payments/payment-links/states/). On any refusal the link is
        fetched and its state decides: cancelled / expired = voided, paid / partially_paid =
        already_paid.

        UPI (an order and an S2S payment): Razorpay has no API to cancel an order or a
        created payment (the Orders API creates, fetches and updates notes:
        https://razorpay.com/docs/api/orders/); the collect request lapses by its
        expiry_time. `not_supported`, and a late success is still caught by its webhook."""
        order_id = ref.provider_order_id or ""
        link_id: str | None = order_id if order_id.startswith("plink_") else None
        if link_id is None and ref.method not in (None, "upi"):
            link, failed = await self._link_by_reference(call, ref.attempt_id)
            if failed:
                return VoidResult(
                    "unknown" if failed.status == "unknown" else "error",
                    error_code=failed.error_code,
                )
            if link is None:
                return VoidResult("voided", error_code="not_found")
            link_id = str(link["id"])
        if link_id is None:
            return VoidResult(
                "not_supported",
                error_code="no_cancel_api",
                error_message="Razorpay cannot cancel a UPI order or payment",
                sent=False,
            )
        response = await call.http.post(
            f"{call.base_url}/v1/payment_links/{link_id}/cancel", auth=_auth(call)
        )
        if response.status_code == 200:
            return self._link_void(response.json(), response.status_code)
        if transport := void_by_http_status(response):
            return transport
        code, _, _ = _error(response)
        # Refused (already paid, cancelled or expired?): the link's own state says which.
        fetched = await call.http.get(
            f"{call.base_url}/v1/payment_links/{link_id}", auth=_auth(call)
        )
        if transport := void_by_http_status(fetched):
            return transport
        if fetched.status_code >= 400:
            if "does not exist" in fetched.text:
                return VoidResult("voided", error_code="not_found", http_status=400)
            return VoidResult("failed", error_code=code, http_status=response.status_code)
        result = self._link_void(fetched.json(), response.status_code)
        if result.status == "failed":
            result.error_code = code
        return result

    @staticmethod
    def _link_void(link: Mapping[str, Any], http_status: int) -> VoidResult:
        return void_from_state(
            str(link["status"]),
            voided=("cancelled", "expired"),
            paid=("paid", "partially_paid"),
            http_status=http_status,
        )

    # -- lookups -------------------------------------------------------------------------------

    async def _order_by_receipt(
        self, call: ProviderCall, receipt: str
    ) -> tuple[Mapping[str, Any] | None, ChargeResult | None]:
        """GET /v1/orders?receipt=<attempt id>
        (https://razorpay.com/docs/api/orders/fetch-all/: `receipt` filters orders)."""
        response = await call.http.get(
            f"{call.base_url}/v1/orders", params={"receipt": receipt}, auth=_auth(call)
        )
        if transport := _charge_transport(response):
            return None, transport
        if response.status_code >= 400:
            code, message, _ = _error(response)
            return None, ChargeResult("unknown", error_code=code, error_message=message)
        items = [o for o in response.json()["items"] if o.get("receipt") == receipt]
        return (min(items, key=lambda o: o.get("created_at") or 0) if items else None), None

    async def _order_payments(
        self, call: ProviderCall, order_id: str
    ) -> tuple[list[Mapping[str, Any]], ChargeResult | None]:
        """GET /v1/orders/{id}/payments (https://razorpay.com/docs/api/orders/fetch-payments/)."""
        response = await call.http.get(
            f"{call.base_url}/v1/orders/{order_id}/payments", auth=_auth(call)
        )
        if transport := _charge_transport(response):
            return [], transport
        if response.status_code >= 400:
            code, message, _ = _error(response)
            return [], ChargeResult("unknown", error_code=code, error_message=message)
        return list(response.json()["items"]), None

    async def _link_by_reference(
        self, call: ProviderCall, reference: str
    ) -> tuple[Mapping[str, Any] | None, ChargeResult | None]:
        """GET /v1/payment_links?reference_id=<attempt id>
        (https://razorpay.com/docs/api/payments/payment-links/fetch-all-standard/)."""
        response = await call.http.get(
            f"{call.base_url}/v1/payment_links",
            params={"reference_id": reference},
            auth=_auth(call),
        )
        if transport := _charge_transport(response):
            return None, transport
        if response.status_code >= 400:
            code, message, _ = _error(response)
            return None, ChargeResult("unknown", error_code=code, error_message=message)
        body = response.json()
        links = [
            x
            for x in body.get("payment_links", body.get("items", []))
            if x.get("reference_id") == reference
        ]
        return (links[0] if links else None), None

    # -- the interface -------------------------------------------------------------------------

    async def create_charge(self, call: ProviderCall, req: ChargeRequest) -> ChargeResult:
        if req.method == "upi":
            return await self._create_upi(call, req)
        return await self._create_link(call, req)

    async def _create_link(self, call: ProviderCall, req: ChargeRequest) -> ChargeResult:
        """POST /v1/payment_links
        (https://razorpay.com/docs/api/payments/payment-links/create-standard/):
        reference_id must be unique, so a repeat is refused and we return the existing link."""
        body: dict[str, Any] = {
            "amount": req.amount,
            "currency": req.currency,
            "accept_partial": False,
            "reference_id": req.attempt_id,
            "description": req.description or f"Payment {req.payment_id}",
            "notify": {"sms": False, "email": False},
            "reminder_enable": False,
            "notes": {"payment_id": req.payment_id, "attempt_id": req.attempt_id},
        }
        customer = {
            k: v for k, v in (("email", req.customer.email), ("contact", req.customer.phone)) if v
        }
        if customer:
            body["customer"] = customer
        if req.return_url:
            body.update(callback_url=req.return_url, callback_method="get")
        response = await call.http.post(
            f"{call.base_url}/v1/payment_links", json=body, auth=_auth(call)
        )
        if transport := _charge_transport(response):
            return transport
        if response.status_code >= 400:
            code, message, field = _error(response)
            if field == "reference_id":  # already used: that link is this attempt's
                link, failed = await self._link_by_reference(call, req.attempt_id)
                if failed or link:
                    return failed or _from_link(link or {})
            return ChargeResult(
                "error",
                error_code=code,
                error_message=message,
                http_status=response.status_code,
                sent=False,
            )
        return _from_link(response.json(), response.status_code)

    async def _create_upi(self, call: ProviderCall, req: ChargeRequest) -> ChargeResult:
        """Order, then S2S UPI payment; each step reuses what an earlier run left behind.
        POST /v1/orders (https://razorpay.com/docs/api/orders/create/),
        POST /v1/payments/create/upi, collect and intent flows; the request needs the
        customer's email, contact, ip, referer and user_agent:
        https://razorpay.com/docs/payments/payment-gateway/s2s-integration/payment-methods/upi/collect/
        https://razorpay.com/docs/payments/payment-gateway/s2s-integration/payment-methods/upi/intent/
        """
        order, failed = await self._order_by_receipt(call, req.attempt_id)
        if failed:
            return failed
        if order is None:
            response = await call.http.post(
                f"{call.base_url}/v1/orders",
                json={
                    "amount": req.amount,
                    "currency": req.currency,
                    "receipt": req.attempt_id,
                    "notes": {"payment_id": req.payment_id, "attempt_id": req.attempt_id},
                },
                auth=_auth(call),
            )
            if transport := _charge_transport(response):
                return transport
            if response.status_code >= 400:
                code, message, field = _error(response)
                if field == "receipt" or "receipt should be unique" in message.lower():
                    # Accounts that enforce unique receipts refuse a repeat: the order exists
                    # (https://razorpay.com/docs/payments/payment-gateway/s2s-integration/test-s2s/error-index/).
                    return await self.find_charge(call, req)
                return ChargeResult(
                    "error",
                    error_code=code,
                    error_message=message,
                    http_status=response.status_code,
                    sent=False,
                )
            order = response.json()
        else:
            payments, failed = await self._order_payments(call, order["id"])
            if failed:
                return failed
            if existing := _latest(payments):
                return _from_payment(existing)
        body: dict[str, Any] = {
            "amount": req.amount,
            "currency": req.currency,
            "order_id": order["id"],
            "method": "upi",
            "email": req.customer.email or "",
            "contact": req.customer.phone or "",
            # The customer's browser details; ChargeRequest does not carry them yet.
            "ip": getattr(req.customer, "ip", None) or "0.0.0.0",
            "referer": req.return_url or "",
            "user_agent": getattr(req.customer, "user_agent", None) or "LightSpeedPay/1.0",
            "description": req.description or f"Payment {req.payment_id}",
            "notes": {"payment_id": req.payment_id, "attempt_id": req.attempt_id},
            "upi": (
                {"flow": "collect", "vpa": req.upi_vpa, "expiry_time": 5}
                if req.upi_vpa
                else {"flow": "intent"}
            ),
        }
        response = await call.http.post(
            f"{call.base_url}/v1/payments/create/upi", json=body, auth=_auth(call)
        )
        if transport := _charge_transport(response):
            transport.provider_order_id = order["id"]
            return transport
        if response.status_code >= 400:
            code, message, _ = _error(response)
            return ChargeResult(
                "failed",
                provider_order_id=order["id"],
                error_code=code,
                error_message=message,
                http_status=response.status_code,
            )
        answer = response.json()
        result = ChargeResult(
            "requires_action",
            provider_order_id=order["id"],
            provider_payment_id=answer["razorpay_payment_id"],
            amount=req.amount,
            currency=req.currency,
            http_status=response.status_code,
        )
        if req.upi_vpa:
            result.next_action = {"type": "upi_collect", "vpa": req.upi_vpa}
        else:
            result.next_action = {"type": "upi_intent", "url": answer["link"]}
        return result

    async def find_charge(self, call: ProviderCall, req: ChargeRequest) -> ChargeResult:
        """By our reference: the payment link with reference_id = attempt id, else the order
        with receipt = attempt id and its payments. An order without any payment is reported
        `not_found` (nothing can be charged on it; `create_charge` reuses it)."""
        if req.method != "upi":
            link, failed = await self._link_by_reference(call, req.attempt_id)
            if failed:
                return failed
            if link:
                return _from_link(link)
        order, failed = await self._order_by_receipt(call, req.attempt_id)
        if failed:
            return failed
        if order is None:
            return ChargeResult("not_found")
        payments, failed = await self._order_payments(call, order["id"])
        if failed:
            return failed
        if payment := _latest(payments):
            return _from_payment(payment)
        return ChargeResult("not_found", provider_order_id=order["id"])

    async def fetch_status(self, call: ProviderCall, ref: ChargeRef) -> ChargeResult:
        """GET /v1/payments/{id} (https://razorpay.com/docs/api/payments/fetch-with-id/), or
        GET /v1/payment_links/{id} for a link not paid yet, or a lookup by our reference."""
        if ref.provider_payment_id:
            response = await call.http.get(
                f"{call.base_url}/v1/payments/{ref.provider_payment_id}", auth=_auth(call)
            )
            return self._answer(response, _from_payment)
        if ref.provider_order_id and ref.provider_order_id.startswith("plink_"):
            response = await call.http.get(
                f"{call.base_url}/v1/payment_links/{ref.provider_order_id}", auth=_auth(call)
            )
            return self._answer(response, _from_link)
        method = "card" if ref.provider_order_id is None else "upi"
        req = ChargeRequest(ref.payment_id, ref.attempt_id, ref.amount, ref.currency, method)
        return await self.find_charge(call, req)

    @staticmethod
    def _answer(response: httpx.Response, convert: Any) -> ChargeResult:
        if transport := _charge_transport(response):
            return transport
        if response.status_code == 400 and "does not exist" in response.text:
            return ChargeResult("not_found", http_status=400)
        if response.status_code >= 400:
            code, message, _ = _error(response)
            return ChargeResult(
                "unknown", error_code=code, error_message=message, http_status=response.status_code
            )
        result: ChargeResult = convert(response.json(), response.status_code)
        return result

    async def _payment_for(self, call: ProviderCall, req: RefundRequest) -> str | RefundResult:
        if req.provider_payment_id:
            return req.provider_payment_id
        ref = ChargeRef(
            req.payment_id, req.attempt_id, req.amount, req.currency, req.provider_order_id
        )
        found = await self.fetch_status(call, ref)
        if found.provider_payment_id and found.status == "succeeded":
            return found.provider_payment_id
        return RefundResult(
            "unknown" if found.status == "unknown" else "error",
            error_code=found.error_code or "payment_not_captured",
            error_message="no captured Razorpay payment for this attempt",
            sent=False,
        )

    async def refund(self, call: ProviderCall, req: RefundRequest) -> RefundResult:
        """POST /v1/payments/{id}/refund with `receipt` = our refund id and the
        X-Refund-Idempotency header = our refund id, so a retry never refunds twice
        (https://razorpay.com/docs/api/refunds/normal-refunds-idempotent/ : keys of at least
        10 characters of [A-Za-z0-9_-]). Refund status: pending | processed | failed."""
        payment_id = await self._payment_for(call, req)
        if isinstance(payment_id, RefundResult):
            return payment_id
        headers = {}
        if len(req.refund_id) >= 10:
            headers["X-Refund-Idempotency"] = req.refund_id
        body: dict[str, Any] = {
            "amount": req.amount,
            "receipt": req.refund_id,
            "notes": {"refund_id": req.refund_id, "payment_id": req.payment_id},
        }
        response = await call.http.post(
            f"{call.base_url}/v1/payments/{payment_id}/refund",
            json=body,
            headers=headers,
            auth=_auth(call),
        )
        if response.status_code == 409:  # the same key is still being processed
            return RefundResult("unknown", error_code="refund_in_progress", http_status=409)
        if transport := _refund_transport(response):
            return transport
        if response.status_code >= 400:
            code, message, _ = _error(response)
            return RefundResult(
                "failed", error_code=code, error_message=message, http_status=response.status_code
            )
        return _from_refund(response.json(), response.status_code)

    async def fetch_refund(self, call: ProviderCall, req: RefundRequest) -> RefundResult:
        """GET /v1/refunds/{id}, or GET /v1/payments/{id}/refunds and match our receipt
        (https://razorpay.com/docs/api/refunds/fetch-multiple-refund-payment/)."""
        if req.provider_refund_id:
            response = await call.http.get(
                f"{call.base_url}/v1/refunds/{req.provider_refund_id}", auth=_auth(call)
            )
            if transport := _refund_transport(response):
                return transport
            if response.status_code >= 400:
                code, message, _ = _error(response)
                gone = "does not exist" in message
                return RefundResult(
                    "not_found" if gone else "unknown",
                    error_code=code,
                    error_message=message,
                    http_status=response.status_code,
                )
            return _from_refund(response.json(), response.status_code)
        payment_id = await self._payment_for(call, req)
        if isinstance(payment_id, RefundResult):
            return payment_id
        response = await call.http.get(
            f"{call.base_url}/v1/payments/{payment_id}/refunds", auth=_auth(call)
        )
        if transport := _refund_transport(response):
            return transport
        if response.status_code >= 400:
            code, message, _ = _error(response)
            return RefundResult(
                "unknown", error_code=code, error_message=message, http_status=response.status_code
            )
        for refund in response.json()["items"]:
            if refund.get("receipt") == req.refund_id:
                return _from_refund(refund, response.status_code)
        return RefundResult("not_found", http_status=response.status_code)

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, credentials: list[Mapping[str, str]]
    ) -> None:
        """X-Razorpay-Signature = hex HMAC-SHA256 of the raw body keyed with the webhook
        secret (https://razorpay.com/docs/webhooks/validate-test/). Old secrets stay valid for
        redeliveries of events made before a change, hence the list."""
        h = {k.lower(): v for k, v in headers.items()}
        given = h.get("x-razorpay-signature")
        if not given:
            raise WebhookRejected("missing_signature", "X-Razorpay-Signature is missing")
        for creds in credentials:
            secret = creds.get("webhook_secret")
            if not secret:
                continue
            expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            if hmac.compare_digest(expected, given.strip()):
                return
        raise WebhookRejected("bad_signature", "no webhook secret matches the signature")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> ProviderEvent:
        """Payment, payment link and refund events
        (https://razorpay.com/docs/webhooks/payments/ , .../webhooks/payment-links/ ,
        .../webhooks/refunds/); the event id is the `x-razorpay-event-id` header."""
        h = {k.lower(): v for k, v in headers.items()}
        event = json.loads(body)
        name = str(event["event"])
        payload = event.get("payload") or {}
        event_id = h.get("x-razorpay-event-id") or ("sha256:" + hashlib.sha256(body).hexdigest())
        payment = (payload.get("payment") or {}).get("entity") or {}
        base = ProviderEvent(
            event_id=event_id, kind="other", type=name, occurred_at=event.get("created_at")
        )
        if name.startswith("refund."):
            refund = payload["refund"]["entity"]
            base.kind = "refund"
            base.status = {
                "refund.processed": "succeeded",
                "refund.failed": "failed",
                "refund.created": "pending",
            }.get(name)
            base.provider_refund_id = refund["id"]
            base.refund_id = refund.get("receipt") or _notes(refund).get("refund_id")
            base.provider_payment_id = refund.get("payment_id")
            base.payment_id = _notes(refund).get("payment_id")
            base.amount = int(refund["amount"])
            base.currency = str(refund.get("currency") or "INR").upper()
            return base
        if name.startswith("payment_link."):
            link = payload["payment_link"]["entity"]
            base.kind = "payment"
            base.status = {"payment_link.paid": "succeeded"}.get(
                name,
                "failed" if name in ("payment_link.expired", "payment_link.cancelled") else None,
            )
            base.attempt_id = link.get("reference_id") or _notes(link).get("attempt_id")
            base.payment_id = _notes(link).get("payment_id")
            base.provider_order_id = link["id"]
            base.provider_payment_id = payment.get("id")
            base.amount = int(link.get("amount_paid") or link["amount"])
            base.currency = str(link.get("currency") or "INR").upper()
            if base.status == "failed":
                base.error_code = name.split(".", 1)[1]
            return base
        if name.startswith("payment.") and payment:
            notes = _notes(payment)
            base.kind = "payment"
            base.status = {
                "payment.captured": "succeeded",
                "payment.failed": "failed",
                "payment.authorized": "pending",
            }.get(name)
            base.attempt_id = notes.get("attempt_id")
            base.payment_id = notes.get("payment_id")
            base.provider_order_id = payment.get("order_id")
            base.provider_payment_id = payment["id"]
            base.amount = int(payment["amount"])
            base.currency = str(payment["currency"]).upper()
            if base.status == "failed":
                base.error_code = payment.get("error_reason") or payment.get("error_code")
                base.error_message = payment.get("error_description")
        return base


def _from_refund(refund: Mapping[str, Any], http_status: int | None = None) -> RefundResult:
    status = {"processed": "succeeded", "pending": "pending", "failed": "failed"}.get(
        refund["status"]
    )
    if status is None:
        raise ValueError(f"unknown Razorpay refund status {refund['status']!r}")
    return RefundResult(
        status,  # type: ignore[arg-type]
        provider_refund_id=refund["id"],
        amount=int(refund["amount"]),
        http_status=http_status,
    )


client = RazorpayClient()
