"""PhonePe PG v2: the credential check and the payment client.

Every PG v2 call carries `Authorization: O-Bearer <access_token>`, the token coming from
the OAuth client-credentials call POST /v1/oauth/token (form-encoded client_id,
client_version, client_secret, grant_type=client_credentials), which answers
access_token, token_type "O-Bearer", issued_at / expires_at in epoch seconds
(https://developer.phonepe.com/payment-gateway/website-integration/standard-checkout/api-integration/api-reference/authorization).
We cache the token per client credentials until shortly before it expires, and fetch a
new one once when PhonePe answers 401.

Hosts: in the sandbox one host serves both (https://api-preprod.phonepe.com/apis/pg-sandbox);
in production the token comes from https://api.phonepe.com/apis/identity-manager and the
PG APIs from https://api.phonepe.com/apis/pg (PhonePe's own SDK constants,
https://github.com/PhonePe/phonepe-pg-sdk-python/blob/main/phonepe/sdk/pg/common/constants/base_urls.py).
Given either production base we derive the other.

Amounts are integer paise both ways; PhonePe PG takes INR only, at least 100 paise.
Our attempt id is the merchantOrderId (at most 63 characters of letters, digits, _ and -);
metaInfo.udf1 carries our payment id and udf2 our attempt id.
"""

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from .base import Outcome, by_status
from .payments import (
    ChargeRef,
    ChargeRequest,
    ChargeResult,
    ChargeStatus,
    ProviderCall,
    ProviderEvent,
    RefundRequest,
    RefundResult,
    RefundStatus,
    VoidResult,
    WebhookRejected,
    by_http_status,
)

SANDBOX_HOST_PATH = "/apis/pg-sandbox"
PROD_OAUTH_PATH = "/apis/identity-manager"
PROD_PG_PATH = "/apis/pg"
TOKEN_MARGIN_S = 60  # refresh this long before PhonePe's expires_at
ORDER_EXPIRY_S = 1200

# PhonePe codes our client can surface -> (decision, unified code, message). The
# detailedErrorCode values come from https://developer.phonepe.com/payment-gateway/error-codes;
# BAD_REQUEST / AUTHORIZATION_FAILED / INTERNAL_SERVER_ERROR are its API-level codes.
ERROR_MAP: dict[str, tuple[str, str, str]] = {
    "Z9": ("fail", "insufficient_funds", "Insufficient balance in the customer's account"),
    "ZM": ("fail", "authentication_failed", "The customer entered a wrong UPI PIN"),
    "TXN_AUTO_FAILED": ("fail", "bank_declined", "The customer's bank could not complete it"),
    "U90": ("retry", "bank_unavailable", "The customer's bank is slow to respond"),
    "UT": ("next", "bank_unavailable", "Technical issue at the customer's bank"),
    "U28": ("next", "bank_unavailable", "The customer's bank is not reachable"),
    "EXPIRED": ("fail", "expired", "The customer did not pay before the order expired"),
    "PAYMENT_ERROR": ("fail", "bank_declined", "The payment failed"),
    "AUTHORIZATION_ERROR": ("fail", "authentication_failed", "The customer did not authorise"),
    "BAD_REQUEST": ("next", "invalid_request", "PhonePe refused the request"),
    "AUTHORIZATION_FAILED": ("next", "authentication_failed", "PhonePe rejected our credentials"),
    "INTERNAL_SERVER_ERROR": ("retry", "provider_error", "PhonePe had an internal error"),
}


async def check(http: httpx.AsyncClient, base_url: str, creds: dict[str, str]) -> Outcome:
    response = await http.post(
        f"{base_url}/v1/oauth/token",
        data={
            "client_id": creds["client_id"],
            "client_version": creds["client_version"],
            "client_secret": creds["client_secret"],
            "grant_type": "client_credentials",
        },
    )
    if response.status_code == 400:
        return Outcome(False, 400, "auth_failed", "PhonePe rejected the client credentials")
    outcome = by_status(response)
    if outcome.ok and not response.json().get("access_token"):
        return Outcome(False, response.status_code, "unexpected_response", "no access token")
    return outcome


def hosts(base_url: str) -> tuple[str, str]:
    """(oauth base, PG base) for a configured base URL (see the module docstring)."""
    if base_url.endswith(PROD_OAUTH_PATH):
        return base_url, base_url[: -len(PROD_OAUTH_PATH)] + PROD_PG_PATH
    if base_url.endswith(PROD_PG_PATH):
        return base_url[: -len(PROD_PG_PATH)] + PROD_OAUTH_PATH, base_url
    return base_url, base_url


def webhook_authorization(username: str, password: str) -> str:
    """The Authorization header PhonePe puts on webhooks: SHA256("username:password") in
    hex, with the username and password configured for the webhook on the dashboard
    (https://developer.phonepe.com/payment-gateway/website-integration/standard-checkout/api-integration/api-reference/webhook-handling;
    PhonePe's SDK test vector: https://github.com/PhonePe/phonepe-pg-sdk-python/blob/main/tests/test_validate_callback.py)."""
    return hashlib.sha256(f"{username}:{password}".encode()).hexdigest()


@dataclass
class _Token:
    value: str
    expires_at: float


class TokenUnavailable(Exception):
    """No token: the call that needed it was never sent."""

    def __init__(self, code: str, message: str, http_status: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.http_status = code, message, http_status


_TOKENS: dict[tuple[str, str, str, str], _Token] = {}
_LOCKS: dict[tuple[tuple[str, str, str, str], int], asyncio.Lock] = {}


def clear_token_cache() -> None:
    _TOKENS.clear()
    _LOCKS.clear()


def _cache_key(call: ProviderCall) -> tuple[str, str, str, str]:
    creds = call.credentials
    secret = hashlib.sha256(creds["client_secret"].encode()).hexdigest()
    return (hosts(call.base_url)[0], creds["client_id"], creds["client_version"], secret)


async def access_token(call: ProviderCall, *, refresh: bool = False) -> str:
    """A cached PhonePe access token for these client credentials (see the module
    docstring); raises TokenUnavailable when PhonePe does not give one."""
    key = _cache_key(call)
    cached = _TOKENS.get(key)
    if cached and not refresh and time.time() < cached.expires_at - TOKEN_MARGIN_S:
        return cached.value
    seen = cached.value if cached else None
    lock = _LOCKS.setdefault((key, id(asyncio.get_running_loop())), asyncio.Lock())
    async with lock:
        # Another caller may have fetched one while we waited: use it, unless it is the
        # very token PhonePe just refused.
        cached = _TOKENS.get(key)
        if (
            cached
            and time.time() < cached.expires_at - TOKEN_MARGIN_S
            and not (refresh and cached.value == seen)
        ):
            return cached.value
        try:
            response = await call.http.post(
                f"{key[0]}/v1/oauth/token",
                data={
                    "client_id": call.credentials["client_id"],
                    "client_version": call.credentials["client_version"],
                    "client_secret": call.credentials["client_secret"],
                    "grant_type": "client_credentials",
                },
            )
        except httpx.TimeoutException as exc:
            raise TokenUnavailable("timeout", "PhonePe's token call timed out") from exc
        except httpx.HTTPError as exc:
            raise TokenUnavailable("unreachable", "could not reach PhonePe for a token") from exc
        status = response.status_code
        if status == 429:
            raise TokenUnavailable("rate_limited", "PhonePe is rate limiting us", status)
        if status in (400, 401, 403):
            raise TokenUnavailable("auth_failed", "PhonePe rejected the client credentials", status)
        if status >= 300:
            raise TokenUnavailable(
                "token_unavailable", f"PhonePe token call: HTTP {status}", status
            )
        try:
            body = response.json()
            token = str(body["access_token"])
            now = time.time()
            expires_at = float(body.get("expires_at") or now + float(body.get("expires_in", 0)))
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenUnavailable("unexpected_response", "no access token in the answer") from exc
        _TOKENS[key] = _Token(token, expires_at)
        return token


def _problem(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("code") or body.get("errorCode") or f"http_{response.status_code}")
    return code, str(body.get("message") or "PhonePe refused the request")


def _order_result(body: Mapping[str, Any], http_status: int) -> ChargeResult:
    """An order status answer: state PENDING / COMPLETED / FAILED (EXPIRED in callbacks),
    amount in paise, the latest attempt in paymentDetails
    (https://developer.phonepe.com/payment-gateway/website-integration/standard-checkout/api-integration/api-reference/order-status)."""
    state = str(body.get("state", "")).upper()
    details = body.get("paymentDetails") or []
    last = details[-1] if details and isinstance(details[-1], dict) else {}
    status: ChargeStatus = "pending"
    if state == "COMPLETED":
        status = "succeeded"
    elif state in ("FAILED", "EXPIRED"):
        status = "failed"
    code = last.get("detailedErrorCode") or body.get("detailedErrorCode")
    code = code or last.get("errorCode") or body.get("errorCode")
    if state == "EXPIRED" and not code:
        code = "EXPIRED"
    amount = body.get("amount")
    return ChargeResult(
        status,
        provider_order_id=str(body.get("orderId") or "") or None,
        provider_payment_id=str(last.get("transactionId") or "") or None,
        amount=int(amount) if isinstance(amount, int) else None,
        currency="INR",
        error_code=str(code) if status == "failed" and code else None,
        error_message=str(body.get("errorCode") or state) if status == "failed" else None,
        http_status=http_status,
    )


class PhonePeClient:
    """PhonePe PG v2 (client_id / client_version / client_secret; webhooks verified with
    webhook_username / webhook_password)."""

    name = "phonepe"

    def requirements(self, req: ChargeRequest) -> str | None:
        """PhonePe PG takes INR, in paise, at least 100
        (https://developer.phonepe.com/payment-gateway/website-integration/standard-checkout/api-integration/api-reference/create-payment/initiate-payment:
        amount, "Minimum value = 100 (in paise)" in
        https://developer.phonepe.com/v1/reference/nodejs-sdk-standard-checkout)."""
        if req.currency != "INR":
            return "PhonePe takes INR only"
        if req.amount < 100:
            return "PhonePe takes at least 100 paise"
        return None

    async def cancel_charge(self, call: ProviderCall, ref: ChargeRef) -> VoidResult:
        """PhonePe PG v2's checkout APIs are authorization, create payment, order status,
        refund and refund status (https://developer.phonepe.com/v1/docs/common-links-pg-v2-standard-checkout):
        no cancel. (The Cancel Payment Link API is for PhonePe's separate payment-links
        product, https://developer.phonepe.com/payment-gateway/payment-links/api-reference-payment-links/cancel,
        and the /v3/charge/.../cancel APIs for its offline products.) An order lapses after
        its expireAfter (ORDER_EXPIRY_S). So `not_supported`, without a call; a late success
        is still caught and flagged."""
        return VoidResult(
            "not_supported",
            error_code="no_cancel_api",
            error_message="PhonePe PG cannot cancel an order",
            sent=False,
        )

    async def _request(
        self, call: ProviderCall, method: str, path: str, payload: Any = None
    ) -> httpx.Response:
        """One PG call with the cached token; one fresh token and one retry on 401 (the
        401 means PhonePe refused it, so repeating it is safe)."""
        base = hosts(call.base_url)[1]
        response: httpx.Response | None = None
        for attempt in range(2):
            token = await access_token(call, refresh=attempt > 0)
            response = await call.http.request(
                method,
                f"{base}{path}",
                json=payload,
                headers={"Authorization": f"O-Bearer {token}", "Accept": "application/json"},
            )
            if response.status_code != 401:
                break
            _TOKENS.pop(_cache_key(call), None)
        assert response is not None
        return response

    @staticmethod
    def _meta(req: ChargeRequest) -> dict[str, str]:
        return {"udf1": req.payment_id, "udf2": req.attempt_id}

    async def create_charge(self, call: ProviderCall, req: ChargeRequest) -> ChargeResult:
        """Card, netbanking and wallet: Standard Checkout, POST /checkout/v2/pay with
        paymentFlow.type PG_CHECKOUT, answered with orderId, state PENDING and the
        redirectUrl of PhonePe's hosted page
        (https://developer.phonepe.com/payment-gateway/website-integration/standard-checkout/api-integration/api-reference/create-payment/initiate-payment).
        disablePaymentRetry makes the customer's first failure final, so a failed attempt
        can move to another gateway.

        UPI: the custom checkout POST /payments/v2/pay with paymentFlow.type PG and
        paymentMode UPI_COLLECT (details.type VPA) when we have the customer's VPA, else
        UPI_INTENT, which answers an intentUrl (upi://...)
        (https://developer.phonepe.com/payment-gateway-custom-checkout/custom-api-integration/initiate-payment/upi-collect-api/upi-collect;
        request shapes as PhonePe's own SDK builds them:
        https://github.com/PhonePe/phonepe-pg-sdk-node/tree/main/src/common/models/request/instruments).

        A 4xx other than 401/403/429 is a refusal: nothing was created (`error`), unless
        PhonePe already has an order with this merchantOrderId (an earlier create went
        through), whose status we then answer, so a repeated create never makes a second
        order. After an ambiguous answer, find_charge looks the merchantOrderId up."""
        if req.currency != "INR":
            return ChargeResult(
                "error", error_code="currency_unsupported", error_message="INR only", sent=False
            )
        body: dict[str, Any] = {
            "merchantOrderId": req.attempt_id,
            "amount": req.amount,
            "expireAfter": ORDER_EXPIRY_S,
            "metaInfo": self._meta(req),
        }
        if req.method == "upi":
            path = "/payments/v2/pay"
            if req.upi_vpa:
                mode = {
                    "type": "UPI_COLLECT",
                    "details": {"type": "VPA", "vpa": req.upi_vpa},
                    "message": (req.description or "Payment")[:50],
                }
            else:
                mode = {"type": "UPI_INTENT"}
                body["deviceContext"] = {"deviceOS": "ANDROID"}
            body["paymentFlow"] = {"type": "PG", "paymentMode": mode}
        else:
            path = "/checkout/v2/pay"
            flow: dict[str, Any] = {"type": "PG_CHECKOUT"}
            if req.return_url:
                flow["merchantUrls"] = {"redirectUrl": req.return_url}
            body["paymentFlow"] = flow
            body["disablePaymentRetry"] = True
        try:
            response = await self._request(call, "POST", path, body)
        except TokenUnavailable as exc:
            return ChargeResult(
                "error",
                error_code=exc.code,
                error_message=exc.message,
                http_status=exc.http_status,
                sent=False,
            )
        if transport := by_http_status(response):
            assert isinstance(transport, ChargeResult)
            return transport
        if response.status_code >= 300:
            code, message = _problem(response)
            # A refusal may be "this merchantOrderId exists" (an earlier create for the
            # attempt went through): answer that order rather than claim nothing exists.
            existing = await self._status(call, req.attempt_id)
            if existing.status not in ("not_found", "error", "unknown"):
                return existing
            return ChargeResult(
                "error",
                error_code=code,
                error_message=message,
                http_status=response.status_code,
                sent=False,
            )
        answer = response.json()
        order_id = str(answer.get("orderId") or "") or None
        state = str(answer.get("state", "")).upper()
        if state == "FAILED":
            return ChargeResult(
                "failed",
                provider_order_id=order_id,
                error_code="PAYMENT_ERROR",
                error_message="PhonePe failed the order",
                http_status=response.status_code,
            )
        action: dict[str, Any]
        if req.method == "upi" and req.upi_vpa:
            action = {"type": "upi_collect", "vpa": req.upi_vpa}
        elif req.method == "upi":
            action = {"type": "upi_intent", "url": str(answer["intentUrl"])}
        else:
            action = {"type": "redirect", "url": str(answer["redirectUrl"])}
        return ChargeResult(
            "requires_action",
            provider_order_id=order_id,
            next_action=action,
            amount=req.amount,
            currency="INR",
            http_status=response.status_code,
        )

    async def _status(self, call: ProviderCall, merchant_order_id: str) -> ChargeResult:
        try:
            response = await self._request(
                call,
                "GET",
                f"/checkout/v2/order/{quote(merchant_order_id, safe='')}/status?details=false",
            )
        except TokenUnavailable as exc:
            return ChargeResult("error", error_code=exc.code, error_message=exc.message, sent=False)
        if response.status_code == 404:
            return ChargeResult("not_found", http_status=404)
        if transport := by_http_status(response):
            assert isinstance(transport, ChargeResult)
            return transport
        if response.status_code >= 300:
            code, message = _problem(response)
            return ChargeResult(
                "error",
                error_code=code,
                error_message=message,
                http_status=response.status_code,
                sent=False,
            )
        return _order_result(response.json(), response.status_code)

    async def find_charge(self, call: ProviderCall, req: ChargeRequest) -> ChargeResult:
        """Order status by our merchantOrderId: PhonePe answers 404 for an order it does
        not have (https://developer.phonepe.com/payment-gateway/error-codes)."""
        return await self._status(call, req.attempt_id)

    async def fetch_status(self, call: ProviderCall, ref: ChargeRef) -> ChargeResult:
        """GET /checkout/v2/order/{merchantOrderId}/status (see _order_result)."""
        return await self._status(call, ref.attempt_id)

    async def refund(self, call: ProviderCall, req: RefundRequest) -> RefundResult:
        """POST /payments/v2/refund with merchantRefundId = our refund id,
        originalMerchantOrderId = our attempt id and the amount in paise (at most what was
        paid); PhonePe answers refundId and state PENDING
        (https://developer.phonepe.com/payment-gateway/website-integration/standard-checkout/api-integration/api-reference/refund)."""
        body = {
            "merchantRefundId": req.refund_id,
            "originalMerchantOrderId": req.attempt_id,
            "amount": req.amount,
        }
        try:
            response = await self._request(call, "POST", "/payments/v2/refund", body)
        except TokenUnavailable as exc:
            return RefundResult("error", error_code=exc.code, error_message=exc.message, sent=False)
        if transport := by_http_status(response, refund=True):
            assert isinstance(transport, RefundResult)
            return transport
        if response.status_code >= 300:
            code, message = _problem(response)
            return RefundResult(
                "failed", error_code=code, error_message=message, http_status=response.status_code
            )
        answer = response.json()
        return RefundResult(
            _refund_status(answer.get("state")),
            provider_refund_id=str(answer.get("refundId") or "") or None,
            amount=answer.get("amount") if isinstance(answer.get("amount"), int) else None,
            http_status=response.status_code,
        )

    async def fetch_refund(self, call: ProviderCall, req: RefundRequest) -> RefundResult:
        """GET /payments/v2/refund/{merchantRefundId}/status: state PENDING, CONFIRMED,
        COMPLETED or FAILED
        (https://developer.phonepe.com/payment-gateway/website-integration/standard-checkout/api-integration/api-reference/refund-status)."""
        try:
            response = await self._request(
                call, "GET", f"/payments/v2/refund/{quote(req.refund_id, safe='')}/status"
            )
        except TokenUnavailable as exc:
            return RefundResult("error", error_code=exc.code, error_message=exc.message, sent=False)
        if response.status_code == 404:
            return RefundResult("not_found", http_status=404)
        if transport := by_http_status(response, refund=True):
            assert isinstance(transport, RefundResult)
            return transport
        if response.status_code >= 300:
            code, message = _problem(response)
            return RefundResult(
                "error", error_code=code, error_message=message, http_status=response.status_code
            )
        answer = response.json()
        details = answer.get("paymentDetails") or []
        last = details[-1] if details and isinstance(details[-1], dict) else {}
        status = _refund_status(answer.get("state"))
        return RefundResult(
            status,
            provider_refund_id=str(last.get("transactionId") or "") or None,
            amount=answer.get("amount") if isinstance(answer.get("amount"), int) else None,
            error_code=(str(answer.get("errorCode") or "") or None) if status == "failed" else None,
            http_status=response.status_code,
        )

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, credentials: list[Mapping[str, str]]
    ) -> None:
        """Authorization = SHA256("username:password") of the webhook credentials
        configured on PhonePe's dashboard (see webhook_authorization). Checked against each
        credentials dict that has webhook_username / webhook_password, in constant time."""
        given = _header(headers, "authorization").strip()
        if given.upper().startswith("SHA256 "):
            given = given[7:].strip()
        if not given:
            raise WebhookRejected("missing_signature", "PhonePe webhook without Authorization")
        for creds in credentials:
            user, password = creds.get("webhook_username"), creds.get("webhook_password")
            if user and password:
                expected = webhook_authorization(user, password)
                if secrets.compare_digest(expected, given.lower()):
                    return
        raise WebhookRejected("bad_signature", "the PhonePe Authorization does not verify")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> ProviderEvent:
        """{"event", "payload"}: checkout.order.completed / checkout.order.failed (and
        pg.order.* for custom checkout), checkout.transaction.attempt.failed,
        pg.refund.accepted / completed / failed; payload as the order or refund status
        (https://developer.phonepe.com/payment-gateway/website-integration/standard-checkout/api-integration/api-reference/webhook-handling).
        PhonePe sends no event id: the id is a digest of event, order / refund and state."""
        try:
            data = json.loads(body)
            event = str(data["event"])
            payload = data.get("payload") or {}
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookRejected("malformed", "not a PhonePe webhook") from exc
        meta = payload.get("metaInfo") or {}
        refund_kind = event.startswith("pg.refund.")
        ident = "|".join(
            str(x)
            for x in (
                event,
                payload.get("orderId"),
                payload.get("refundId"),
                payload.get("merchantRefundId"),
                payload.get("state"),
            )
        )
        event_id = "phonepe_" + hashlib.sha256(ident.encode()).hexdigest()[:32]
        amount = payload.get("amount") if isinstance(payload.get("amount"), int) else None
        attempts = payload.get("paymentDetails") or []
        stamp = (
            attempts[-1].get("timestamp") if attempts and isinstance(attempts[-1], dict) else None
        )
        occurred_at = stamp / 1000 if isinstance(stamp, int) else None  # PhonePe: epoch ms
        if refund_kind:
            status = _refund_status(payload.get("state"))
            return ProviderEvent(
                event_id=event_id,
                kind="refund",
                status=status,
                attempt_id=payload.get("originalMerchantOrderId"),
                refund_id=payload.get("merchantRefundId"),
                provider_refund_id=payload.get("refundId"),
                amount=amount,
                currency="INR",
                error_code=payload.get("errorCode") if status == "failed" else None,
                occurred_at=occurred_at,
                type=event,
            )
        if event.endswith("order.completed") or event.endswith("order.failed"):
            result = _order_result(payload, 200)
            status_text: str | None = result.status
        else:  # an attempt failed; the order itself is still open
            result = _order_result({**payload, "state": "PENDING"}, 200)
            status_text = "pending"
            result.error_code = payload.get("detailedErrorCode") or payload.get("errorCode")
        return ProviderEvent(
            event_id=event_id,
            kind="payment",
            status=status_text,
            attempt_id=payload.get("merchantOrderId") or meta.get("udf2"),
            payment_id=meta.get("udf1"),
            provider_order_id=result.provider_order_id,
            provider_payment_id=result.provider_payment_id,
            amount=amount,
            currency="INR",
            error_code=result.error_code,
            error_message=result.error_message,
            occurred_at=occurred_at,
            type=event,
        )


def _refund_status(state: Any) -> RefundStatus:
    text = str(state or "").upper()
    if text == "COMPLETED":
        return "succeeded"
    if text == "FAILED":
        return "failed"
    return "pending"  # PENDING, CONFIRMED (accepted by PhonePe, not yet with the bank)


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


client = PhonePeClient()
