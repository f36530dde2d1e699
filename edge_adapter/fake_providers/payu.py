"""PayU India (https://docs.payu.in/reference/).

* POST /_payment: the browser form post of PayU Hosted Checkout (answers 303 to the fake's
  hosted page), or, with txn_s2s_flow=4, pg=UPI, bankcode=UPI and a vpa, the server-to-server
  UPI collect answered in JSON (metaData / result). Every request is hash-checked.
* POST /merchant/postservice.php?form=2: verify_payment, cancel_refund_transaction,
  check_action_status, each with hash = sha512(key|command|var1|salt).

Orders are kept by txnid. Like PayU, a txnid that already succeeded cannot be used again;
an unpaid one can be posted again and gets a new mihpayid. Test UPI ids: PayU documents
none with a chosen outcome, so `success@payu` and `failure@payu` complete on their own a
moment after the collect request; any other VPA waits for /_hosted/payu/<txnid>/complete.
Webhooks are form posts signed with the reverse hash; refund callbacks are PayU's unsigned
JSON (https://docs.payu.in/reference-link/refund-status-callback).
"""

import asyncio
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ..gateways.payu import paise, payment_hash, reverse_hash, rupees, webservice_hash
from . import state
from .credentials import FAKE_CREDENTIALS
from .state import after_commit, behaviour, form

router = APIRouter(prefix="/payu")
PROVIDER = "payu"
REQUIRED = ("key", "txnid", "amount", "productinfo", "firstname", "email", "phone", "surl", "furl")
AUTO = {"success@payu": "success", "failure@payu": "failure"}


def _mihpayid() -> str:
    return str(400000000000000000 + secrets.randbelow(10**17))


def _creds() -> dict[str, str]:
    return FAKE_CREDENTIALS[PROVIDER]


def _details(order: dict[str, Any]) -> dict[str, Any]:
    """One entry of verify_payment's transaction_details."""
    return {
        "mihpayid": order["mihpayid"],
        "request_id": "",
        "bank_ref_num": order.get("bank_ref_num"),
        "amt": order["amount_text"],
        "transaction_amount": order["amount_text"],
        "txnid": order["txnid"],
        "productinfo": order["productinfo"],
        "firstname": order["firstname"],
        "udf1": order["udf1"],
        "udf2": order["udf2"],
        "field9": order.get("field9", ""),
        "error_code": order.get("error_code", "E000"),
        "error_Message": order.get("error_Message", "NO ERROR"),
        "addedon": order["addedon"],
        "mode": order["mode"],
        "status": order["status"],
        "unmappedstatus": order["unmappedstatus"],
    }


def _callback_fields(order: dict[str, Any]) -> dict[str, str]:
    """The fields PayU posts to surl/furl and to the payment webhook, with the reverse hash."""
    fields = {
        "mihpayid": order["mihpayid"],
        "mode": order["mode"],
        "status": order["status"],
        "unmappedstatus": order["unmappedstatus"],
        "key": order["key"],
        "txnid": order["txnid"],
        "amount": order["amount_text"],
        "productinfo": order["productinfo"],
        "firstname": order["firstname"],
        "email": order["email"],
        "phone": order["phone"],
        "udf1": order["udf1"],
        "udf2": order["udf2"],
        "udf3": order.get("udf3", ""),
        "udf4": order.get("udf4", ""),
        "udf5": order.get("udf5", ""),
        "error": order.get("error_code", "E000"),
        "error_Message": order.get("error_Message", "No Error"),
        "bank_ref_num": order.get("bank_ref_num") or "",
    }
    fields["hash"] = reverse_hash(fields, _creds()["merchant_salt"])
    return fields


async def complete(order: dict[str, Any], outcome: str) -> None:
    """The customer paid (or failed) on the hosted page or in the UPI app."""
    if order["status"] != "pending":
        return  # already final: nothing moves twice
    order["mode"] = order["mode"] or "CC"
    if outcome == "success":
        order.update(status="success", unmappedstatus="captured", error_code="E000")
        order.update(error_Message="NO ERROR", bank_ref_num=str(secrets.randbelow(10**12)))
        order["captured"] = paise(order["amount_text"]) or 0
        state.capture(order["udf1"])
    else:
        order.update(status="failure", unmappedstatus="failed", error_code="E308")
        order.update(error_Message="Transaction Failed at bank end.", field9="Declined")
    body = urlencode(_callback_fields(order)).encode()
    state.later(
        state.send_webhook(PROVIDER, body, {"content-type": "application/x-www-form-urlencoded"})
    )


state.completers[PROVIDER] = complete


def _bad(message: str, status: int = 200) -> JSONResponse:
    return JSONResponse({"status": "failure", "error": message}, status)


def _new_order(fields: dict[str, str], mode: str) -> dict[str, Any] | JSONResponse:
    existing = state.orders.get((PROVIDER, fields["txnid"]))
    if existing and existing["status"] == "success":
        return _bad("Duplicate Order Id. Transaction id already used for a successful payment")
    amount = paise(fields["amount"])
    if amount is None or amount <= 0:
        return _bad("Invalid amount")
    order = {
        "txnid": fields["txnid"],
        "mihpayid": _mihpayid(),
        "key": fields["key"],
        "amount": amount,
        "amount_text": rupees(amount),
        "currency": "INR",
        "productinfo": fields["productinfo"],
        "firstname": fields["firstname"],
        "email": fields["email"],
        "phone": fields["phone"],
        "udf1": fields.get("udf1", ""),
        "udf2": fields.get("udf2", ""),
        "mode": mode,
        "status": "pending",
        "unmappedstatus": "pending",
        "addedon": time.strftime("%Y-%m-%d %H:%M:%S"),
        "captured": 0,
        "refunded": 0,
    }
    state.orders[(PROVIDER, fields["txnid"])] = order
    return order


async def _auto(order: dict[str, Any], outcome: str) -> None:
    await asyncio.sleep(0.2)
    await complete(order, outcome)


@router.post("/_payment")
async def payment(request: Request) -> Response:
    """https://docs.payu.in/docs/prebuilt-checkout-page-integration (browser form) and
    https://docs.payu.in/docs/upi-collection-s2s (txn_s2s_flow=4)."""
    if early := await behaviour(PROVIDER):
        return early
    fields = await form(request)
    s2s = fields.get("txn_s2s_flow") == "4"
    missing = [k for k in REQUIRED if not fields.get(k)]
    if missing:
        return _bad(f"Mandatory param {missing[0]} is missing")
    if fields["key"] != _creds()["merchant_key"]:
        return _bad("Invalid key")
    if fields.get("hash", "").lower() != payment_hash(fields, _creds()["merchant_salt"]):
        return _bad("Invalid Hash")
    if not s2s:
        created = _new_order(fields, "")
        if isinstance(created, JSONResponse):
            return created
        return RedirectResponse(f"/_hosted/{PROVIDER}/{fields['txnid']}", status_code=303)
    if fields.get("pg") != "UPI" or fields.get("bankcode") != "UPI" or not fields.get("vpa"):
        return _bad("Only the UPI collect S2S flow is supported by this fake")
    vpa = fields["vpa"]
    if "@" not in vpa:
        return JSONResponse(
            {
                "metaData": {
                    "message": "VPA is not available for transaction",
                    "referenceId": secrets.token_hex(16),
                    "statusCode": "E4684",
                    "txnId": fields["txnid"],
                    "txnStatus": "failed",
                    "unmappedStatus": "failed",
                },
                "result": None,
            }
        )
    created = _new_order(fields, "UPI")
    if isinstance(created, JSONResponse):
        return created
    if vpa in AUTO:
        state.later(_auto(created, AUTO[vpa]))
    if late := await after_commit(PROVIDER):
        return late
    return JSONResponse(
        {
            "metaData": {
                "message": None,
                "referenceId": secrets.token_hex(16),
                "statusCode": "E000",
                "txnId": fields["txnid"],
                "txnStatus": "pending",
                "unmappedStatus": "pending",
            },
            "result": {
                "paymentId": created["mihpayid"],
                "merchantName": "LightSpeedPay test merchant",
                "merchantVpa": "lightspeedpay@payu",
                "amount": created["amount_text"],
                "otpPostUrl": None,
            },
        }
    )


def _by_mihpayid(mihpayid: str) -> dict[str, Any] | None:
    for (provider, _), order in state.orders.items():
        if provider == PROVIDER and order["mihpayid"] == mihpayid.strip():
            return order
    return None


def _refund_action(refund: dict[str, Any]) -> dict[str, Any]:
    return {
        "mihpayid": refund["mihpayid"],
        "request_id": refund["request_id"],
        "token": refund["token"],
        "amount": refund["amount_text"],
        "amt": refund["amount_text"],
        "action": "refund",
        "status": refund["status"],
        "bank_ref_num": refund["bank_ref_num"],
        "error_code": refund.get("error_code", ""),
    }


async def _cancel_refund(fields: dict[str, str]) -> Response:
    """https://docs.payu.in/docs/refund-transaction-api with the codes of
    https://docs.payu.in/docs/error-codes-for-refund-initiation."""
    order = _by_mihpayid(fields.get("var1", ""))
    if order is None:
        return JSONResponse({"status": 0, "msg": "Transaction Not Found", "error_code": 116})
    token, amount = fields.get("var2", ""), paise(fields.get("var3"))
    if not token:
        return JSONResponse({"status": 0, "msg": "Input Data missing", "error_code": 124})
    if order["status"] != "success":
        return JSONResponse({"status": 0, "msg": "Invalid transaction status", "error_code": 111})
    if any(
        r["token"] == token and r["mihpayid"] == order["mihpayid"]
        for (p, _), r in state.refunds.items()
        if p == PROVIDER
    ):
        return JSONResponse({"status": 0, "msg": "Token already exists.", "error_code": 106})
    if amount is None or amount <= 0 or order["refunded"] + amount > order["captured"]:
        return JSONResponse(
            {"status": 0, "msg": "Invalid amount", "error_code": 105, "mihpayid": order["mihpayid"]}
        )
    request_id = str(10**10 + secrets.randbelow(10**10))
    order["refunded"] += amount
    refund = {
        "request_id": request_id,
        "mihpayid": order["mihpayid"],
        "txnid": order["txnid"],
        "token": token,
        "amount": amount,
        "amount_text": rupees(amount),
        "status": "success",  # the fake's bank settles at once; the answer says queued
        "bank_ref_num": str(secrets.randbelow(10**12)),
    }
    state.refunds[(PROVIDER, request_id)] = refund
    callback = {
        "additionalValue1": None,
        "bank_arn": refund["bank_ref_num"],
        "refund_mode": "Back to source",
        "bank_ref_num": refund["bank_ref_num"],
        "key": order["key"],
        "amt": refund["amount_text"],
        "remark": None,
        "status": "success",
        "token": token,
        "mihpayid": order["mihpayid"],
        "request_id": request_id,
        "merchantTxnId": order["txnid"],
        "additionalValue2": None,
        "action": "refund",
    }
    state.later(
        state.send_webhook(
            PROVIDER, json.dumps(callback).encode(), {"content-type": "application/json"}
        )
    )
    if late := await after_commit(PROVIDER):
        return late
    return JSONResponse(
        {
            "status": 1,
            "msg": "Refund Request Queued",
            "request_id": request_id,
            "bank_ref_num": None,
            "mihpayid": order["mihpayid"],
            "error_code": 102,
        }
    )


def _action_status(fields: dict[str, str]) -> Response:
    """https://docs.payu.in/reference/check_action_status_api_with_payu_id: by request id,
    or with var2=payuid every action on a mihpayid."""
    var1 = fields.get("var1", "")
    refunds = [r for (p, _), r in state.refunds.items() if p == PROVIDER]
    if fields.get("var2") == "payuid":
        found = {r["request_id"]: _refund_action(r) for r in refunds if r["mihpayid"] == var1}
        details: dict[str, Any] = {var1: found} if found else {}
    else:
        found = {r["request_id"]: _refund_action(r) for r in refunds if r["request_id"] == var1}
        details = {var1: found} if found else {}
    if not details:
        return JSONResponse({"status": 0, "msg": "No action status found"})
    count = sum(len(v) for v in details.values())
    return JSONResponse(
        {
            "status": 1,
            "msg": f"{count} out of {count} Transactions Fetched Successfully",
            "transaction_details": details,
        }
    )


def _verify_payment(fields: dict[str, str]) -> Response:
    details: dict[str, Any] = {}
    ids = [t for t in fields.get("var1", "").split("|") if t]
    for txnid in ids:
        order = state.orders.get((PROVIDER, txnid))
        details[txnid] = (
            _details(order) if order else {"mihpayid": "Not Found", "status": "Not Found"}
        )
    found = sum(1 for t in ids if (PROVIDER, t) in state.orders)
    return JSONResponse(
        {
            "status": 1,
            "msg": f"{found} out of {len(ids)} Transactions Fetched Successfully",
            "transaction_details": details,
        }
    )


@router.post("/merchant/postservice.php")
@router.post("/merchant/postservice")
async def postservice(request: Request) -> Response:
    if early := await behaviour(PROVIDER):
        return early
    fields = await form(request)
    key, command, var1 = (fields.get(k, "") for k in ("key", "command", "var1"))
    expected = _creds()
    if request.query_params.get("form") != "2" or command not in (
        "verify_payment",
        "cancel_refund_transaction",
        "check_action_status",
    ):
        return JSONResponse({"status": 0, "msg": "Invalid command"})
    if key != expected["merchant_key"]:
        return JSONResponse({"status": 0, "msg": "Invalid key"})
    if fields.get("hash") != webservice_hash(key, command, var1, expected["merchant_salt"]):
        return JSONResponse({"status": 0, "msg": "Invalid Hash."})
    if command == "cancel_refund_transaction":
        return await _cancel_refund(fields)
    if command == "check_action_status":
        return _action_status(fields)
    return _verify_payment(fields)
