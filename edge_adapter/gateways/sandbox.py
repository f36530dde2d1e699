"""LightSpeedPay's own sandbox provider. We define its API; this docstring is its reference.

Auth: every request carries `X-Api-Key` and `X-Api-Secret` (credential fields `api_key`,
`api_secret`). `GET /v1/ping` answers 200 for good credentials (the credential check).

Charges (amounts are integer minor units, currencies ISO 4217 upper case):

    POST /v1/charges  {"reference", "amount", "currency", "method", "upi_vpa"?, "return_url"?,
                       "notify_url"?, "description"?, "metadata": {"payment_id", ...}}
      200 -> charge  {"id": "ch_...", "object": "charge", "reference", "status", "amount",
                      "currency", "method", "amount_refunded", "failure_code"?,
                      "failure_message"?, "next_action"?, "metadata", "created"}
      status: succeeded | failed | pending | requires_action | canceled
      next_action: {"type": "redirect", "url"} | {"type": "upi_collect", "vpa"}
                   | {"type": "upi_intent", "url": "upi://pay?..."}
      409 -> {"error": {"code": "duplicate_reference", ...}, "charge": {...the existing one...}}
             `reference` (our attempt id) is unique per account: a repeat never creates a
             second charge, and this client treats the answer as "found".
      400 -> {"error": {"code": "invalid_request" | "invalid_vpa", "message"}}
    GET /v1/charges?reference=<ref>  -> {"data": [charge]}   (empty list when unknown)
    GET /v1/charges/{id}             -> charge, or 404 {"error": {"code": "not_found"}}
    POST /v1/charges/{id}/cancel     (no body) cancels a charge nobody has paid yet
      200 -> the charge with status `canceled`, failure_code `canceled` (a repeat answers the
             same): its hosted page, collect or intent can no longer be paid
      409 -> {"error": {"code": "charge_not_cancelable", "message"}, "charge": {...}} when
             the charge already succeeded or failed
      404 -> {"error": {"code": "not_found"}}

Refunds:

    POST /v1/refunds {"charge", "amount", "reference" (our refund id)}
      200 -> refund {"id": "re_...", "object": "refund", "charge", "reference", "amount",
                     "currency", "status": "succeeded" | "pending" | "failed"}
      409 -> {"error": {"code": "duplicate_reference"}, "refund": {...existing...}}
      400 -> {"error": {"code": "amount_exceeds_refundable" | "charge_not_refundable"}}
    GET /v1/refunds/{id}; GET /v1/refunds?reference=<ref> -> {"data": [refund]}

Test values (the fake server in edge_adapter/fake_providers/sandbox.py implements them):
`upi_vpa` `success@sandbox` succeeds at once; `failure@sandbox` declines (failure_code
`payment_declined`); `pending@sandbox` answers `pending` and completes only when a test drives
it (POST /_hosted/sandbox/<id>/complete); any other VPA -> `requires_action` upi_collect;
UPI without a VPA -> `requires_action` upi_intent; card / netbanking / wallet ->
`requires_action` redirect to the hosted page.

Webhooks follow Standard Webhooks (https://www.standardwebhooks.com/, spec:
https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md):
headers `webhook-id`, `webhook-timestamp` (epoch seconds) and `webhook-signature` =
space-separated `v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`, signed with the
optional credential field `webhook_secret` (`whsec_<base64>`); at most 5 minutes of clock
skew. Body: {"type": "charge.succeeded" | "charge.failed" | "charge.canceled" (a void: read
as failed) | "refund.succeeded" |
"refund.failed", "timestamp": ISO 8601, "data": charge-or-refund}. `webhook-id` is the event
id (redeliveries keep it).
"""

import hmac
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks import Webhook

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

# provider code -> (decision, unified code, message)
ERROR_MAP: dict[str, tuple[str, str, str]] = {
    "payment_declined": ("fail", "bank_declined", "the payment was declined"),
    "insufficient_funds": ("fail", "insufficient_funds", "insufficient funds"),
    "invalid_vpa": ("fail", "invalid_vpa", "the UPI ID is not valid"),
    "expired": ("fail", "expired", "the customer did not complete the payment in time"),
    "invalid_request": ("next", "invalid_request", "the sandbox rejected the request"),
    "amount_exceeds_refundable": (
        "fail",
        "refund_exceeds_captured",
        "the refund is larger than what is left to refund",
    ),
    "charge_not_refundable": ("fail", "not_refundable", "the charge was not captured"),
    "not_found": ("fail", "not_found", "the sandbox has no such object"),
    "canceled": ("fail", "cancelled", "the charge was cancelled"),
}


async def check(http: httpx.AsyncClient, base_url: str, creds: dict[str, str]) -> Outcome:
    response = await http.get(f"{base_url}/v1/ping", headers=_headers(creds))
    return by_status(response)


def _headers(creds: Mapping[str, str]) -> dict[str, str]:
    return {"X-Api-Key": creds["api_key"], "X-Api-Secret": creds["api_secret"]}


def _error(response: httpx.Response) -> tuple[str, str]:
    try:
        err = response.json().get("error") or {}
    except ValueError:
        err = {}
    return str(err.get("code") or f"http_{response.status_code}"), str(err.get("message") or "")


def _charge_transport(response: httpx.Response) -> ChargeResult | None:
    result = by_http_status(response)
    return result if isinstance(result, ChargeResult) else None


def _refund_transport(response: httpx.Response) -> RefundResult | None:
    result = by_http_status(response, refund=True)
    return result if isinstance(result, RefundResult) else None


def _charge_result(charge: Mapping[str, Any], http_status: int | None = None) -> ChargeResult:
    status = charge["status"]
    if status == "canceled":  # voided after a cancel: nothing was paid
        status = "failed"
    elif status not in ("succeeded", "failed", "pending", "requires_action"):
        raise ValueError(f"unknown sandbox charge status {status!r}")
    return ChargeResult(
        status,
        provider_order_id=charge["id"],
        provider_payment_id=charge["id"],
        next_action=charge.get("next_action") if status == "requires_action" else None,
        amount=int(charge["amount"]),
        currency=str(charge["currency"]).upper(),
        error_code=charge.get("failure_code"),
        error_message=charge.get("failure_message"),
        http_status=http_status,
    )


def _refund_result(refund: Mapping[str, Any], http_status: int | None = None) -> RefundResult:
    status = refund["status"]
    if status not in ("succeeded", "failed", "pending"):
        raise ValueError(f"unknown sandbox refund status {status!r}")
    return RefundResult(
        status,
        provider_refund_id=refund["id"],
        amount=int(refund["amount"]),
        error_code=refund.get("failure_code"),
        error_message=refund.get("failure_message"),
        http_status=http_status,
    )


class SandboxClient:
    name = "sandbox"

    def requirements(self, req: ChargeRequest) -> str | None:
        """Our sandbox takes every method and currency we accept (module docstring)."""
        return None

    async def cancel_charge(self, call: ProviderCall, ref: ChargeRef) -> VoidResult:
        """POST /v1/charges/{id}/cancel (module docstring). A charge we never learnt the id
        of is looked up by our reference first; none at all means nothing can be paid."""
        charge_id = ref.provider_payment_id or ref.provider_order_id
        if not charge_id:
            req = ChargeRequest(ref.payment_id, ref.attempt_id, ref.amount, ref.currency, "upi")
            found = await self.find_charge(call, req)
            if found.status == "not_found":
                return VoidResult("voided", error_code="not_found")
            if found.status in ("error", "unknown"):
                return VoidResult(found.status, error_code=found.error_code)
            charge_id = found.provider_payment_id
        response = await call.http.post(
            f"{call.base_url}/v1/charges/{charge_id}/cancel", headers=_headers(call.credentials)
        )
        if response.status_code == 404:
            return VoidResult("voided", error_code="not_found", http_status=404)
        if response.status_code in (200, 409):
            charge = response.json() if response.status_code == 200 else response.json()["charge"]
            return void_from_state(
                str(charge["status"]),
                voided=("canceled", "failed"),
                paid=("succeeded",),
                http_status=response.status_code,
            )
        if transport := void_by_http_status(response):
            return transport
        code, message = _error(response)
        return VoidResult(
            "failed", error_code=code, error_message=message, http_status=response.status_code
        )

    async def create_charge(self, call: ProviderCall, req: ChargeRequest) -> ChargeResult:
        """POST /v1/charges with our attempt id as `reference` (unique per account: a 409
        carries the existing charge, so a repeat never charges twice)."""
        body: dict[str, Any] = {
            "reference": req.attempt_id,
            "amount": req.amount,
            "currency": req.currency,
            "method": req.method,
            "metadata": {"payment_id": req.payment_id, "attempt_id": req.attempt_id},
        }
        for key in ("upi_vpa", "return_url", "notify_url", "description"):
            if getattr(req, key):
                body[key] = getattr(req, key)
        response = await call.http.post(
            f"{call.base_url}/v1/charges", json=body, headers=_headers(call.credentials)
        )
        if response.status_code == 409:
            return _charge_result(response.json()["charge"], 409)
        if transport := _charge_transport(response):
            return transport
        if response.status_code >= 400:
            code, message = _error(response)
            return ChargeResult(
                "failed", error_code=code, error_message=message, http_status=response.status_code
            )
        return _charge_result(response.json(), response.status_code)

    async def find_charge(self, call: ProviderCall, req: ChargeRequest) -> ChargeResult:
        """GET /v1/charges?reference=<attempt id>."""
        response = await call.http.get(
            f"{call.base_url}/v1/charges",
            params={"reference": req.attempt_id},
            headers=_headers(call.credentials),
        )
        if transport := _charge_transport(response):
            return transport
        if response.status_code >= 400:
            code, message = _error(response)
            return ChargeResult(
                "unknown", error_code=code, error_message=message, http_status=response.status_code
            )
        data = response.json()["data"]
        if not data:
            return ChargeResult("not_found", http_status=response.status_code)
        return _charge_result(data[0], response.status_code)

    async def fetch_status(self, call: ProviderCall, ref: ChargeRef) -> ChargeResult:
        """GET /v1/charges/{id}, or by reference when we never learnt the id."""
        if not ref.provider_payment_id:
            req = ChargeRequest(ref.payment_id, ref.attempt_id, ref.amount, ref.currency, "upi")
            return await self.find_charge(call, req)
        response = await call.http.get(
            f"{call.base_url}/v1/charges/{ref.provider_payment_id}",
            headers=_headers(call.credentials),
        )
        if response.status_code == 404:
            return ChargeResult("not_found", http_status=404)
        if transport := _charge_transport(response):
            return transport
        if response.status_code >= 400:
            code, message = _error(response)
            return ChargeResult(
                "unknown", error_code=code, error_message=message, http_status=response.status_code
            )
        return _charge_result(response.json(), response.status_code)

    async def refund(self, call: ProviderCall, req: RefundRequest) -> RefundResult:
        """POST /v1/refunds with our refund id as `reference` (a 409 returns the existing
        refund)."""
        charge_id = req.provider_payment_id or req.provider_order_id
        if not charge_id:
            found = await self.find_charge(
                call, ChargeRequest(req.payment_id, req.attempt_id, req.amount, req.currency, "upi")
            )
            if found.status in ("error", "unknown", "not_found"):
                return RefundResult(
                    "error" if found.status == "not_found" else found.status,
                    error_code=found.error_code or "charge_not_found",
                    sent=False,
                )
            charge_id = found.provider_payment_id
        response = await call.http.post(
            f"{call.base_url}/v1/refunds",
            json={"charge": charge_id, "amount": req.amount, "reference": req.refund_id},
            headers=_headers(call.credentials),
        )
        if response.status_code == 409:
            return _refund_result(response.json()["refund"], 409)
        if transport := _refund_transport(response):
            return transport
        if response.status_code >= 400:
            code, message = _error(response)
            return RefundResult(
                "failed", error_code=code, error_message=message, http_status=response.status_code
            )
        return _refund_result(response.json(), response.status_code)

    async def fetch_refund(self, call: ProviderCall, req: RefundRequest) -> RefundResult:
        """GET /v1/refunds/{id}, or GET /v1/refunds?reference=<our refund id>."""
        if req.provider_refund_id:
            response = await call.http.get(
                f"{call.base_url}/v1/refunds/{req.provider_refund_id}",
                headers=_headers(call.credentials),
            )
        else:
            response = await call.http.get(
                f"{call.base_url}/v1/refunds",
                params={"reference": req.refund_id},
                headers=_headers(call.credentials),
            )
        if response.status_code == 404:
            return RefundResult("not_found", http_status=404)
        if transport := _refund_transport(response):
            return transport
        if response.status_code >= 400:
            code, message = _error(response)
            return RefundResult(
                "unknown", error_code=code, error_message=message, http_status=response.status_code
            )
        body = response.json()
        if "data" in body:
            if not body["data"]:
                return RefundResult("not_found", http_status=response.status_code)
            body = body["data"][0]
        return _refund_result(body, response.status_code)

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, credentials: list[Mapping[str, str]]
    ) -> None:
        """Standard Webhooks verification (see the module docstring): the signature is
        recomputed with the `standardwebhooks` package for each configured `webhook_secret`
        (current first, then previous ones) and compared in constant time against every
        `v1,` entry; then the timestamp must be within 5 minutes."""
        h = {k.lower(): v for k, v in headers.items()}
        msg_id, stamp, signatures = (
            h.get("webhook-id"),
            h.get("webhook-timestamp"),
            h.get("webhook-signature"),
        )
        if not (msg_id and stamp and signatures):
            raise WebhookRejected("missing_signature", "Standard Webhooks headers are missing")
        try:
            ts = int(stamp)
            text = body.decode()
        except (ValueError, UnicodeDecodeError) as exc:
            raise WebhookRejected("malformed", "bad timestamp or body encoding") from exc
        given = [s.split(",", 1)[1] for s in signatures.split() if s.startswith("v1,")]
        when = datetime.fromtimestamp(ts, tz=UTC)
        for creds in credentials:
            secret = creds.get("webhook_secret")
            if not secret:
                continue
            try:
                expected = Webhook(secret).sign(msg_id, when, text).split(",", 1)[1]
            except ValueError:
                continue  # a malformed secret verifies nothing
            if any(hmac.compare_digest(expected.encode(), g.encode()) for g in given):
                if abs(time.time() - ts) > TOLERANCE_S:
                    raise WebhookRejected("stale_timestamp", "webhook timestamp too far off")
                return
        raise WebhookRejected("bad_signature", "no webhook secret matches the signature")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> ProviderEvent:
        h = {k.lower(): v for k, v in headers.items()}
        event = json.loads(body)
        kind_name, _, outcome = str(event["type"]).partition(".")
        if kind_name not in ("charge", "refund"):  # signed, but not ours to act on: a 200
            return ProviderEvent(event_id=h["webhook-id"], kind="other", type=event["type"])
        data = event["data"]
        occurred = datetime.fromisoformat(event["timestamp"]).timestamp()
        if kind_name == "charge":
            metadata = data.get("metadata") or {}
            return ProviderEvent(
                event_id=h["webhook-id"],
                kind="payment",
                status=(
                    outcome
                    if outcome in ("succeeded", "failed", "pending")
                    else "failed"
                    if outcome == "canceled"
                    else None
                ),
                attempt_id=data.get("reference"),
                payment_id=metadata.get("payment_id"),
                provider_order_id=data.get("id"),
                provider_payment_id=data.get("id"),
                amount=int(data["amount"]),
                currency=str(data["currency"]).upper(),
                error_code=data.get("failure_code"),
                error_message=data.get("failure_message"),
                occurred_at=occurred,
                type=event["type"],
            )
        # refund
        return ProviderEvent(
            event_id=h["webhook-id"],
            kind="refund",
            status=outcome if outcome in ("succeeded", "failed", "pending") else None,
            provider_payment_id=data.get("charge"),
            refund_id=data.get("reference"),
            provider_refund_id=data.get("id"),
            amount=int(data["amount"]),
            currency=str(data.get("currency") or "").upper() or None,
            occurred_at=occurred,
            type=event["type"],
        )


client = SandboxClient()
