"""Cashfree PG (https://www.cashfree.com/docs/api-reference/payments/latest/): orders (our
order_id, unique: a repeat is 409 order_already_exists), the Order Pay API for UPI, payment
links for the hosted page, refunds (refund_id unique per order, never above what is left) and
webhooks signed with the client secret. Amounts are rupees with two decimals on the wire.

Test mode as documented: UPI collect to `testsuccess@gocash` succeeds and to
`testfailure@gocash` fails shortly after the pay call
(https://www.cashfree.com/docs/payments/online/resources/sandbox-environment). Any other VPA
waits until the test approves it (POST /_hosted/cashfree/<order_id>/complete); payment links
are paid or failed on the hosted page (/_hosted/cashfree/<cf_link_id>).

A terminated order (PATCH /pg/orders/{id}) or a cancelled link (POST /pg/links/{id}/cancel)
refuses the customer on the hosted page and captures nothing.

Not documented by Cashfree and chosen conservatively here: the order a paid link creates
(`CFPay_...`) carries no order_tags, a failed attempt on a link sends PAYMENT_FAILED_WEBHOOK
for that order (no attempt id in it) and leaves the link ACTIVE; conflict answers use code
`request_failed`.
"""

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
import time
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ..gateways.cashfree import dumps, loads
from . import state
from .credentials import FAKE_CREDENTIALS
from .state import after_commit, behaviour, good

router = APIRouter(prefix="/cashfree")
P = "cashfree"
ID = re.compile(r"^[A-Za-z0-9_-]{3,50}$")
_counter = [4_105_000_000]


def _next_id() -> int:
    _counter[0] += 1
    return _counter[0]


def _json(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status, media_type="application/json")


def _error(
    message: str, code: str, status: int = 400, kind: str = "invalid_request_error"
) -> Response:
    return JSONResponse({"message": message, "code": code, "type": kind}, status)


def _now() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


async def _guard(request: Request) -> Response | None:
    if early := await behaviour(P):
        return early
    h = request.headers
    if not h.get("x-api-version"):
        return _error("x-api-version missing", "request_failed")
    if not good(P, client_id=h.get("x-client-id", ""), client_secret=h.get("x-client-secret", "")):
        return _error("authentication Failed", "request_failed", 401, "authentication_error")
    return None


async def _body(request: Request) -> dict[str, Any] | None:
    try:
        body = loads(await request.body())
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _amount(value: Any) -> Decimal | None:
    """A valid Cashfree amount: a number of at least 1.00 with at most two decimals."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None
    if amount < 1 or amount != amount.quantize(Decimal("0.01")):
        return None
    return amount.quantize(Decimal("0.01"))


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _order(order_id: str) -> dict[str, Any] | None:
    obj = state.orders.get((P, order_id))
    return obj if obj and obj.get("entity") == "order" else None


def _links() -> list[dict[str, Any]]:
    return [o for (p, _), o in state.orders.items() if p == P and o.get("entity") == "link"]


# -- orders --------------------------------------------------------------------------------------


@router.post("/pg/orders")
async def create_order(request: Request) -> Response:
    if early := await _guard(request):
        return early
    body = await _body(request)
    if body is None:
        return _error("request body is not valid JSON", "request_failed")
    order_id = body.get("order_id")
    amount = _amount(body.get("order_amount"))
    customer = body.get("customer_details") or {}
    if not isinstance(order_id, str) or not ID.match(order_id):
        return _error("order_id : should be 3 to 50 alphanumeric characters", "order_id_invalid")
    if amount is None:
        return _error("order_amount : should be at least 1.00", "order_amount_invalid")
    if not body.get("order_currency"):
        return _error("order_currency : is missing in the request", "order_currency_missing")
    for field in ("customer_id", "customer_phone"):
        if not customer.get(field):
            return _error(
                f"customer_details.{field} : is missing in the request",
                f"customer_details.{field}_missing",
            )
    if _order(order_id):
        return _error("order with same id is already present", "order_already_exists", 409)
    order = {
        "cf_order_id": str(_next_id()),
        "order_id": order_id,
        "entity": "order",
        "order_currency": body["order_currency"],
        "order_amount": amount,
        "order_status": "ACTIVE",
        "payment_session_id": "session_" + secrets.token_urlsafe(32),
        "order_expiry_time": _now(),
        "order_note": body.get("order_note"),
        "created_at": _now(),
        "order_splits": [],
        "customer_details": customer,
        "order_meta": body.get("order_meta") or {},
        "order_tags": body.get("order_tags"),
        "_payments": [],
        "_refunds": [],
        "_refunded": Decimal("0.00"),
    }
    state.orders[(P, order_id)] = order
    if fault := await after_commit(P):
        return fault
    return _json(_public(order))


@router.get("/pg/orders/{order_id}")
async def get_order(order_id: str, request: Request) -> Response:
    if early := await _guard(request):
        return early
    order = _order(order_id)
    if order is None:
        return _error("order not found", "order_not_found", 404)
    return _json(_public(order))


@router.patch("/pg/orders/{order_id}")
async def terminate_order(order_id: str, request: Request) -> Response:
    """Terminate Order (API version 2023-08-01 and later): {"order_status": "TERMINATED"}
    ends an ACTIVE order, which can then no longer be paid
    (https://www.cashfree.com/docs/api-reference/payments/latest/orders/terminate-order)."""
    if early := await _guard(request):
        return early
    if request.headers["x-api-version"] < "2023-08-01":
        return _error("order termination needs x-api-version 2023-08-01 or later", "request_failed")
    body = await _body(request) or {}
    if body.get("order_status") != "TERMINATED":
        return _error("order_status : should be TERMINATED", "order_status_invalid")
    state.cancelled(P)
    order = _order(order_id)
    if order is None:
        return _error("order does not exist", "order_not_found", 404)
    if order["order_status"] != "ACTIVE":
        return _error(
            f"order is {order['order_status'].lower()} and cannot be terminated",
            "order_not_active",
        )
    order["order_status"] = "TERMINATED"
    for payment in order["_payments"]:
        if payment["payment_status"] == "PENDING":
            payment.update(payment_status="CANCELLED", payment_message="order terminated")
    if fault := await after_commit(P):
        return fault
    return _json(_public(order))


@router.get("/pg/orders/{order_id}/payments")
async def order_payments(order_id: str, request: Request) -> Response:
    if early := await _guard(request):
        return early
    order = _order(order_id)
    if order is None:
        return _error("order not found", "order_not_found", 404)
    return _json([_public(p) for p in reversed(order["_payments"])])


def _new_payment(order: dict[str, Any], method: dict[str, Any], group: str) -> dict[str, Any]:
    payment = {
        "cf_payment_id": _next_id(),
        "order_id": order["order_id"],
        "entity": "payment",
        "is_captured": False,
        "order_amount": order["order_amount"],
        "payment_group": group,
        "payment_currency": order["order_currency"],
        "payment_amount": order["order_amount"],
        "payment_time": _now(),
        "payment_completion_time": None,
        "payment_status": "PENDING",
        "payment_message": None,
        "bank_reference": None,
        "auth_id": None,
        "authorization": None,
        "payment_method": method,
        "error_details": None,
    }
    order["_payments"].append(payment)
    return payment


@router.post("/pg/orders/sessions")
async def order_pay(request: Request) -> Response:
    """The Order Pay API: authorised by the payment session, not the client secret."""
    if early := await behaviour(P):
        return early
    if not request.headers.get("x-api-version"):
        return _error("x-api-version missing", "request_failed")
    body = await _body(request) or {}
    session = body.get("payment_session_id")
    orders = [
        o
        for (p, _), o in state.orders.items()
        if p == P and o.get("entity") == "order" and o["payment_session_id"] == session
    ]
    if not orders:
        return _error("payment_session_id is not valid", "payment_session_id_invalid")
    order = orders[0]
    if order["order_status"] != "ACTIVE":
        return _error("order is not active", "order_inactive")
    upi = (body.get("payment_method") or {}).get("upi")
    if not isinstance(upi, dict) or upi.get("channel") not in ("collect", "link"):
        return _error("payment_method : only upi collect/link in this fake", "request_failed")
    vpa = upi.get("upi_id")
    if upi["channel"] == "collect" and (not isinstance(vpa, str) or "@" not in vpa):
        return _error("upi_id : invalid upi id", "payment_method.upi.upi_id_invalid")
    payment = _new_payment(order, {"upi": dict(upi)}, "upi")
    data: dict[str, Any] = {"url": None, "payload": None, "content_type": None, "method": None}
    if upi["channel"] == "link":
        amount, pid = order["order_amount"], payment["cf_payment_id"]
        query = f"pa=cashfree.fake@upi&pn=Fake&tr={pid}&am={amount}&cu={order['order_currency']}"
        data["payload"] = {
            "default": f"upi://pay?{query}",
            "gpay": f"tez://upi/pay?{query}",
            "phonepe": f"phonepe://pay?{query}",
            "paytm": f"paytmmp://pay?{query}",
            "bhim": f"upi://pay?{query}",
        }
    elif vpa in ("testsuccess@gocash", "testfailure@gocash"):
        outcome = "success" if vpa == "testsuccess@gocash" else "failure"
        state.later(_settle_later(order, payment, outcome))
    if fault := await after_commit(P):
        return fault
    return _json(
        {
            "payment_method": "upi",
            "channel": upi["channel"],
            "action": "custom",
            "cf_payment_id": str(payment["cf_payment_id"]),
            "payment_amount": order["order_amount"],
            "data": data,
        }
    )


async def _settle_later(order: dict[str, Any], payment: dict[str, Any], outcome: str) -> None:
    await asyncio.sleep(0.2)
    await _settle(order, payment, outcome)


async def _settle(
    order: dict[str, Any], payment: dict[str, Any], outcome: str, notify: bool = True
) -> None:
    """The customer approved or declined: capture (counted once) or fail, then the webhook."""
    if payment["payment_status"] != "PENDING":
        return
    payment["payment_completion_time"] = _now()
    if outcome == "success":
        payment.update(
            payment_status="SUCCESS",
            is_captured=True,
            payment_message="00::Transaction success",
            bank_reference=str(_next_id()),
        )
        order["order_status"] = "PAID"
        tags = order.get("order_tags") or {}
        state.capture(tags.get("payment_id") or order.get("_payment_id"))
        kind = "PAYMENT_SUCCESS_WEBHOOK"
    else:
        payment.update(
            payment_status="FAILED",
            payment_message="01::REJECTED",
            error_details={
                "error_code": "TRANSACTION_DECLINED",
                "error_description": "issuer bank or payment service provider declined the "
                "transaction",
                "error_reason": "auth_declined",
                "error_source": "customer",
            },
        )
        kind = "PAYMENT_FAILED_WEBHOOK"
    if not notify:
        return
    data: dict[str, Any] = {
        "order": {
            "order_id": order["order_id"],
            "order_amount": order["order_amount"],
            "order_currency": order["order_currency"],
            "order_tags": order.get("order_tags"),
        },
        "payment": {
            k: payment[k]
            for k in (
                "cf_payment_id",
                "payment_status",
                "payment_amount",
                "payment_currency",
                "payment_message",
                "payment_time",
                "bank_reference",
                "auth_id",
                "payment_method",
                "payment_group",
            )
        },
        "customer_details": order["customer_details"],
    }
    if payment["error_details"]:
        data["error_details"] = payment["error_details"]
    await _event(kind, data, (order.get("order_meta") or {}).get("notify_url"))


# -- payment links -------------------------------------------------------------------------------


@router.post("/pg/links")
async def create_link(request: Request) -> Response:
    if early := await _guard(request):
        return early
    body = await _body(request)
    if body is None:
        return _error("request body is not valid JSON", "request_failed")
    link_id = body.get("link_id")
    amount = _amount(body.get("link_amount"))
    customer = body.get("customer_details") or {}
    if not isinstance(link_id, str) or not ID.match(link_id):
        return _error("link_id : should be up to 50 alphanumeric characters", "link_id_invalid")
    if amount is None:
        return _error("link_amount : should be at least 1.00", "link_amount_invalid")
    if not body.get("link_currency") or not body.get("link_purpose"):
        return _error("link_currency and link_purpose are required", "request_failed")
    if not customer.get("customer_phone"):
        return _error(
            "customer_details.customer_phone : is missing in the request",
            "customer_details.customer_phone_missing",
        )
    if any(x["link_id"] == link_id for x in _links()):
        return _error("link_id already exists", "request_failed", 409)
    cf_link_id = str(_next_id())
    link = {
        "cf_link_id": cf_link_id,
        "link_id": link_id,
        "entity": "link",
        "link_status": "ACTIVE",
        "link_currency": body["link_currency"],
        "link_amount": amount,
        "link_amount_paid": Decimal("0.00"),
        "link_partial_payments": bool(body.get("link_partial_payments")),
        "link_purpose": body["link_purpose"],
        "link_created_at": _now(),
        "customer_details": customer,
        "link_meta": body.get("link_meta") or {},
        "link_url": str(request.base_url).rstrip("/") + f"/_hosted/{P}/{cf_link_id}",
        "link_expiry_time": _now(),
        "link_notes": body.get("link_notes") or {},
        "link_auto_reminders": bool(body.get("link_auto_reminders")),
        "link_notify": body.get("link_notify") or {},
        "_orders": [],
    }
    state.orders[(P, cf_link_id)] = link
    if fault := await after_commit(P):
        return fault
    return _json(_public(link))


def _link(link_id: str) -> dict[str, Any] | None:
    found = [x for x in _links() if x["link_id"] == link_id]
    return found[0] if found else None


@router.get("/pg/links/{link_id}")
async def get_link(link_id: str, request: Request) -> Response:
    if early := await _guard(request):
        return early
    link = _link(link_id)
    if link is None:
        return _error("link does not exist", "link_not_found", 404)
    return _json(_public(link))


@router.get("/pg/links/{link_id}/orders")
async def link_orders(link_id: str, request: Request) -> Response:
    if early := await _guard(request):
        return early
    link = _link(link_id)
    if link is None:
        return _error("link does not exist", "link_not_found", 404)
    return _json([_public(o) for o in link["_orders"]])


@router.post("/pg/links/{link_id}/cancel")
async def cancel_link(link_id: str, request: Request) -> Response:
    """Cancel Payment Link: only an ACTIVE link can be cancelled; a cancelled link takes no
    payment (https://www.cashfree.com/docs/api-reference/payments/latest/payment-links/cancel)."""
    if early := await _guard(request):
        return early
    state.cancelled(P)
    link = _link(link_id)
    if link is None:
        return _error("link does not exist", "link_not_found", 404)
    if link["link_status"] != "ACTIVE":
        return _error(
            f"link is {link['link_status'].lower()} and cannot be cancelled", "link_not_active"
        )
    link["link_status"] = "CANCELLED"
    if fault := await after_commit(P):
        return fault
    return _json(_public(link))


async def _pay_link(link: dict[str, Any], outcome: str) -> None:
    """The customer paid (or failed) on the hosted page: the link makes an order of its own."""
    if link["link_status"] in ("CANCELLED", "EXPIRED", "TERMINATED"):
        raise state.Refused(f"this payment link is {link['link_status'].lower()}")
    if link["link_status"] != "ACTIVE":
        return
    order_id = f"CFPay_{link['cf_link_id']}_{secrets.token_hex(4)}"
    order = {
        "cf_order_id": str(_next_id()),
        "order_id": order_id,
        "entity": "order",
        "order_currency": link["link_currency"],
        "order_amount": link["link_amount"],
        "order_status": "ACTIVE",
        "payment_session_id": "session_" + secrets.token_urlsafe(32),
        "created_at": _now(),
        "customer_details": link["customer_details"],
        "order_meta": {"notify_url": link["link_meta"].get("notify_url")},
        "order_tags": None,
        "_payments": [],
        "_refunds": [],
        "_refunded": Decimal("0.00"),
        "_payment_id": link["link_notes"].get("payment_id"),
    }
    state.orders[(P, order_id)] = order
    link["_orders"].append(order)
    payment = _new_payment(order, {"card": {"channel": "link"}}, "credit_card")
    if outcome != "success":
        await _settle(order, payment, "failure")  # the link stays ACTIVE: the customer may retry
        return
    await _settle(order, payment, "success", notify=False)
    link.update(link_status="PAID", link_amount_paid=link["link_amount"])
    data = {
        **{k: v for k, v in _public(link).items() if k != "entity"},
        "order": {
            "order_amount": order["order_amount"],
            "order_id": order_id,
            "order_expiry_time": _now(),
            "order_hash": secrets.token_urlsafe(15),
            "transaction_id": payment["cf_payment_id"],
            "transaction_status": "SUCCESS",
        },
    }
    await _event("PAYMENT_LINK_EVENT", data, link["link_meta"].get("notify_url"))


async def _complete(obj: dict[str, Any], outcome: str) -> None:
    if obj.get("entity") == "link":
        await _pay_link(obj, outcome)
    elif obj.get("entity") == "order":
        if obj["order_status"] in ("TERMINATED", "EXPIRED"):
            raise state.Refused(f"this order is {obj['order_status'].lower()}")
        for payment in list(obj["_payments"]):
            await _settle(obj, payment, outcome)


state.completers[P] = _complete


# -- refunds -------------------------------------------------------------------------------------


@router.post("/pg/orders/{order_id}/refunds")
async def create_refund(order_id: str, request: Request) -> Response:
    if early := await _guard(request):
        return early
    order = _order(order_id)
    if order is None:
        return _error("order not found", "order_not_found", 404)
    body = await _body(request) or {}
    refund_id, amount = body.get("refund_id"), _amount(body.get("refund_amount"))
    if not isinstance(refund_id, str) or not ID.match(refund_id):
        return _error("refund_id : should be 3 to 50 alphanumeric characters", "request_failed")
    if any(r["refund_id"] == refund_id for r in order["_refunds"]):
        return _error("refund with this refund_id already exists", "request_failed", 409)
    paid = [p for p in order["_payments"] if p["payment_status"] == "SUCCESS"]
    if order["order_status"] != "PAID" or not paid:
        return _error("order is not paid, refund not possible", "request_failed")
    if amount is None:
        return _error("refund_amount : should be at least 1.00", "request_failed")
    if amount > order["order_amount"] - order["_refunded"]:
        return _error("refund amount is more than the refundable amount", "request_failed")
    order["_refunded"] += amount
    refund = {
        "cf_payment_id": paid[0]["cf_payment_id"],
        "cf_refund_id": str(_next_id()),
        "refund_id": refund_id,
        "order_id": order_id,
        "entity": "refund",
        "refund_amount": amount,
        "refund_currency": order["order_currency"],
        "refund_note": body.get("refund_note"),
        "refund_status": "SUCCESS",  # sandbox refunds settle at once
        "refund_arn": None,
        "refund_charge": Decimal("0.00"),
        "status_description": "Refund processed successfully",
        "metadata": None,
        "refund_splits": [],
        "refund_type": "MERCHANT_INITIATED",
        "refund_mode": "STANDARD",
        "created_at": _now(),
        "processed_at": _now(),
        "refund_speed": {"requested": body.get("refund_speed") or "STANDARD"},
    }
    order["_refunds"].append(refund)
    state.later(
        _event(
            "REFUND_STATUS_WEBHOOK",
            {"refund": refund},
            (order.get("order_meta") or {}).get("notify_url"),
            delay=0.05,
        )
    )
    if fault := await after_commit(P):
        return fault
    return _json(refund)


@router.get("/pg/orders/{order_id}/refunds/{refund_id}")
async def get_refund(order_id: str, refund_id: str, request: Request) -> Response:
    if early := await _guard(request):
        return early
    order = _order(order_id)
    found = [r for r in (order or {}).get("_refunds", []) if r["refund_id"] == refund_id]
    if not found:
        return _error("refund does not exist", "refund_not_found", 404)
    return _json(found[0])


# -- webhooks ------------------------------------------------------------------------------------


async def _event(kind: str, data: dict[str, Any], url: str | None, delay: float = 0.0) -> None:
    """Signed like Cashfree: x-webhook-signature = base64 HMAC-SHA256(timestamp + raw body,
    client secret); x-idempotency-key identifies the event."""
    if delay:
        await asyncio.sleep(delay)
    body = dumps({"data": data, "event_time": _now(), "type": kind})
    stamp = str(int(time.time() * 1000))
    secret = FAKE_CREDENTIALS[P]["client_secret"].encode()
    signature = hmac.new(secret, stamp.encode() + body, hashlib.sha256).digest()
    headers = {
        "content-type": "application/json",
        "x-webhook-signature": base64.b64encode(signature).decode(),
        "x-webhook-timestamp": stamp,
        "x-webhook-version": "2023-08-01",
        "x-webhook-attempt": "1",
        "x-idempotency-key": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    await state.send_webhook(P, body, headers, url)
