"""Razorpay (https://razorpay.com/docs/api/): orders, S2S UPI payments, Standard Payment Links,
refunds and signed webhooks, as strict as the real API where it matters to us: every order
create makes a new order (receipts are not deduplicated), payment link reference_ids are
unique, refunds never exceed what is left of the captured amount.

Test mode as documented (https://razorpay.com/docs/payments/payments/test-upi-details/):
`success@razorpay` succeeds, `failure@razorpay` fails, shortly after the create answers;
with success@razorpay the amounts 201 / 402 / 204 / 302 paise fail with insufficient_funds /
payment_declined / incorrect_pin / payment_cancelled (the "Test Mode" column of
https://razorpay.com/docs/payments/payment-gateway/s2s-integration/payment-methods/upi/error-codes/).
Any other VPA waits until the test approves it (POST /_hosted/razorpay/<order id>/complete);
payment links are paid or failed on the hosted page (/_hosted/razorpay/<plink id>), which
refuses a cancelled link (POST /v1/payment_links/{id}/cancel).
"""

import asyncio
import hashlib
import hmac
import json
import secrets
import string
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from . import state
from .credentials import FAKE_CREDENTIALS
from .state import after_commit, basic_auth, behaviour, good

router = APIRouter(prefix="/razorpay")
P = "razorpay"
TEST_FAILURES = {
    201: ("GATEWAY_ERROR", "insufficient_funds", "Transaction failed due to insufficient funds."),
    402: ("GATEWAY_ERROR", "payment_declined", "Payment failed. Please try another account."),
    204: ("BAD_REQUEST_ERROR", "incorrect_pin", "You have entered an incorrect UPI PIN."),
    302: ("BAD_REQUEST_ERROR", "payment_cancelled", "You may have cancelled the payment."),
}
DEFAULT_FAILURE = ("BAD_REQUEST_ERROR", "payment_failed", "Payment failed")


def _rid(prefix: str) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(14))


def _error(description: str, status: int = 400, **extra: Any) -> Response:
    err = {
        "code": "BAD_REQUEST_ERROR",
        "description": description,
        "source": "business",
        "step": "payment_initiation",
        "reason": "input_validation_failed",
        "metadata": {},
    }
    err.update(extra)
    return JSONResponse({"error": err}, status)


def _unauthorized(request: Request) -> Response | None:
    key_id, key_secret = basic_auth(request)
    if not (key_id and good(P, key_id=key_id, key_secret=key_secret)):
        return _error("Authentication failed", 401, source="NA", step="NA", reason="NA")
    return None


async def _guard(request: Request) -> Response | None:
    return await behaviour(P) or _unauthorized(request)


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _all(entity: str) -> list[dict[str, Any]]:
    found = [o for (p, _), o in state.orders.items() if p == P and o.get("entity") == entity]
    return sorted(found, key=lambda o: o["_t"], reverse=True)


def _get(entity: str, entity_id: str) -> dict[str, Any] | None:
    obj = state.orders.get((P, entity_id))
    return obj if obj and obj.get("entity") == entity else None


def _collection(items: list[dict[str, Any]]) -> Response:
    return JSONResponse(
        {"entity": "collection", "count": len(items), "items": [_public(i) for i in items]}
    )


async def _json(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _valid_amount(amount: Any) -> bool:
    return isinstance(amount, int) and not isinstance(amount, bool) and amount >= 100


# -- credential check ----------------------------------------------------------------------------


@router.get("/v1/payments")
async def payments(request: Request) -> Response:
    if early := await _guard(request):
        return early
    count = int(request.query_params.get("count", "10"))
    return _collection(_all("payment")[:count])


# -- orders --------------------------------------------------------------------------------------


@router.post("/v1/orders")
async def create_order(request: Request) -> Response:
    if early := await _guard(request):
        return early
    body = await _json(request)
    if body is None:
        return _error("The request body must be JSON")
    if not _valid_amount(body.get("amount")):
        return _error("The amount must be at least INR 1.00", field="amount")
    receipt = body.get("receipt")
    if receipt is not None and (not isinstance(receipt, str) or len(receipt) > 40):
        return _error("The receipt may not be greater than 40 characters.", field="receipt")
    order = {
        "id": _rid("order_"),
        "entity": "order",
        "amount": body["amount"],
        "amount_paid": 0,
        "amount_due": body["amount"],
        "currency": body.get("currency") or "INR",
        "receipt": receipt,
        "offer_id": None,
        "status": "created",
        "attempts": 0,
        "notes": body.get("notes") or [],
        "created_at": int(time.time()),
        "_t": time.monotonic_ns(),
    }
    state.orders[(P, order["id"])] = order  # a new order every time, like the real API
    if fault := await after_commit(P):
        return fault
    return JSONResponse(_public(order))


@router.get("/v1/orders")
async def list_orders(request: Request) -> Response:
    if early := await _guard(request):
        return early
    receipt = request.query_params.get("receipt")
    count = int(request.query_params.get("count", "10"))
    orders = [o for o in _all("order") if receipt is None or o["receipt"] == receipt]
    return _collection(orders[:count])


@router.get("/v1/orders/{order_id}")
async def get_order(order_id: str, request: Request) -> Response:
    if early := await _guard(request):
        return early
    order = _get("order", order_id)
    if order is None:
        return _error("The id provided does not exist", reason="NA")
    return JSONResponse(_public(order))


@router.get("/v1/orders/{order_id}/payments")
async def order_payments(order_id: str, request: Request) -> Response:
    if early := await _guard(request):
        return early
    if _get("order", order_id) is None:
        return _error("The id provided does not exist", reason="NA")
    return _collection([p for p in _all("payment") if p["order_id"] == order_id])


# -- S2S UPI payments ----------------------------------------------------------------------------


def _new_payment(order: dict[str, Any], method: str, notes: Any, **fields: Any) -> dict[str, Any]:
    payment = {
        "id": _rid("pay_"),
        "entity": "payment",
        "amount": order["amount"],
        "currency": order["currency"],
        "status": "created",
        "order_id": order["id"],
        "invoice_id": None,
        "international": False,
        "method": method,
        "amount_refunded": 0,
        "refund_status": None,
        "captured": False,
        "description": None,
        "vpa": None,
        "email": None,
        "contact": None,
        "notes": notes or [],
        "error_code": None,
        "error_description": None,
        "error_source": None,
        "error_step": None,
        "error_reason": None,
        "created_at": int(time.time()),
        "_t": time.monotonic_ns(),
    }
    payment.update(fields)
    order["attempts"] += 1
    order["status"] = "attempted"
    state.orders[(P, payment["id"])] = payment
    return payment


@router.post("/v1/payments/create/upi")
async def create_upi(request: Request) -> Response:
    if early := await _guard(request):
        return early
    body = await _json(request)
    if body is None:
        return _error("The request body must be JSON")
    for field in ("amount", "currency", "order_id", "email", "contact", "ip", "referer"):
        if body.get(field) in (None, ""):
            return _error(f"The {field} field is required.", field=field)
    if not body.get("user_agent"):
        return _error("The user agent field is required.", field="user_agent")
    order = _get("order", str(body["order_id"]))
    if order is None:
        return _error("The id provided does not exist", field="order_id", reason="NA")
    if order["status"] == "paid":
        return _error("Order has already been paid", field="order_id")
    if body["amount"] != order["amount"] or body["currency"] != order["currency"]:
        return _error("The amount does not match the order amount", field="amount")
    upi = body.get("upi") or {}
    flow, vpa = upi.get("flow"), upi.get("vpa")
    if flow not in ("collect", "intent"):
        return _error("upi.flow must be collect or intent", field="flow")
    if flow == "collect" and (not isinstance(vpa, str) or "@" not in vpa):
        return _error(
            "Invalid VPA. Please enter a valid Virtual Payment Address",
            field="vpa",
            reason="invalid_vpa",
            source="customer",
        )
    payment = _new_payment(
        order,
        "upi",
        body.get("notes"),
        vpa=vpa if flow == "collect" else None,
        email=body["email"],
        contact=body["contact"],
        description=body.get("description"),
        upi={"flow": flow, "vpa": vpa},
    )
    if vpa in ("success@razorpay", "failure@razorpay"):
        outcome = "success" if vpa == "success@razorpay" else "failure"
        state.later(_settle_later(payment, outcome))
    answer: dict[str, Any] = {"razorpay_payment_id": payment["id"]}
    if flow == "intent":
        amount = order["amount"]
        answer["link"] = (
            f"upi://pay?pa=lsp.fake@razorpay&pn=Fake&tr={payment['id']}"
            f"&am={amount // 100}.{amount % 100:02d}&cu={order['currency']}&mc=5411"
        )
    if fault := await after_commit(P):
        return fault
    return JSONResponse(answer)


async def _settle_later(payment: dict[str, Any], outcome: str) -> None:
    await asyncio.sleep(0.2)
    await _settle(payment, outcome)


async def _settle(payment: dict[str, Any], outcome: str) -> None:
    """The customer approved or declined: capture (auto-capture, counted once) or fail."""
    if payment["status"] != "created":
        return
    order = _get("order", payment["order_id"])
    failure = TEST_FAILURES.get(payment["amount"]) if outcome == "success" else DEFAULT_FAILURE
    if outcome == "success" and failure is None:
        payment.update(status="captured", captured=True)
        if order:
            order.update(status="paid", amount_paid=order["amount"], amount_due=0)
        notes = payment["notes"] if isinstance(payment["notes"], dict) else {}
        state.capture(notes.get("payment_id"))
        await _event("payment.captured", {"payment": {"entity": _public(payment)}})
        return
    code, reason, description = failure or DEFAULT_FAILURE
    payment.update(
        status="failed",
        error_code=code,
        error_reason=reason,
        error_description=description,
        error_source="customer",
        error_step="payment_authentication",
    )
    await _event("payment.failed", {"payment": {"entity": _public(payment)}})


@router.get("/v1/payments/{payment_id}")
async def get_payment(payment_id: str, request: Request) -> Response:
    if early := await _guard(request):
        return early
    payment = _get("payment", payment_id)
    if payment is None:
        return _error("The id provided does not exist", reason="NA")
    return JSONResponse(_public(payment))


# -- payment links -------------------------------------------------------------------------------


@router.post("/v1/payment_links")
async def create_link(request: Request) -> Response:
    if early := await _guard(request):
        return early
    body = await _json(request)
    if body is None:
        return _error("The request body must be JSON")
    if not _valid_amount(body.get("amount")):
        return _error("The amount must be at least INR 1.00", field="amount")
    reference = body.get("reference_id")
    if reference is not None:
        if not isinstance(reference, str) or len(reference) > 40:
            return _error("reference_id may not be longer than 40 characters", field="reference_id")
        if any(x["reference_id"] == reference for x in _all("payment_link")):
            return _error(
                f"Payment Link with reference {reference} already exists",
                field="reference_id",
            )
    if body.get("callback_url") and body.get("callback_method") != "get":
        return _error("callback_method must be get", field="callback_method")
    link_id = _rid("plink_")
    link = {
        "id": link_id,
        "entity": "payment_link",
        "accept_partial": bool(body.get("accept_partial")),
        "amount": body["amount"],
        "amount_paid": 0,
        "currency": body.get("currency") or "INR",
        "reference_id": reference,
        "description": body.get("description"),
        "customer": body.get("customer") or {},
        "notes": body.get("notes") or [],
        "callback_url": body.get("callback_url"),
        "callback_method": body.get("callback_method"),
        "status": "created",
        "payments": None,
        "order_id": None,
        "short_url": str(request.base_url).rstrip("/") + f"/_hosted/{P}/{link_id}",
        "upi_link": False,
        "created_at": int(time.time()),
        "_t": time.monotonic_ns(),
    }
    state.orders[(P, link_id)] = link
    if fault := await after_commit(P):
        return fault
    return JSONResponse(_public(link))


@router.get("/v1/payment_links")
async def list_links(request: Request) -> Response:
    if early := await _guard(request):
        return early
    reference = request.query_params.get("reference_id")
    links = [x for x in _all("payment_link") if reference is None or x["reference_id"] == reference]
    return JSONResponse({"payment_links": [_public(x) for x in links]})


@router.get("/v1/payment_links/{link_id}")
async def get_link(link_id: str, request: Request) -> Response:
    if early := await _guard(request):
        return early
    link = _get("payment_link", link_id)
    if link is None:
        return _error("The id provided does not exist", reason="NA")
    return JSONResponse(_public(link))


@router.post("/v1/payment_links/{link_id}/cancel")
async def cancel_link(link_id: str, request: Request) -> Response:
    """Only a link in the created state can be cancelled
    (https://razorpay.com/docs/payments/payment-links/states/); a cancelled link cannot be
    paid any more (https://razorpay.com/docs/payments/payment-links/cancel)."""
    if early := await _guard(request):
        return early
    state.cancelled(P)
    link = _get("payment_link", link_id)
    if link is None:
        return _error("The id provided does not exist", reason="NA")
    if link["status"] != "created":
        return _error(
            f"Payment Link cannot be cancelled as it is {link['status']}",
            reason="NA",
            field="id",
        )
    link.update(status="cancelled", cancelled_at=int(time.time()))
    state.later(_event("payment_link.cancelled", {"payment_link": {"entity": _public(link)}}))
    if fault := await after_commit(P):
        return fault
    return JSONResponse(_public(link))


async def _pay_link(link: dict[str, Any], outcome: str) -> None:
    """The customer paid (or failed to) on the hosted page: like the real API, the payment
    link makes an order (receipt = reference_id) and a payment, both with the link's notes."""
    if link["status"] in ("cancelled", "expired"):
        raise state.Refused(f"this payment link is {link['status']}")
    if link["status"] != "created":
        return
    order = {
        "id": _rid("order_"),
        "entity": "order",
        "amount": link["amount"],
        "amount_paid": 0,
        "amount_due": link["amount"],
        "currency": link["currency"],
        "receipt": link["reference_id"],
        "status": "created",
        "attempts": 0,
        "notes": link["notes"],
        "created_at": int(time.time()),
        "_t": time.monotonic_ns(),
    }
    state.orders[(P, order["id"])] = order
    payment = _new_payment(order, "card", link["notes"], description=f"#{link['id']}")
    if outcome != "success":
        await _settle(payment, "failure")  # the link stays payable, as on Razorpay
        return
    await _settle(payment, "success")
    link.update(
        status="paid",
        amount_paid=link["amount"],
        order_id=order["id"],
        payments=[
            {
                "amount": payment["amount"],
                "created_at": payment["created_at"],
                "method": payment["method"],
                "payment_id": payment["id"],
                "plink_id": link["id"],
                "status": "captured",
            }
        ],
    )
    await _event(
        "payment_link.paid",
        {
            "payment_link": {"entity": _public(link)},
            "order": {"entity": _public(order)},
            "payment": {"entity": _public(payment)},
        },
    )


async def _complete(obj: dict[str, Any], outcome: str) -> None:
    if obj.get("entity") == "payment_link":
        await _pay_link(obj, outcome)
    elif obj.get("entity") == "order":
        waiting = [p for p in _all("payment") if p["order_id"] == obj["id"]]
        for payment in waiting:
            await _settle(payment, outcome)
    elif obj.get("entity") == "payment":
        await _settle(obj, outcome)


state.completers[P] = _complete


# -- refunds -------------------------------------------------------------------------------------


@router.post("/v1/payments/{payment_id}/refund")
async def refund(payment_id: str, request: Request) -> Response:
    if early := await _guard(request):
        return early
    payment = _get("payment", payment_id)
    if payment is None:
        return _error(f"{payment_id} is not a valid id", reason="NA")
    body = await _json(request) or {}
    key = request.headers.get("x-refund-idempotency")
    if key is not None:
        seen = [r for (p, _), r in state.refunds.items() if p == P and r["_key"] == key]
        if seen:
            if seen[0]["_body"] != body:
                return _error(
                    "Different request with the same idempotency key has already been processed.",
                    409,
                    reason="NA",
                )
            return JSONResponse(_public(seen[0]))
    amount = body.get("amount", payment["amount"] - payment["amount_refunded"])
    if payment["status"] not in ("captured", "refunded"):
        return _error("The payment has not been captured", reason="NA")
    if payment["amount_refunded"] >= payment["amount"]:
        return _error("The payment has been fully refunded already.", reason="NA")
    if not isinstance(amount, int) or amount < 100:
        return _error("The amount must be at least INR 1.00.", field="amount")
    if amount > payment["amount"] - payment["amount_refunded"]:
        return _error("The refund amount provided is greater than amount captured.", reason="NA")
    payment["amount_refunded"] += amount
    full = payment["amount_refunded"] == payment["amount"]
    payment.update(refund_status="full" if full else "partial")
    if full:
        payment["status"] = "refunded"
    refund = {
        "id": _rid("rfnd_"),
        "entity": "refund",
        "amount": amount,
        "receipt": body.get("receipt"),
        "currency": payment["currency"],
        "payment_id": payment_id,
        "notes": body.get("notes") or [],
        "acquirer_data": {"arn": None},
        "created_at": int(time.time()),
        "_t": time.monotonic_ns(),
        "batch_id": None,
        "status": "processed",  # test mode processes normal refunds at once
        "speed_processed": "normal",
        "speed_requested": "normal",
        "_key": key,
        "_body": body,
    }
    state.refunds[(P, refund["id"])] = refund
    state.later(_refund_events(refund, payment))
    if fault := await after_commit(P):
        return fault
    return JSONResponse(_public(refund))


async def _refund_events(refund: dict[str, Any], payment: dict[str, Any]) -> None:
    await asyncio.sleep(0.05)
    contents = {"refund": {"entity": _public(refund)}, "payment": {"entity": _public(payment)}}
    await _event("refund.created", contents)
    await _event("refund.processed", contents)


@router.get("/v1/payments/{payment_id}/refunds")
async def payment_refunds(payment_id: str, request: Request) -> Response:
    if early := await _guard(request):
        return early
    items = [r for (p, _), r in state.refunds.items() if p == P and r["payment_id"] == payment_id]
    return _collection(items)


@router.get("/v1/refunds/{refund_id}")
async def get_refund(refund_id: str, request: Request) -> Response:
    if early := await _guard(request):
        return early
    refund = state.refunds.get((P, refund_id))
    if refund is None:
        return _error("The id provided does not exist", reason="NA")
    return JSONResponse(_public(refund))


# -- webhooks ------------------------------------------------------------------------------------


async def _event(name: str, payload: dict[str, Any]) -> None:
    """POST the event signed like Razorpay: X-Razorpay-Signature = hex HMAC-SHA256(raw body,
    webhook secret); X-Razorpay-Event-Id identifies the event
    (https://razorpay.com/docs/webhooks/validate-test/)."""
    body = json.dumps(
        {
            "entity": "event",
            "account_id": "acc_FakeAccount0001",
            "event": name,
            "contains": list(payload),
            "payload": payload,
            "created_at": int(time.time()),
        }
    ).encode()
    secret = FAKE_CREDENTIALS[P]["webhook_secret"].encode()
    headers = {
        "content-type": "application/json",
        "x-razorpay-signature": hmac.new(secret, body, hashlib.sha256).hexdigest(),
        "x-razorpay-event-id": _rid("evt_")[4:],
    }
    await state.send_webhook(P, body, headers)
