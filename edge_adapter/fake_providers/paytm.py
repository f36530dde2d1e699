"""Paytm Payment Gateway (https://developer.paytm.com/docs/api/).

* POST /theia/api/v1/initiateTransaction?mid=&orderId= (signed): creates the order, answers
  a txnToken. An orderId can be initiated once (334 on a repeat).
* POST /theia/api/v1/showPaymentPage?mid=&orderId= (the customer's browser, form fields mid,
  orderId, txnToken): 303 to the fake's hosted page.
* POST /theia/api/v1/processTransaction?mid=&orderId= (head.txnToken): UPI collect
  (paymentMode UPI, channelCode collect, payerAccount) or UPI_INTENT (deepLinkInfo).
* POST /v3/order/status, /refund/apply, /v2/refund/status (signed).

Test UPI ids: Paytm's staging accepts UPI ids ending in @paytm
(https://github.com/paytm/paytm-agent-skills/blob/main/SKILL.md); here any `...@paytm`
id succeeds on its own a moment after the collect request, except `failure@paytm`, which
fails (our choice: Paytm documents no failing id). Other ids wait for
/_hosted/paytm/<orderId>/complete. Webhooks are JSON {head: {signature}, body} signed over
the body text with the merchant key.
"""

import asyncio
import json
import re
import secrets
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ..gateways.paytm import generate_signature, member_text, paise, rupees, verify_signature
from . import state
from .credentials import FAKE_CREDENTIALS
from .state import after_commit, behaviour, form

router = APIRouter(prefix="/paytm")
PROVIDER = "paytm"
ORDER_ID = re.compile(r"^[A-Za-z0-9_@-]{1,50}$")


def _key() -> str:
    return FAKE_CREDENTIALS[PROVIDER]["merchant_key"]


def _answer(body: dict[str, Any]) -> JSONResponse:
    """Paytm's envelope, the response body signed as Paytm does."""
    text = json.dumps(body, separators=(",", ":"))
    head = {
        "responseTimestamp": str(int(time.time() * 1000)),
        "version": "v1",
        "signature": generate_signature(text, _key()),
    }
    return JSONResponse({"head": head, "body": body})


def _result(status: str, code: str, msg: str, **extra: Any) -> JSONResponse:
    return _answer(
        {"resultInfo": {"resultStatus": status, "resultCode": code, "resultMsg": msg}, **extra}
    )


async def _signed_body(request: Request) -> tuple[dict[str, Any] | None, JSONResponse | None]:
    """The request body if its signature and MID are good, else Paytm's refusal."""
    raw = (await request.body()).decode()
    try:
        payload = json.loads(raw)
        body, signature = payload["body"], payload["head"]["signature"]
    except (ValueError, KeyError, TypeError):
        return None, _result("F", "400", "Bad Request")
    if body.get("mid") != FAKE_CREDENTIALS[PROVIDER]["mid"]:
        return None, _result("F", "2006", "Mid is invalid")
    text = member_text(raw, "body")
    if text is None or not verify_signature(text, _key(), signature):
        return None, _result("F", "2005", "Checksum provided is invalid")
    return body, None


def _webhook_body(order: dict[str, Any]) -> dict[str, Any]:
    return {
        "mid": order["mid"],
        "orderId": order["orderId"],
        "txnId": order["txnId"],
        "txnAmount": order["amount_text"],
        "currency": "INR",
        "status": order["status"],
        "respCode": order["respCode"],
        "respMsg": order["respMsg"],
        "paymentMode": order["paymentMode"],
        "bankTxnId": order.get("bankTxnId", ""),
        "gatewayName": "PAYTM",
        "txnDate": order.get("txnDate", ""),
        "extendInfo": order["extendInfo"],
    }


async def send_signed(body: dict[str, Any]) -> None:
    text = json.dumps(body, separators=(",", ":"))
    head = {
        "responseTimestamp": str(int(time.time() * 1000)),
        "version": "v1",
        "signature": generate_signature(text, _key()),
    }
    raw = f'{{"head":{json.dumps(head, separators=(",", ":"))},"body":{text}}}'
    await state.send_webhook(PROVIDER, raw.encode(), {"content-type": "application/json"})


async def complete(order: dict[str, Any], outcome: str) -> None:
    """The customer paid (or failed) on Paytm's page or approved the UPI request."""
    if order["status"] != "PENDING":
        return
    order["txnId"] = order.get("txnId") or str(20000000000000000000 + secrets.randbelow(10**19))
    order["paymentMode"] = order.get("paymentMode") or "CC"
    order["txnDate"] = time.strftime("%Y-%m-%d %H:%M:%S.0")
    if outcome == "success":
        order.update(status="TXN_SUCCESS", respCode="01", respMsg="Txn Success")
        order["bankTxnId"] = str(secrets.randbelow(10**12))
        order["captured"] = order["amount"]
        state.capture(order["extendInfo"].get("udf1"))
    else:
        order.update(status="TXN_FAILURE", respCode="235", respMsg="Insufficient balance")
    state.later(send_signed(_webhook_body(order)))


state.completers[PROVIDER] = complete


async def _auto(order: dict[str, Any], outcome: str) -> None:
    await asyncio.sleep(0.2)
    await complete(order, outcome)


@router.post("/theia/api/v1/initiateTransaction")
async def initiate(request: Request) -> Response:
    """https://developer.paytm.com/docs/api/initiate-transaction-api/"""
    if early := await behaviour(PROVIDER):
        return early
    body, refused = await _signed_body(request)
    if refused:
        return refused
    assert body is not None
    order_id = str(body.get("orderId", ""))
    if order_id != request.query_params.get("orderId") or not ORDER_ID.match(order_id):
        return _result("F", "330", "Paytm order id is invalid")
    if request.query_params.get("mid") != body["mid"]:
        return _result("F", "2006", "Mid is invalid")
    required = ("requestType", "websiteName", "callbackUrl", "txnAmount", "userInfo")
    amount = paise((body.get("txnAmount") or {}).get("value"))
    if any(not body.get(k) for k in required) or not (body.get("userInfo") or {}).get("custId"):
        return _result("F", "400", "Bad Request")
    if amount is None or amount <= 0 or body["txnAmount"].get("currency") != "INR":
        return _result("F", "400", "Invalid txnAmount")
    if (PROVIDER, order_id) in state.orders:
        return _result("F", "334", "Duplicate order id")
    token = secrets.token_hex(16)
    state.orders[(PROVIDER, order_id)] = {
        "mid": body["mid"],
        "orderId": order_id,
        "txnToken": token,
        "amount": amount,
        "amount_text": rupees(amount),
        "currency": "INR",
        "extendInfo": dict(body.get("extendInfo") or {}),
        "status": "PENDING",
        "attempted": False,
        "respCode": "402",
        "respMsg": "Looks like the payment is not complete.",
        "paymentMode": "",
        "captured": 0,
        "refunded": 0,
    }
    if late := await after_commit(PROVIDER):
        return late
    return _result(
        "S", "0000", "Success", txnToken=token, isPromoCodeValid=False, authenticated=False
    )


def _token_order(request: Request, token: str) -> dict[str, Any] | None:
    order = state.orders.get((PROVIDER, request.query_params.get("orderId", "")))
    if order is None or not secrets.compare_digest(order["txnToken"], token):
        return None
    return order


@router.post("/theia/api/v1/showPaymentPage")
async def show_payment_page(request: Request) -> Response:
    if early := await behaviour(PROVIDER):
        return early
    fields = await form(request)
    order = _token_order(request, fields.get("txnToken", ""))
    if order is None or fields.get("orderId") != order["orderId"]:
        return JSONResponse({"error": "Invalid txnToken or orderId"}, 400)
    return RedirectResponse(f"/_hosted/{PROVIDER}/{order['orderId']}", status_code=303)


@router.post("/theia/api/v1/processTransaction")
async def process(request: Request) -> Response:
    if early := await behaviour(PROVIDER):
        return early
    payload = await request.json()
    head, body = payload.get("head") or {}, payload.get("body") or {}
    order = _token_order(request, str(head.get("txnToken", "")))
    if order is None:
        return _result("F", "1006", "Your Session has expired.")
    if order["attempted"] or order["status"] != "PENDING":
        return _result("F", "0001", "Payment already attempted for this order")
    mode = body.get("paymentMode")
    extra: dict[str, Any] = {}
    if mode == "UPI" and body.get("channelCode") == "collect":
        vpa = str(body.get("payerAccount", ""))
        if vpa.endswith("@paytm"):
            outcome = "failure" if vpa == "failure@paytm" else "success"
            state.later(_auto(order, outcome))
    elif mode == "UPI_INTENT":
        extra["deepLinkInfo"] = {
            "deepLink": f"upi://pay?pa=fakemerchant@paytm&pn=FakeMerchant&am={order['amount_text']}"
            f"&tr={order['orderId']}&cu=INR",
            "orderId": order["orderId"],
        }
    else:
        return _result("F", "400", "paymentMode not supported by this fake")
    order.update(attempted=True, paymentMode="UPI")
    order["txnId"] = str(20000000000000000000 + secrets.randbelow(10**19))
    if late := await after_commit(PROVIDER):
        return late
    return _result("S", "0000", "Success", **extra)


@router.post("/v3/order/status")
async def order_status(request: Request) -> Response:
    """https://developer.paytm.com/docs/api/v3/transaction-status-api/"""
    if early := await behaviour(PROVIDER):
        return early
    body, refused = await _signed_body(request)
    if refused:
        return refused
    assert body is not None
    order = state.orders.get((PROVIDER, str(body.get("orderId", ""))))
    if order is None:
        return _result("F", "334", "Invalid Order Id.")
    return _result(
        order["status"],
        order["respCode"],
        order["respMsg"],
        txnId=order.get("txnId", ""),
        bankTxnId=order.get("bankTxnId", ""),
        orderId=order["orderId"],
        txnAmount=order["amount_text"],
        txnType="SALE",
        gatewayName="PAYTM",
        mid=order["mid"],
        paymentMode=order["paymentMode"],
        refundAmt=rupees(order["refunded"]),
        txnDate=order.get("txnDate", ""),
    )


def _refund_fields(refund: dict[str, Any]) -> dict[str, Any]:
    return {
        "orderId": refund["orderId"],
        "mid": refund["mid"],
        "refId": refund["refId"],
        "refundId": refund["refundId"],
        "txnId": refund["txnId"],
        "refundAmount": refund["amount_text"],
        "txnAmount": refund["txnAmount"],
    }


@router.post("/refund/apply")
async def refund_apply(request: Request) -> Response:
    """https://developer.paytm.com/docs/api/initiate-refund-api/ with the result codes of
    https://github.com/paytm/paytm-agent-skills/blob/main/references/refunds.md."""
    if early := await behaviour(PROVIDER):
        return early
    body, refused = await _signed_body(request)
    if refused:
        return refused
    assert body is not None
    order = state.orders.get((PROVIDER, str(body.get("orderId", ""))))
    ref_id = str(body.get("refId", ""))
    amount = paise(body.get("refundAmount"))
    if body.get("txnType") != "REFUND" or not ORDER_ID.match(ref_id):
        return _result("TXN_FAILURE", "400", "Bad Request")
    if order is None or order.get("txnId") != body.get("txnId"):
        return _result("TXN_FAILURE", "605", "Original transaction not found")
    if (PROVIDER, ref_id) in state.refunds:
        return _result("TXN_FAILURE", "602", "Duplicate refId")
    if order["status"] != "TXN_SUCCESS":
        return _result("TXN_FAILURE", "603", "Refund not allowed for this transaction")
    if amount is None or amount <= 0 or order["refunded"] + amount > order["captured"]:
        return _result("TXN_FAILURE", "601", "Refund amount is more than the refundable amount")
    order["refunded"] += amount
    refund = {
        "orderId": order["orderId"],
        "mid": order["mid"],
        "refId": ref_id,
        "refundId": str(10**19 + secrets.randbelow(10**19)),
        "txnId": order["txnId"],
        "amount": amount,
        "amount_text": rupees(amount),
        "txnAmount": order["amount_text"],
        "status": "TXN_SUCCESS",  # the fake's bank is instant; apply still answers PENDING
    }
    state.refunds[(PROVIDER, ref_id)] = refund
    state.later(send_signed({**_refund_fields(refund), "status": "TXN_SUCCESS"}))
    if late := await after_commit(PROVIDER):
        return late
    return _result("PENDING", "501", "Refund Initiated", txnType="REFUND", **_refund_fields(refund))


@router.post("/v2/refund/status")
async def refund_status(request: Request) -> Response:
    """https://developer.paytm.com/docs/api/check-refund-status-api/"""
    if early := await behaviour(PROVIDER):
        return early
    body, refused = await _signed_body(request)
    if refused:
        return refused
    assert body is not None
    refund = state.refunds.get((PROVIDER, str(body.get("refId", ""))))
    if refund is None or refund["orderId"] != body.get("orderId"):
        return _result("TXN_FAILURE", "631", "Record not found")
    return _result("TXN_SUCCESS", "10", "Refund Successfull", **_refund_fields(refund))
