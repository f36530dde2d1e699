"""Stripe (https://docs.stripe.com/api): Checkout Sessions, PaymentIntents (created when the
customer pays, as in API versions since 2022-08-01), Refunds and signed events.

Idempotency as Stripe documents it (https://docs.stripe.com/api/idempotent_requests): a POST
with an `Idempotency-Key` that already produced a result replays that result (status and body,
including a 500) with `Idempotent-Replayed: true`; the same key with other parameters is an
idempotency_error. Requests refused before anything was created save nothing.

The hosted page (/_hosted/stripe/<cs id>) plays Checkout: success pays (a test card such as
4242 4242 4242 4242 would), failure declines with card_declined / generic_decline (4000 0000
0000 0002, https://docs.stripe.com/testing#declined-payments) and leaves the session open; an
expired session (POST /v1/checkout/sessions/{id}/expire) refuses the customer.
"""

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from . import state
from .credentials import FAKE_CREDENTIALS
from .state import after_commit, basic_auth, behaviour, form, good

router = APIRouter(prefix="/stripe")
P = "stripe"
API_VERSION = "2024-06-20"


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def _error(message: str, status: int = 400, **fields: Any) -> Response:
    return JSONResponse(
        {"error": {"type": "invalid_request_error", "message": message, **fields}}, status
    )


def _key(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value if scheme.lower() == "bearer" else basic_auth(request)[0]


async def _guard(request: Request) -> Response | None:
    if early := await behaviour(P):
        return early
    if not good(P, secret_key=_key(request)):
        return _error("Invalid API Key provided", 401)
    return None


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _objects(kind: str) -> list[dict[str, Any]]:
    found = [o for (p, _), o in state.orders.items() if p == P and o.get("object") == kind]
    return sorted(found, key=lambda o: o["_t"], reverse=True)


def _nested(fields: dict[str, str], prefix: str) -> dict[str, str]:
    """`metadata[a]=1` style keys under a prefix -> {"a": "1"}."""
    start = prefix + "["
    return {
        k[len(start) : -1]: v
        for k, v in fields.items()
        if k.startswith(start) and "][" not in k[len(start) :]
    }


def _replay(kind: str, key: str | None, fields: dict[str, str]) -> Response | None:
    """A result already saved under this Idempotency-Key, if any."""
    if key is None:
        return None
    pool = (
        _objects(kind) if kind != "refund" else [r for (p, _), r in state.refunds.items() if p == P]
    )
    for obj in pool:
        if obj.get("_idempotency_key") == key:
            if obj["_idempotency_params"] != fields:
                return JSONResponse(
                    {
                        "error": {
                            "type": "idempotency_error",
                            "message": "Keys for idempotent requests can only be used with the "
                            "same parameters they were first used with.",
                        }
                    },
                    400,
                )
            if "_saved" not in obj:  # the first request is still running
                return JSONResponse(
                    {
                        "error": {
                            "type": "idempotency_error",
                            "code": "idempotency_key_in_use",
                            "message": "There is currently another in-progress request using "
                            "this Idempotent Key.",
                        }
                    },
                    409,
                )
            status, body = obj["_saved"]
            return JSONResponse(body, status, {"idempotent-replayed": "true"})
    return None


async def _commit(obj: dict[str, Any], answer: dict[str, Any]) -> Response:
    """Answer normally, or with the after-commit fault; either way the answer is saved for
    replays under the request's Idempotency-Key."""
    if fault := await after_commit(P):
        obj["_saved"] = (fault.status_code, json.loads(bytes(fault.body)))
        return fault
    obj["_saved"] = (200, answer)
    return JSONResponse(answer)


# -- checkout sessions ---------------------------------------------------------------------------


@router.get("/v1/balance")
async def balance(request: Request) -> Response:
    if early := await _guard(request):
        return early
    return JSONResponse({"object": "balance", "available": [], "pending": [], "livemode": False})


@router.post("/v1/checkout/sessions")
async def create_session(request: Request) -> Response:
    if early := await _guard(request):
        return early
    fields = await form(request)
    key = request.headers.get("idempotency-key")
    if replay := _replay("checkout.session", key, fields):
        return replay
    if fields.get("mode") != "payment":
        return _error("This fake supports mode=payment only.", param="mode")
    if not fields.get("success_url"):
        return _error(
            "Missing required param: success_url.", code="parameter_missing", param="success_url"
        )
    item = "line_items[0][price_data]"
    currency, amount = fields.get(f"{item}[currency]"), fields.get(f"{item}[unit_amount]")
    if not currency or not amount or not fields.get(f"{item}[product_data][name]"):
        return _error(
            "Missing required param: line_items[0][price_data].",
            code="parameter_missing",
            param="line_items",
        )
    if not amount.isdigit() or int(amount) < 1:
        return _error(
            "Invalid integer: " + amount,
            code="parameter_invalid_integer",
            param=f"{item}[unit_amount]",
        )
    quantity = int(fields.get("line_items[0][quantity]", "1"))
    session_id = _sid("cs_test_")
    types = [v for k, v in sorted(fields.items()) if k.startswith("payment_method_types[")]
    session = {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": int(amount) * quantity,
        "amount_total": int(amount) * quantity,
        "cancel_url": fields.get("cancel_url"),
        "client_reference_id": fields.get("client_reference_id"),
        "created": int(time.time()),
        "currency": currency.lower(),
        "customer_email": fields.get("customer_email"),
        "expires_at": int(time.time()) + 24 * 3600,
        "livemode": False,
        "metadata": _nested(fields, "metadata"),
        "mode": "payment",
        "payment_intent": None,
        "payment_method_types": types or ["card"],
        "payment_status": "unpaid",
        "status": "open",
        "success_url": fields["success_url"],
        "url": str(request.base_url).rstrip("/") + f"/_hosted/{P}/{session_id}",
        "amount": int(amount) * quantity,  # read by the fake's hosted page
        "_pi_metadata": _nested(fields, "payment_intent_data[metadata]"),
        "_idempotency_key": key,
        "_idempotency_params": fields,
        "_t": time.monotonic_ns(),
    }
    state.orders[(P, session_id)] = session
    return await _commit(session, _session_view(session))


def _session_view(session: dict[str, Any], expand: bool = False) -> dict[str, Any]:
    view = {k: v for k, v in _public(session).items() if k != "amount"}
    intent = state.orders.get((P, session["payment_intent"] or ""))
    if expand and intent is not None:
        view["payment_intent"] = _public(intent)
    return view


@router.get("/v1/checkout/sessions/{session_id}")
async def get_session(session_id: str, request: Request) -> Response:
    if early := await _guard(request):
        return early
    session = state.orders.get((P, session_id))
    if session is None or session.get("object") != "checkout.session":
        return _error(f"No such checkout.session: '{session_id}'", 404, code="resource_missing")
    expand = "payment_intent" in request.query_params.getlist("expand[]")
    return JSONResponse(_session_view(session, expand))


@router.get("/v1/checkout/sessions")
async def list_sessions(request: Request) -> Response:
    if early := await _guard(request):
        return early
    q = request.query_params
    limit = min(int(q.get("limit", "10")), 100)
    created_gte = int(q.get("created[gte]", "0"))
    sessions = [s for s in _objects("checkout.session") if s["created"] >= created_gte]
    if after := q.get("starting_after"):
        ids = [s["id"] for s in sessions]
        sessions = sessions[ids.index(after) + 1 :] if after in ids else []
    expand = "data.payment_intent" in q.getlist("expand[]")
    page = sessions[:limit]
    return JSONResponse(
        {
            "object": "list",
            "data": [_session_view(s, expand) for s in page],
            "has_more": len(sessions) > limit,
            "url": "/v1/checkout/sessions",
        }
    )


@router.post("/v1/checkout/sessions/{session_id}/expire")
async def expire_session(session_id: str, request: Request) -> Response:
    """Only an `open` session can be expired; the customer then cannot complete it, and an
    error answers any other state (https://docs.stripe.com/api/checkout/sessions/expire)."""
    if early := await _guard(request):
        return early
    state.cancelled(P)
    session = state.orders.get((P, session_id))
    if session is None or session.get("object") != "checkout.session":
        return _error(f"No such checkout.session: '{session_id}'", 404, code="resource_missing")
    if session["status"] != "open":
        return _error(f"This Checkout Session is {session['status']} and can no longer be expired.")
    session.update(status="expired", expires_at=int(time.time()))
    state.later(_event_later("checkout.session.expired", _session_view(session)))
    if fault := await after_commit(P):
        return fault
    return JSONResponse(_session_view(session))


async def _pay(session: dict[str, Any], outcome: str) -> None:
    """The customer submitted the hosted page: the PaymentIntent is made on the first try."""
    if session["status"] == "expired":
        raise state.Refused("this Checkout Session is expired")
    if session["status"] != "open":
        return
    intent = state.orders.get((P, session["payment_intent"] or ""))
    if intent is None:
        intent = {
            "id": _sid("pi_"),
            "object": "payment_intent",
            "amount": session["amount_total"],
            "amount_received": 0,
            "currency": session["currency"],
            "status": "requires_payment_method",
            "metadata": session["_pi_metadata"],
            "last_payment_error": None,
            "latest_charge": None,
            "payment_method_types": session["payment_method_types"],
            "created": int(time.time()),
            "livemode": False,
            "_refunded": 0,
            "_t": time.monotonic_ns(),
        }
        state.orders[(P, intent["id"])] = intent
        session["payment_intent"] = intent["id"]
    if outcome == "success":
        intent.update(
            status="succeeded",
            amount_received=intent["amount"],
            last_payment_error=None,
            latest_charge=_sid("ch_"),
        )
        session.update(status="complete", payment_status="paid")
        state.capture(intent["metadata"].get("payment_id"))
        await _event("checkout.session.completed", _session_view(session))
        await _event("payment_intent.succeeded", _public(intent))
    else:
        intent.update(
            status="requires_payment_method",
            last_payment_error={
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined.",
            },
        )
        await _event("payment_intent.payment_failed", _public(intent))


async def _complete(obj: dict[str, Any], outcome: str) -> None:
    if obj.get("object") == "checkout.session":
        await _pay(obj, outcome)


state.completers[P] = _complete


@router.get("/v1/payment_intents/{intent_id}")
async def get_intent(intent_id: str, request: Request) -> Response:
    if early := await _guard(request):
        return early
    intent = state.orders.get((P, intent_id))
    if intent is None or intent.get("object") != "payment_intent":
        return _error(f"No such payment_intent: '{intent_id}'", 404, code="resource_missing")
    return JSONResponse(_public(intent))


# -- refunds -------------------------------------------------------------------------------------


@router.post("/v1/refunds")
async def create_refund(request: Request) -> Response:
    if early := await _guard(request):
        return early
    fields = await form(request)
    key = request.headers.get("idempotency-key")
    if replay := _replay("refund", key, fields):
        return replay
    intent = state.orders.get((P, fields.get("payment_intent", "")))
    if intent is None or intent.get("object") != "payment_intent":
        return _error(
            "No such payment_intent", 404, code="resource_missing", param="payment_intent"
        )
    if intent["status"] != "succeeded":
        return _error(
            "This PaymentIntent does not have a successful charge to refund.",
            code="charge_not_refundable",
        )
    left = intent["amount_received"] - intent["_refunded"]
    if left <= 0:
        return _error(
            f"Charge {intent['latest_charge']} has already been refunded.",
            code="charge_already_refunded",
        )
    amount = int(fields.get("amount", str(left)))
    if amount > left:
        return _error(
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
            param="amount",
        )
    intent["_refunded"] += amount
    refund = {
        "id": _sid("re_"),
        "object": "refund",
        "amount": amount,
        "charge": intent["latest_charge"],
        "created": int(time.time()),
        "currency": intent["currency"],
        "metadata": _nested(fields, "metadata"),
        "payment_intent": intent["id"],
        "reason": fields.get("reason"),
        "status": "succeeded",
        "failure_reason": None,
        "_idempotency_key": key,
        "_idempotency_params": fields,
    }
    state.refunds[(P, refund["id"])] = refund
    state.later(_event_later("refund.created", _public(refund)))
    return await _commit(refund, _public(refund))


@router.get("/v1/refunds/{refund_id}")
async def get_refund(refund_id: str, request: Request) -> Response:
    if early := await _guard(request):
        return early
    refund = state.refunds.get((P, refund_id))
    if refund is None:
        return _error(f"No such refund: '{refund_id}'", 404, code="resource_missing")
    return JSONResponse(_public(refund))


@router.get("/v1/refunds")
async def list_refunds(request: Request) -> Response:
    if early := await _guard(request):
        return early
    intent = request.query_params.get("payment_intent")
    refunds = [
        _public(r)
        for (p, _), r in state.refunds.items()
        if p == P and (intent is None or r["payment_intent"] == intent)
    ]
    return JSONResponse(
        {"object": "list", "data": refunds, "has_more": False, "url": "/v1/refunds"}
    )


# -- events --------------------------------------------------------------------------------------


async def _event_later(kind: str, obj: dict[str, Any]) -> None:
    await asyncio.sleep(0.05)
    await _event(kind, obj)


async def _event(kind: str, obj: dict[str, Any]) -> None:
    """Signed like Stripe: Stripe-Signature t=<time>,v1=<hex HMAC-SHA256("{t}.{body}")> keyed
    with the endpoint's whsec_ secret (https://docs.stripe.com/webhooks#verify-manually)."""
    now = int(time.time())
    body = json.dumps(
        {
            "id": _sid("evt_"),
            "object": "event",
            "api_version": API_VERSION,
            "created": now,
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": kind,
        }
    ).encode()
    secret = FAKE_CREDENTIALS[P]["webhook_secret"].encode()
    mac = hmac.new(secret, str(now).encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json", "stripe-signature": f"t={now},v1={mac}"}
    await state.send_webhook(P, body, headers)
