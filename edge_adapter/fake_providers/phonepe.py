"""PhonePe PG v2 (https://developer.phonepe.com/payment-gateway/).

* POST /v1/oauth/token: client credentials -> an O-Bearer access token (kept here with
  its expiry; every PG endpoint refuses a missing, unknown or expired token with 401).
* POST /checkout/v2/pay (Standard Checkout, PG_CHECKOUT) -> redirectUrl of the fake's
  hosted page; POST /payments/v2/pay (custom checkout, UPI_COLLECT or UPI_INTENT).
* GET /checkout/v2/order/{id}/status and /payments/v2/order/{id}/status (404 if unknown).
* POST /payments/v2/refund, GET /payments/v2/refund/{id}/status.

A merchantOrderId can be used once: a second pay with it is refused (400). PhonePe documents
no test VPAs with chosen outcomes (its sandbox uses a test app), so `success@phonepe` and
`failure@phonepe` complete on their own a moment after the collect request; other VPAs and
every redirect wait for /_hosted/phonepe/<merchantOrderId>/complete. Webhooks carry
Authorization: SHA256(username:password) of the fake's webhook credentials.
"""

import asyncio
import json
import re
import secrets
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ..gateways.phonepe import webhook_authorization
from . import state
from .credentials import FAKE_CREDENTIALS
from .state import after_commit, behaviour, form, good

router = APIRouter(prefix="/phonepe")
PROVIDER = "phonepe"
TOKEN_TTL_S = 3600
ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
AUTO = {"success@phonepe": "success", "failure@phonepe": "failure"}
OAUTH_FIELDS = ("client_id", "client_version", "client_secret")
tokens: dict[str, float] = {}  # access token -> expires_at


def _now_ms() -> int:
    return int(time.time() * 1000)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "data": {}}, status)


@router.post("/v1/oauth/token")
async def oauth_token(request: Request) -> Response:
    if early := await behaviour(PROVIDER):
        return early
    fields = await form(request)
    if fields.get("grant_type") != "client_credentials":
        return JSONResponse({"code": "BAD_REQUEST", "message": "invalid grant_type"}, 400)
    if not good(PROVIDER, **{k: fields.get(k, "") for k in OAUTH_FIELDS}):
        return JSONResponse({"code": "401", "message": "Client Not Found"}, 401)
    token = secrets.token_urlsafe(24)
    issued = int(time.time())
    tokens[token] = issued + TOKEN_TTL_S
    return JSONResponse(
        {
            "access_token": token,
            "encrypted_access_token": token,
            "expires_in": None,
            "issued_at": issued,
            "expires_at": issued + TOKEN_TTL_S,
            "session_expires_at": issued + TOKEN_TTL_S,
            "token_type": "O-Bearer",
        }
    )


def _authorised(request: Request) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme == "O-Bearer" and tokens.get(token, 0) > time.time()


async def _gate(request: Request) -> Response | None:
    """Fault modes first, then the bearer token, as every PG endpoint does."""
    if early := await behaviour(PROVIDER):
        return early
    if not _authorised(request):
        return _error(401, "AUTHORIZATION_FAILED", "Unauthorized access")
    return None


def _status_body(order: dict[str, Any]) -> dict[str, Any]:
    errors = {k: order[k] for k in ("errorCode", "detailedErrorCode") if order.get(k)}
    return {
        "orderId": order["orderId"],
        "merchantOrderId": order["merchantOrderId"],
        "state": order["state"],
        "amount": order["amount"],
        "expireAt": order["expireAt"],
        "metaInfo": order["metaInfo"],
        "paymentDetails": order["paymentDetails"],
        **errors,
    }


async def _send(event: str, payload: dict[str, Any]) -> None:
    creds = FAKE_CREDENTIALS[PROVIDER]
    body = json.dumps({"event": event, "payload": payload}).encode()
    auth = webhook_authorization(creds["webhook_username"], creds["webhook_password"])
    headers = {"content-type": "application/json", "authorization": auth}
    await state.send_webhook(PROVIDER, body, headers)


async def complete(order: dict[str, Any], outcome: str) -> None:
    """The customer paid (or failed) on the hosted page or approved the UPI request."""
    if order["state"] != "PENDING":
        return
    attempt = {
        "transactionId": "OM" + secrets.token_hex(10).upper(),
        "paymentMode": order["paymentMode"],
        "timestamp": _now_ms(),
        "amount": order["amount"],
        "state": "COMPLETED" if outcome == "success" else "FAILED",
    }
    if outcome == "success":
        order["state"] = "COMPLETED"
        order["captured"] = order["amount"]
        state.capture(order["metaInfo"].get("udf1"))
    else:
        order.update(state="FAILED", errorCode="PAYMENT_ERROR", detailedErrorCode="Z9")
        attempt.update(errorCode="PAYMENT_ERROR", detailedErrorCode="Z9")
    order["paymentDetails"].append(attempt)
    prefix = "checkout" if order["flow"] == "PG_CHECKOUT" else "pg"
    event = f"{prefix}.order.{'completed' if outcome == 'success' else 'failed'}"
    payload = {"merchantId": "FAKEMERCHANT", **_status_body(order)}
    state.later(_send(event, payload))


state.completers[PROVIDER] = complete


async def _auto(order: dict[str, Any], outcome: str) -> None:
    await asyncio.sleep(0.2)
    await complete(order, outcome)


def _validate(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    if not ORDER_ID.match(str(body.get("merchantOrderId", ""))):
        return "merchantOrderId is invalid"
    amount = body.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 100:
        return "amount must be at least 100 paise"
    if (PROVIDER, body["merchantOrderId"]) in state.orders:
        return "merchantOrderId already used"
    return None


def _new_order(body: dict[str, Any], flow: str, mode: str) -> dict[str, Any]:
    expire_after = body.get("expireAfter") or 1200
    order = {
        "orderId": "OMO" + secrets.token_hex(11).upper(),
        "merchantOrderId": body["merchantOrderId"],
        "state": "PENDING",
        "amount": body["amount"],
        "currency": "INR",
        "expireAt": _now_ms() + int(expire_after) * 1000,
        "metaInfo": dict(body.get("metaInfo") or {}),
        "paymentDetails": [],
        "flow": flow,
        "paymentMode": mode,
        "captured": 0,
        "refunded": 0,
    }
    state.orders[(PROVIDER, body["merchantOrderId"])] = order
    return order


@router.post("/checkout/v2/pay")
async def checkout_pay(request: Request) -> Response:
    """https://developer.phonepe.com/payment-gateway/website-integration/standard-checkout/api-integration/api-reference/create-payment/initiate-payment"""
    if early := await _gate(request):
        return early
    body = await request.json()
    problem = _validate(body)
    if problem is None and (body.get("paymentFlow") or {}).get("type") != "PG_CHECKOUT":
        problem = "paymentFlow.type must be PG_CHECKOUT"
    if problem:
        return _error(400, "BAD_REQUEST", problem)
    order = _new_order(body, "PG_CHECKOUT", "CARD")
    if late := await after_commit(PROVIDER):
        return late
    hosted = f"{str(request.base_url).rstrip('/')}/_hosted/{PROVIDER}/{order['merchantOrderId']}"
    return JSONResponse(
        {
            "orderId": order["orderId"],
            "state": "PENDING",
            "expireAt": order["expireAt"],
            "redirectUrl": hosted,
        }
    )


@router.post("/payments/v2/pay")
async def custom_pay(request: Request) -> Response:
    """https://developer.phonepe.com/payment-gateway-custom-checkout/custom-api-integration/initiate-payment/upi-collect-api/upi-collect"""
    if early := await _gate(request):
        return early
    body = await request.json()
    problem = _validate(body)
    flow = (body.get("paymentFlow") or {}) if isinstance(body, dict) else {}
    mode = flow.get("paymentMode") or {}
    if problem is None and flow.get("type") != "PG":
        problem = "paymentFlow.type must be PG"
    if problem is None and mode.get("type") not in ("UPI_COLLECT", "UPI_INTENT"):
        problem = "paymentMode.type not supported"
    vpa = str((mode.get("details") or {}).get("vpa", ""))
    if problem is None and mode.get("type") == "UPI_COLLECT" and "@" not in vpa:
        problem = "details.vpa is invalid"
    if problem:
        return _error(400, "BAD_REQUEST", problem)
    order = _new_order(body, "PG", mode["type"])
    answer: dict[str, Any] = {
        "orderId": order["orderId"],
        "state": "PENDING",
        "expireAt": order["expireAt"],
    }
    if mode["type"] == "UPI_INTENT":
        answer["intentUrl"] = (
            f"upi://pay?pa=fakemerchant@ybl&pn=FakeMerchant&am={order['amount'] // 100}."
            f"{order['amount'] % 100:02d}&tr={order['orderId']}&cu=INR"
        )
    elif vpa in AUTO:
        state.later(_auto(order, AUTO[vpa]))
    if late := await after_commit(PROVIDER):
        return late
    return JSONResponse(answer)


@router.get("/checkout/v2/order/{merchant_order_id}/status")
@router.get("/payments/v2/order/{merchant_order_id}/status")
async def order_status(merchant_order_id: str, request: Request) -> Response:
    if early := await _gate(request):
        return early
    order = state.orders.get((PROVIDER, merchant_order_id))
    if order is None:
        return _error(404, "NOT_FOUND", "Order not found")
    return JSONResponse(_status_body(order))


def _refund_body(refund: dict[str, Any]) -> dict[str, Any]:
    return {
        "merchantId": "FAKEMERCHANT",
        "merchantRefundId": refund["merchantRefundId"],
        "originalMerchantOrderId": refund["originalMerchantOrderId"],
        "refundId": refund["refundId"],
        "amount": refund["amount"],
        "state": refund["state"],
        "paymentDetails": [
            {
                "transactionId": refund["refundId"],
                "paymentMode": refund["paymentMode"],
                "timestamp": refund["timestamp"],
                "amount": refund["amount"],
                "state": refund["state"],
            }
        ],
    }


@router.post("/payments/v2/refund")
async def refund(request: Request) -> Response:
    """https://developer.phonepe.com/payment-gateway/website-integration/standard-checkout/api-integration/api-reference/refund"""
    if early := await _gate(request):
        return early
    body = await request.json()
    refund_id = str(body.get("merchantRefundId", ""))
    order = state.orders.get((PROVIDER, str(body.get("originalMerchantOrderId", ""))))
    amount = body.get("amount")
    if not ORDER_ID.match(refund_id):
        return _error(400, "BAD_REQUEST", "merchantRefundId is invalid")
    if (PROVIDER, refund_id) in state.refunds:
        return _error(400, "BAD_REQUEST", "merchantRefundId already used")
    if order is None:
        return _error(400, "BAD_REQUEST", "originalMerchantOrderId not found")
    if order["state"] != "COMPLETED":
        return _error(400, "BAD_REQUEST", "the order is not completed")
    if not isinstance(amount, int) or amount < 100:
        return _error(400, "BAD_REQUEST", "amount must be at least 100 paise")
    if order["refunded"] + amount > order["captured"]:
        return _error(400, "BAD_REQUEST", "refund amount exceeds the refundable amount")
    order["refunded"] += amount
    record = {
        "merchantRefundId": refund_id,
        "originalMerchantOrderId": order["merchantOrderId"],
        "refundId": "OMR" + secrets.token_hex(10).upper(),
        "amount": amount,
        "state": "COMPLETED",  # the fake's bank is instant; the answer still says PENDING
        "paymentMode": order["paymentMode"],
        "timestamp": _now_ms(),
    }
    state.refunds[(PROVIDER, refund_id)] = record
    state.later(_send("pg.refund.completed", _refund_body(record)))
    if late := await after_commit(PROVIDER):
        return late
    return JSONResponse({"refundId": record["refundId"], "amount": amount, "state": "PENDING"})


@router.get("/payments/v2/refund/{merchant_refund_id}/status")
async def refund_status(merchant_refund_id: str, request: Request) -> Response:
    if early := await _gate(request):
        return early
    record = state.refunds.get((PROVIDER, merchant_refund_id))
    if record is None:
        return _error(404, "NOT_FOUND", "Refund not found")
    return JSONResponse(_refund_body(record))
