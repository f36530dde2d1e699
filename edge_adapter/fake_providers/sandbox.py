"""LightSpeedPay's own sandbox provider (its API is documented in
edge_adapter/gateways/sandbox.py). Test VPAs: success@sandbox, failure@sandbox,
pending@sandbox; any other VPA waits for the customer (upi_collect)."""

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from . import state
from .credentials import FAKE_CREDENTIALS
from .state import after_commit, behaviour, good

router = APIRouter(prefix="/sandbox")
P = "sandbox"
METHODS = ("upi", "card", "netbanking", "wallet")


def _unauthorized(request: Request) -> Response | None:
    h = request.headers
    if not good(P, api_key=h.get("x-api-key", ""), api_secret=h.get("x-api-secret", "")):
        return JSONResponse({"error": {"code": "invalid_api_key", "message": "bad key"}}, 401)
    return None


def _error(code: str, message: str, status: int = 400) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status)


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


@router.get("/v1/ping")
async def ping(request: Request) -> Response:
    if early := await behaviour(P):
        return early
    if bad := _unauthorized(request):
        return bad
    return JSONResponse({"ok": True})


def _charges() -> list[dict[str, Any]]:
    return [o for (p, _), o in state.orders.items() if p == P]


def _by_reference(reference: str) -> list[dict[str, Any]]:
    """Charges with this reference (an index: the bench makes thousands)."""
    charge_id = _references.get(reference)
    charge = state.orders.get((P, charge_id)) if charge_id else None
    return [charge] if charge else []


_references: dict[str, str] = {}


@router.post("/v1/charges")
async def create_charge(request: Request) -> Response:
    if early := await behaviour(P):
        return early
    if bad := _unauthorized(request):
        return bad
    try:
        body = await request.json()
    except ValueError:
        return _error("invalid_request", "the body must be JSON")
    reference, amount, currency, method = (
        body.get(k) for k in ("reference", "amount", "currency", "method")
    )
    if not isinstance(reference, str) or not reference:
        return _error("invalid_request", "reference is required")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return _error("invalid_request", "amount must be a positive integer (minor units)")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isupper():
        return _error("invalid_request", "currency must be an ISO 4217 code")
    if method not in METHODS:
        return _error("invalid_request", f"method must be one of {', '.join(METHODS)}")
    vpa = body.get("upi_vpa")
    if vpa is not None and (not isinstance(vpa, str) or "@" not in vpa):
        return _error("invalid_vpa", "upi_vpa is not a valid UPI ID")
    existing = _by_reference(reference)
    if existing:
        return JSONResponse(
            {
                "error": {"code": "duplicate_reference", "message": "reference already used"},
                "charge": _public(existing[0]),
            },
            409,
        )
    charge: dict[str, Any] = {
        "id": f"ch_{secrets.token_hex(8)}",
        "object": "charge",
        "reference": reference,
        "status": "requires_action",
        "amount": amount,
        "currency": currency,
        "method": method,
        "amount_refunded": 0,
        "failure_code": None,
        "failure_message": None,
        "next_action": None,
        "metadata": body.get("metadata") or {},
        "created": int(time.time()),
        "_notify_url": body.get("notify_url"),
    }
    state.orders[(P, charge["id"])] = charge
    _references[reference] = charge["id"]
    if method == "upi" and vpa == "success@sandbox":
        await _finish(charge, "success")
    elif method == "upi" and vpa == "failure@sandbox":
        await _finish(charge, "failure")
    elif method == "upi" and vpa == "pending@sandbox":
        charge["status"] = "pending"
    elif method == "upi" and vpa:
        charge["next_action"] = {"type": "upi_collect", "vpa": vpa}
    elif method == "upi":
        charge["next_action"] = {
            "type": "upi_intent",
            "url": f"upi://pay?pa=lsp.sandbox@upi&pn=Sandbox&tr={charge['id']}"
            f"&am={amount // 100}.{amount % 100:02d}&cu={currency}",
        }
    else:
        hosted = str(request.base_url).rstrip("/") + f"/_hosted/{P}/{charge['id']}"
        charge["next_action"] = {"type": "redirect", "url": hosted}
    if fault := await after_commit(P):
        return fault
    return JSONResponse(_public(charge))


async def _finish(charge: dict[str, Any], outcome: str) -> None:
    """Complete a charge: capture it (counted once) or decline it, then send the webhook."""
    if charge["status"] == "canceled":
        raise state.Refused("this charge was cancelled by the merchant")
    if charge["status"] in ("succeeded", "failed"):
        return
    if outcome == "success":
        charge.update(status="succeeded", next_action=None)
        state.capture(charge["metadata"].get("payment_id"))
    else:
        charge.update(
            status="failed",
            next_action=None,
            failure_code="payment_declined",
            failure_message="The customer's bank declined the payment",
        )
    event = "charge.succeeded" if outcome == "success" else "charge.failed"
    state.later(_send(event, _public(charge), charge.get("_notify_url")))


async def _send(event_type: str, data: dict[str, Any], url: str | None = None) -> None:
    """Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature v1,<base64 HMAC>."""
    await asyncio.sleep(0.05)  # after the API answer, as a real provider would
    body = json.dumps(
        {"type": event_type, "timestamp": datetime.now(UTC).isoformat(), "data": data}
    )
    msg_id = f"msg_{secrets.token_hex(10)}"
    stamp = int(time.time())
    raw_secret = FAKE_CREDENTIALS[P]["webhook_secret"].removeprefix("whsec_")
    key = base64.b64decode(raw_secret)
    mac = hmac.new(key, f"{msg_id}.{stamp}.{body}".encode(), hashlib.sha256).digest()
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }
    await state.send_webhook(P, body.encode(), headers, url)


async def _complete(order: dict[str, Any], outcome: str) -> None:
    await _finish(order, outcome)


state.completers[P] = _complete


@router.get("/v1/charges")
async def list_charges(request: Request) -> Response:
    if early := await behaviour(P):
        return early
    if bad := _unauthorized(request):
        return bad
    reference = request.query_params.get("reference")
    found = _charges() if reference is None else _by_reference(reference)
    data = [_public(c) for c in found]
    return JSONResponse({"data": data})


@router.post("/v1/charges/{charge_id}/cancel")
async def cancel_charge(charge_id: str, request: Request) -> Response:
    """Cancel a charge nobody has paid (the API in edge_adapter/gateways/sandbox.py)."""
    if early := await behaviour(P):
        return early
    if bad := _unauthorized(request):
        return bad
    state.cancelled(P)
    charge = state.orders.get((P, charge_id))
    if charge is None:
        return _error("not_found", "no such charge", 404)
    if charge["status"] in ("succeeded", "failed"):
        return JSONResponse(
            {
                "error": {
                    "code": "charge_not_cancelable",
                    "message": f"the charge already {charge['status']}",
                },
                "charge": _public(charge),
            },
            409,
        )
    if charge["status"] != "canceled":
        charge.update(
            status="canceled",
            next_action=None,
            failure_code="canceled",
            failure_message="The merchant cancelled the charge",
        )
        state.later(_send("charge.canceled", _public(charge), charge.get("_notify_url")))
    if fault := await after_commit(P):
        return fault
    return JSONResponse(_public(charge))


@router.get("/v1/charges/{charge_id}")
async def get_charge(charge_id: str, request: Request) -> Response:
    if early := await behaviour(P):
        return early
    if bad := _unauthorized(request):
        return bad
    charge = state.orders.get((P, charge_id))
    if charge is None:
        return _error("not_found", "no such charge", 404)
    return JSONResponse(_public(charge))


def _refunds() -> list[dict[str, Any]]:
    return [r for (p, _), r in state.refunds.items() if p == P]


@router.post("/v1/refunds")
async def create_refund(request: Request) -> Response:
    if early := await behaviour(P):
        return early
    if bad := _unauthorized(request):
        return bad
    try:
        body = await request.json()
    except ValueError:
        return _error("invalid_request", "the body must be JSON")
    charge = state.orders.get((P, str(body.get("charge"))))
    amount, reference = body.get("amount"), body.get("reference")
    if charge is None:
        return _error("not_found", "no such charge", 404)
    if not isinstance(reference, str) or not reference:
        return _error("invalid_request", "reference is required")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return _error("invalid_request", "amount must be a positive integer (minor units)")
    existing = [r for r in _refunds() if r["reference"] == reference]
    if existing:
        return JSONResponse(
            {"error": {"code": "duplicate_reference"}, "refund": _public(existing[0])}, 409
        )
    if charge["status"] != "succeeded":
        return _error("charge_not_refundable", "only succeeded charges can be refunded")
    if amount > charge["amount"] - charge["amount_refunded"]:
        return _error("amount_exceeds_refundable", "amount exceeds what is left to refund")
    charge["amount_refunded"] += amount
    refund = {
        "id": f"re_{secrets.token_hex(8)}",
        "object": "refund",
        "charge": charge["id"],
        "reference": reference,
        "amount": amount,
        "currency": charge["currency"],
        "status": "succeeded",
        "created": int(time.time()),
    }
    state.refunds[(P, refund["id"])] = refund
    state.later(_send("refund.succeeded", refund, charge.get("_notify_url")))
    if fault := await after_commit(P):
        return fault
    return JSONResponse(refund)


@router.get("/v1/refunds")
async def list_refunds(request: Request) -> Response:
    if early := await behaviour(P):
        return early
    if bad := _unauthorized(request):
        return bad
    reference = request.query_params.get("reference")
    data = [r for r in _refunds() if reference is None or r["reference"] == reference]
    return JSONResponse({"data": data})


@router.get("/v1/refunds/{refund_id}")
async def get_refund(refund_id: str, request: Request) -> Response:
    if early := await behaviour(P):
        return early
    if bad := _unauthorized(request):
        return bad
    refund = state.refunds.get((P, refund_id))
    if refund is None:
        return _error("not_found", "no such refund", 404)
    return JSONResponse(refund)
