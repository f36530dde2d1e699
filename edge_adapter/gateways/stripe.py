"""Stripe (https://docs.stripe.com/api): the secret key as a bearer token, form-encoded
bodies with bracketed keys, amounts in the currency's smallest unit (no conversion for INR),
currencies lower case on the wire.

We never take card details, so the customer pays on Stripe's hosted page: a Checkout Session
in `payment` mode (https://docs.stripe.com/api/checkout/sessions/create) whose `url` we return
as a redirect. Stripe creates the session's PaymentIntent when the customer pays (API versions
since 2022-08-01), carrying `payment_intent_data.metadata` (our payment id and attempt id);
status, refunds and events then speak PaymentIntents and Refunds.

Never charging twice: every create sends `Idempotency-Key` = our attempt id (refunds: our
refund id). Stripe replays the first answer for 24 hours, including a 500
(https://docs.stripe.com/api/idempotent_requests), so after an ambiguous create we look the
attempt up instead: the Search API lags up to a minute and is not available to merchants in
India (https://docs.stripe.com/api/payment_intents/search), so `find_charge` pages through the
strongly consistent list of recent Checkout Sessions and matches our metadata.

Credential fields: `secret_key`, optional `publishable_key`, and `webhook_secret` (the
endpoint's `whsec_...` signing secret).
"""

import hashlib
import hmac
import json
import time
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

TOLERANCE_S = 300
LOOKBACK_S = 24 * 3600  # Checkout Sessions expire within 24 hours
MAX_PAGES = 10
METHODS = {"card": "card", "wallet": "card", "upi": "upi"}  # Stripe has no Indian netbanking

# Error codes (https://docs.stripe.com/error-codes) and decline codes
# (https://docs.stripe.com/declines/codes): a card_error's decline_code is surfaced when
# present, else its code.
ERROR_MAP: dict[str, tuple[str, str, str]] = {
    "card_declined": ("fail", "bank_declined", "the card was declined"),
    "generic_decline": ("fail", "bank_declined", "the card was declined"),
    "do_not_honor": ("fail", "bank_declined", "the card was declined"),
    "insufficient_funds": ("fail", "insufficient_funds", "the card has insufficient funds"),
    "lost_card": ("fail", "risk_declined", "the card was reported lost"),
    "stolen_card": ("fail", "risk_declined", "the card was reported stolen"),
    "fraudulent": ("fail", "risk_declined", "Stripe suspects fraud"),
    "expired_card": ("fail", "expired", "the card has expired"),
    "incorrect_cvc": ("fail", "authentication_failed", "the CVC was wrong"),
    "authentication_required": ("fail", "authentication_failed", "authentication is required"),
    "payment_intent_authentication_failure": (
        "fail",
        "authentication_failed",
        "the customer failed authentication",
    ),
    "processing_error": ("retry", "provider_error", "an error occurred processing the card"),
    "expired": ("fail", "expired", "the checkout session expired"),
    "canceled": ("fail", "cancelled", "the payment was canceled"),
    "rate_limit": ("retry", "provider_error", "Stripe is rate limiting us"),
    "api_error": ("retry", "provider_error", "Stripe had an internal error"),
    "idempotency_error": ("retry", "provider_error", "the idempotency key was reused"),
    # our request refused (request_error in the SQL map: not counted against the gateway)
    "parameter_invalid_integer": ("next", "invalid_request", "Stripe refused the request"),
    "parameter_missing": ("next", "invalid_request", "Stripe refused the request"),
    "invalid_request_error": ("next", "invalid_request", "Stripe refused the request"),
    "payment_method_not_supported": (
        "next",
        "unsupported_request",
        "Stripe cannot take this method",
    ),
    "return_url_required": ("next", "unsupported_request", "Stripe Checkout needs a return URL"),
    "charge_already_refunded": ("fail", "not_refundable", "the payment is fully refunded"),
    "amount_too_large": ("fail", "refund_exceeds_captured", "more than is left to refund"),
    "resource_missing": ("fail", "not_found", "Stripe has no such object"),
}


async def check(http: httpx.AsyncClient, base_url: str, creds: dict[str, str]) -> Outcome:
    response = await http.get(
        f"{base_url}/v1/balance", headers={"Authorization": f"Bearer {creds['secret_key']}"}
    )
    outcome = by_status(response)
    if outcome.ok and response.json().get("object") != "balance":
        return Outcome(False, response.status_code, "unexpected_response", "not a Stripe balance")
    return outcome


def form(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's form encoding: nested keys in brackets, list items indexed."""
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None:
            continue
        if isinstance(value, Mapping):
            pairs += form(value, name)
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    pairs += form(item, f"{name}[{i}]")
                else:
                    pairs.append((f"{name}[{i}]", _text(item)))
        else:
            pairs.append((name, _text(value)))
    return pairs


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _headers(call: ProviderCall, idempotency_key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {call.credentials['secret_key']}"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return headers


def _error(response: httpx.Response) -> tuple[str, str, str]:
    """(code, message, type): a card error's decline_code when there is one."""
    try:
        err = response.json().get("error") or {}
    except ValueError:
        err = {}
    code = err.get("decline_code") or err.get("code") or err.get("type")
    return (
        str(code or f"http_{response.status_code}"),
        str(err.get("message") or ""),
        str(err.get("type") or ""),
    )


def _charge_transport(response: httpx.Response) -> ChargeResult | None:
    result = by_http_status(response)
    return result if isinstance(result, ChargeResult) else None


def _refund_transport(response: httpx.Response) -> RefundResult | None:
    result = by_http_status(response, refund=True)
    return result if isinstance(result, RefundResult) else None


def _pi_error(intent: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    err = (intent or {}).get("last_payment_error") or {}
    code = err.get("decline_code") or err.get("code") or err.get("type")
    return code, err.get("message")


def _from_intent(intent: Mapping[str, Any], http_status: int | None = None) -> ChargeResult:
    """PaymentIntent statuses (https://docs.stripe.com/payments/paymentintents/lifecycle):
    requires_payment_method (after a failed try: last_payment_error) | requires_confirmation
    | requires_action | processing | requires_capture | canceled | succeeded."""
    status = intent["status"]
    result = ChargeResult(
        "pending",
        provider_payment_id=intent["id"],
        amount=int(intent["amount"]),
        currency=str(intent["currency"]).upper(),
        http_status=http_status,
    )
    if status == "succeeded":
        result.status = "succeeded"
    elif status in ("processing", "requires_capture", "requires_confirmation"):
        result.status = "pending"
    elif status == "requires_action":
        result.status = "requires_action"
        redirect = ((intent.get("next_action") or {}).get("redirect_to_url") or {}).get("url")
        if redirect:
            result.next_action = {"type": "redirect", "url": redirect}
    elif status == "requires_payment_method":
        code, message = _pi_error(intent)
        result.status = "failed" if code else "requires_action"
        result.error_code, result.error_message = code, message
    elif status == "canceled":
        result.status = "failed"
        result.error_code = "canceled"
        result.error_message = intent.get("cancellation_reason")
    else:
        raise ValueError(f"unknown Stripe PaymentIntent status {status!r}")
    return result


def _from_session(session: Mapping[str, Any], http_status: int | None = None) -> ChargeResult:
    """Checkout Session: status open | complete | expired, payment_status paid | unpaid |
    no_payment_required (https://docs.stripe.com/api/checkout/sessions/object)."""
    intent = session.get("payment_intent")
    intent_obj = intent if isinstance(intent, Mapping) else None
    result = ChargeResult(
        "requires_action",
        provider_order_id=session["id"],
        provider_payment_id=intent_obj["id"] if intent_obj else intent,
        amount=int(session["amount_total"]),
        currency=str(session["currency"]).upper(),
        http_status=http_status,
    )
    status, paid = session["status"], session.get("payment_status")
    if status == "open":
        result.next_action = {"type": "redirect", "url": session["url"]}
        # A declined try leaves the session open for another; say why the last one failed.
        result.error_code, result.error_message = _pi_error(intent_obj)
    elif status == "complete":
        result.status = "succeeded" if paid in ("paid", "no_payment_required") else "pending"
    elif status == "expired":
        result.status = "failed"
        result.error_code = "expired"
        result.error_message = "the checkout session expired"
    else:
        raise ValueError(f"unknown Stripe Checkout Session status {status!r}")
    return result


def _from_refund(refund: Mapping[str, Any], http_status: int | None = None) -> RefundResult:
    """Refund status pending | requires_action | succeeded | failed | canceled
    (https://docs.stripe.com/api/refunds/object)."""
    status = {
        "succeeded": "succeeded",
        "pending": "pending",
        "requires_action": "pending",
        "failed": "failed",
        "canceled": "failed",
    }.get(refund["status"])
    if status is None:
        raise ValueError(f"unknown Stripe refund status {refund['status']!r}")
    return RefundResult(
        status,  # type: ignore[arg-type]
        provider_refund_id=refund["id"],
        amount=int(refund["amount"]),
        error_code=refund.get("failure_reason"),
        http_status=http_status,
    )


def _ours(obj: Mapping[str, Any], attempt_id: str) -> bool:
    metadata = obj.get("metadata") or {}
    return obj.get("client_reference_id") == attempt_id or metadata.get("attempt_id") == attempt_id


class StripeClient:
    name = "stripe"

    def requirements(self, req: ChargeRequest) -> str | None:
        """A hosted Checkout Session sends the customer back to its `success_url`
        (https://docs.stripe.com/api/checkout/sessions/create,
        https://stripe.com/docs/payments/checkout/addons/custom-success-page): our return_url
        is required. Methods: cards (wallets ride on cards) and UPI through Checkout
        (https://docs.stripe.com/payments/upi/accept-a-payment); this client maps no Stripe
        payment method type to Indian netbanking (METHODS)."""
        if req.method not in METHODS:
            return f"Stripe Checkout does not take {req.method} here"
        if not req.return_url:
            return "Stripe Checkout needs a return_url (its success_url)"
        return None

    async def cancel_charge(self, call: ProviderCall, ref: ChargeRef) -> VoidResult:
        """POST /v1/checkout/sessions/{id}/expire
        (https://docs.stripe.com/api/checkout/sessions/expire): only an `open` session can be
        expired, after which the customer cannot complete it; an error otherwise. On a
        refusal the session is fetched: expired = voided, complete = already_paid (the
        PaymentIntent then says whether the money is in). A session we never learnt the id
        of is found by our metadata first (find_charge)."""
        order_id = ref.provider_order_id or ""
        session_id: str | None = order_id if order_id.startswith("cs_") else None
        if session_id is None:
            session, failed = await self._recent_sessions(call, ref.attempt_id)
            if failed:
                return VoidResult(
                    "unknown" if failed.status == "unknown" else "error",
                    error_code=failed.error_code,
                )
            if session is None:
                return VoidResult("voided", error_code="not_found")
            session_id = str(session["id"])
        response = await call.http.post(
            f"{call.base_url}/v1/checkout/sessions/{session_id}/expire", headers=_headers(call)
        )
        if response.status_code == 200:
            return self._session_void(response.json(), 200)
        if transport := void_by_http_status(response):
            return transport
        code, _, _ = _error(response)
        fetched = await call.http.get(
            f"{call.base_url}/v1/checkout/sessions/{session_id}", headers=_headers(call)
        )
        if fetched.status_code == 404:
            return VoidResult("voided", error_code="resource_missing", http_status=404)
        if transport := void_by_http_status(fetched):
            return transport
        if fetched.status_code >= 400:
            return VoidResult("failed", error_code=code, http_status=response.status_code)
        result = self._session_void(fetched.json(), response.status_code)
        if result.status == "failed":
            result.error_code = code
        return result

    @staticmethod
    def _session_void(session: Mapping[str, Any], http_status: int) -> VoidResult:
        return void_from_state(
            str(session["status"]), voided=("expired",), paid=("complete",), http_status=http_status
        )

    async def create_charge(self, call: ProviderCall, req: ChargeRequest) -> ChargeResult:
        """POST /v1/checkout/sessions (mode=payment, one price_data line item) with
        Idempotency-Key = attempt id; the session's `url` is the hosted page."""
        kind = METHODS.get(req.method)
        if kind is None:
            return ChargeResult("error", error_code="payment_method_not_supported", sent=False)
        if not req.return_url:
            return ChargeResult("error", error_code="return_url_required", sent=False)
        ids = {"payment_id": req.payment_id, "attempt_id": req.attempt_id}
        body = {
            "mode": "payment",
            "client_reference_id": req.attempt_id,
            "success_url": req.return_url,
            "cancel_url": req.return_url,
            "payment_method_types": [kind],
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": req.currency.lower(),
                        "unit_amount": req.amount,
                        "product_data": {"name": req.description or f"Payment {req.payment_id}"},
                    },
                }
            ],
            "metadata": ids,
            "payment_intent_data": {"metadata": ids},
            "customer_email": req.customer.email,
        }
        response = await call.http.post(
            f"{call.base_url}/v1/checkout/sessions",
            data=dict(form(body)),
            headers=_headers(call, req.attempt_id),
        )
        if response.status_code == 409:  # the same key is in flight right now
            return ChargeResult("unknown", error_code="idempotency_key_in_use", http_status=409)
        if transport := _charge_transport(response):
            return transport
        if response.status_code >= 400:
            code, message, kind_ = _error(response)
            if kind_ == "idempotency_error":  # the key was used before: the attempt exists
                return ChargeResult(
                    "unknown",
                    error_code=code,
                    error_message=message,
                    http_status=response.status_code,
                )
            return ChargeResult(
                "error",
                error_code=code,
                error_message=message,
                http_status=response.status_code,
                sent=False,
            )
        return _from_session(response.json(), response.status_code)

    async def _recent_sessions(
        self, call: ProviderCall, attempt_id: str
    ) -> tuple[Mapping[str, Any] | None, ChargeResult | None]:
        """GET /v1/checkout/sessions (https://docs.stripe.com/api/checkout/sessions/list),
        newest first, created in the last 24 h, with their PaymentIntents expanded."""
        params: dict[str, Any] = {
            "limit": 100,
            "created[gte]": int(time.time()) - LOOKBACK_S,
            "expand[]": "data.payment_intent",
        }
        for _ in range(MAX_PAGES):
            response = await call.http.get(
                f"{call.base_url}/v1/checkout/sessions", params=params, headers=_headers(call)
            )
            if transport := _charge_transport(response):
                return None, transport
            if response.status_code >= 400:
                code, message, _ = _error(response)
                return None, ChargeResult("unknown", error_code=code, error_message=message)
            page = response.json()
            for session in page["data"]:
                if _ours(session, attempt_id):
                    return session, None
            if not page.get("has_more") or not page["data"]:
                return None, None
            params["starting_after"] = page["data"][-1]["id"]
        return None, ChargeResult(
            "unknown",
            error_code="lookup_incomplete",
            error_message=f"more than {MAX_PAGES * 100} sessions in 24 h; not searched further",
        )

    async def find_charge(self, call: ProviderCall, req: ChargeRequest) -> ChargeResult:
        session, failed = await self._recent_sessions(call, req.attempt_id)
        if failed:
            return failed
        return _from_session(session) if session else ChargeResult("not_found")

    async def fetch_status(self, call: ProviderCall, ref: ChargeRef) -> ChargeResult:
        """GET /v1/checkout/sessions/{id}?expand[]=payment_intent, or
        GET /v1/payment_intents/{id} (https://docs.stripe.com/api/payment_intents/retrieve)."""
        if ref.provider_order_id and ref.provider_order_id.startswith("cs_"):
            response = await call.http.get(
                f"{call.base_url}/v1/checkout/sessions/{ref.provider_order_id}",
                params={"expand[]": "payment_intent"},
                headers=_headers(call),
            )
            convert = _from_session
        elif ref.provider_payment_id and ref.provider_payment_id.startswith("pi_"):
            response = await call.http.get(
                f"{call.base_url}/v1/payment_intents/{ref.provider_payment_id}",
                headers=_headers(call),
            )
            convert = _from_intent
        else:
            req = ChargeRequest(ref.payment_id, ref.attempt_id, ref.amount, ref.currency, "card")
            return await self.find_charge(call, req)
        if response.status_code == 404:
            return ChargeResult("not_found", http_status=404)
        if transport := _charge_transport(response):
            return transport
        if response.status_code >= 400:
            code, message, _ = _error(response)
            return ChargeResult(
                "unknown", error_code=code, error_message=message, http_status=response.status_code
            )
        return convert(response.json(), response.status_code)

    async def _intent_for(self, call: ProviderCall, req: RefundRequest) -> str | RefundResult:
        if req.provider_payment_id and req.provider_payment_id.startswith("pi_"):
            return req.provider_payment_id
        ref = ChargeRef(
            req.payment_id, req.attempt_id, req.amount, req.currency, req.provider_order_id
        )
        found = await self.fetch_status(call, ref)
        if found.status == "succeeded" and found.provider_payment_id:
            return found.provider_payment_id
        return RefundResult(
            "unknown" if found.status == "unknown" else "error",
            error_code=found.error_code or "payment_not_captured",
            error_message="no succeeded Stripe payment for this attempt",
            sent=False,
        )

    async def refund(self, call: ProviderCall, req: RefundRequest) -> RefundResult:
        """POST /v1/refunds (https://docs.stripe.com/api/refunds/create) for the
        PaymentIntent, Idempotency-Key = our refund id, which also goes in metadata."""
        intent = await self._intent_for(call, req)
        if isinstance(intent, RefundResult):
            return intent
        body = {
            "payment_intent": intent,
            "amount": req.amount,
            "metadata": {
                "refund_id": req.refund_id,
                "payment_id": req.payment_id,
                "attempt_id": req.attempt_id,
            },
        }
        if req.reason in ("duplicate", "fraudulent", "requested_by_customer"):
            body["reason"] = req.reason
        response = await call.http.post(
            f"{call.base_url}/v1/refunds",
            data=dict(form(body)),
            headers=_headers(call, req.refund_id),
        )
        if response.status_code == 409:
            return RefundResult("unknown", error_code="idempotency_key_in_use", http_status=409)
        if transport := _refund_transport(response):
            return transport
        if response.status_code >= 400:
            code, message, _ = _error(response)
            return RefundResult(
                "failed", error_code=code, error_message=message, http_status=response.status_code
            )
        return _from_refund(response.json(), response.status_code)

    async def fetch_refund(self, call: ProviderCall, req: RefundRequest) -> RefundResult:
        """GET /v1/refunds/{id}, or GET /v1/refunds?payment_intent=... matched on our
        metadata.refund_id (https://docs.stripe.com/api/refunds/list)."""
        if req.provider_refund_id:
            response = await call.http.get(
                f"{call.base_url}/v1/refunds/{req.provider_refund_id}", headers=_headers(call)
            )
            if response.status_code == 404:
                return RefundResult("not_found", http_status=404)
            if transport := _refund_transport(response):
                return transport
            if response.status_code >= 400:
                code, message, _ = _error(response)
                return RefundResult("unknown", error_code=code, error_message=message)
            return _from_refund(response.json(), response.status_code)
        intent = await self._intent_for(call, req)
        if isinstance(intent, RefundResult):
            return intent
        response = await call.http.get(
            f"{call.base_url}/v1/refunds",
            params={"payment_intent": intent, "limit": 100},
            headers=_headers(call),
        )
        if transport := _refund_transport(response):
            return transport
        if response.status_code >= 400:
            code, message, _ = _error(response)
            return RefundResult("unknown", error_code=code, error_message=message)
        for refund in response.json()["data"]:
            if (refund.get("metadata") or {}).get("refund_id") == req.refund_id:
                return _from_refund(refund, response.status_code)
        return RefundResult("not_found", http_status=response.status_code)

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, credentials: list[Mapping[str, str]]
    ) -> None:
        """Stripe-Signature: `t=<unix time>,v1=<hex HMAC-SHA256 of "{t}.{raw body}" keyed
        with the whole whsec_ secret>`, possibly several v1 (during Stripe's own secret
        rolls); a valid signature older or newer than 300 s is `stale_timestamp`
        (https://docs.stripe.com/webhooks#verify-manually)."""
        h = {k.lower(): v for k, v in headers.items()}
        header = h.get("stripe-signature")
        if not header:
            raise WebhookRejected("missing_signature", "Stripe-Signature is missing")
        stamp: str | None = None
        given: list[str] = []
        for part in header.split(","):
            key, _, value = part.strip().partition("=")
            if key == "t":
                stamp = value
            elif key == "v1":
                given.append(value)
        if not stamp or not stamp.isdigit() or not given:
            raise WebhookRejected("malformed", "Stripe-Signature has no t= or v1=")
        signed = stamp.encode() + b"." + body
        for creds in credentials:
            secret = creds.get("webhook_secret")
            if not secret:
                continue
            expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
            if any(hmac.compare_digest(expected, g) for g in given):
                if abs(time.time() - int(stamp)) > TOLERANCE_S:
                    raise WebhookRejected("stale_timestamp", "the signature is too old")
                return
        raise WebhookRejected("bad_signature", "no webhook secret matches the signature")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> ProviderEvent:
        """Events (https://docs.stripe.com/api/events/types): checkout.session.completed /
        .async_payment_succeeded / .async_payment_failed / .expired,
        payment_intent.succeeded / .payment_failed / .processing / .canceled,
        refund.created / .updated / .failed. The event id is Stripe's `evt_...`."""
        event = json.loads(body)
        kind = str(event["type"])
        obj = (event.get("data") or {}).get("object") or {}
        result = ProviderEvent(
            event_id=event["id"], kind="other", type=kind, occurred_at=event.get("created")
        )
        metadata = obj.get("metadata") or {}
        if kind.startswith("checkout.session."):
            session = _from_session(obj)
            status = {
                "checkout.session.completed": session.status,
                "checkout.session.async_payment_succeeded": "succeeded",
                "checkout.session.async_payment_failed": "failed",
                "checkout.session.expired": "failed",
            }.get(kind)
            result.kind = "payment"
            result.status = status if status in ("succeeded", "failed", "pending") else None
            result.attempt_id = obj.get("client_reference_id") or metadata.get("attempt_id")
            result.payment_id = metadata.get("payment_id")
            result.provider_order_id = obj["id"]
            result.provider_payment_id = session.provider_payment_id
            result.amount, result.currency = session.amount, session.currency
            if kind == "checkout.session.expired":
                result.error_code = "expired"
        elif kind.startswith("payment_intent."):
            status = {
                "payment_intent.succeeded": "succeeded",
                "payment_intent.payment_failed": "failed",
                "payment_intent.processing": "pending",
                "payment_intent.canceled": "failed",
            }.get(kind)
            result.kind = "payment"
            result.status = status
            result.attempt_id = metadata.get("attempt_id")
            result.payment_id = metadata.get("payment_id")
            result.provider_payment_id = obj["id"]
            result.amount = int(obj["amount"])
            result.currency = str(obj["currency"]).upper()
            if status == "failed":
                result.error_code, result.error_message = _pi_error(obj)
                if kind == "payment_intent.canceled":
                    result.error_code = "canceled"
        elif kind.startswith("refund."):
            refund = _from_refund(obj)
            result.kind = "refund"
            result.status = refund.status
            result.refund_id = metadata.get("refund_id")
            result.payment_id = metadata.get("payment_id")
            result.attempt_id = metadata.get("attempt_id")
            result.provider_refund_id = obj["id"]
            result.provider_payment_id = obj.get("payment_intent")
            result.amount = int(obj["amount"])
            result.currency = str(obj.get("currency") or "").upper() or None
            result.error_code = obj.get("failure_reason")
        return result


client = StripeClient()
