"""The providers' settlement reports, on the fakes' hosts: what a provider paid the platform
for the payments it captured and the refunds it processed, less its fee (2%) and the GST on
it (18%).

Razorpay: `GET /razorpay/v1/settlements/recon/combined?year=&month=&day=&count=&skip=`
(https://razorpay.com/docs/api/settlements/fetch-recon/): a collection of the items settled
that day, one per payment, refund or adjustment: entity_id, type, amount, fee (tax included,
as Razorpay's fees are), tax, credit, debit, currency, settlement_id, settlement_utr,
settled_at, order_receipt (the order's receipt: our attempt id), payment_id.
Sandbox (we define it; edge_adapter/gateways/settlement_reports.py documents it):
`GET /sandbox/v1/settlements?date=YYYY-MM-DD` -> {"data": [settlement with its items]}.

A fake provider settles when told: POST /_settlements/run {"provider": "razorpay" |
"sandbox", "extra": [{"type", "amount", "entity_id"?}]} puts everything captured or refunded
and not yet settled into one settlement dated now (UTC day) and answers its summary; "extra"
adds items we know nothing about (the report's mismatches).
"""

import secrets
import string
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from . import state
from .state import basic_auth, behaviour, good

razorpay = APIRouter(prefix="/razorpay")
sandbox = APIRouter(prefix="/sandbox")
control = APIRouter()
FEE_BPS = 200
GST_BPS = 1800


def _rid(prefix: str, n: int = 14) -> str:
    return prefix + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(n))


def _fee(amount: int) -> tuple[int, int]:
    fee = (amount * FEE_BPS + 5000) // 10000
    return fee, (fee * GST_BPS + 5000) // 10000


def _settled_items(provider: str, extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Everything of `provider` captured or refunded and not settled yet, as report items."""
    items: list[dict[str, Any]] = []
    if provider == "razorpay":
        for (p, _), obj in list(state.orders.items()):
            if p != "razorpay" or obj.get("entity") != "payment" or obj.get("_settled"):
                continue
            if obj["status"] not in ("captured", "refunded"):
                continue
            obj["_settled"] = True
            order = state.orders.get(("razorpay", obj.get("order_id") or ""), {})
            fee, tax = _fee(obj["amount"])
            items.append(
                {
                    "entity_id": obj["id"],
                    "type": "payment",
                    "amount": obj["amount"],
                    "currency": obj["currency"],
                    "fee": fee + tax,  # Razorpay's fee includes the tax
                    "tax": tax,
                    "credit": obj["amount"] - fee - tax,
                    "debit": 0,
                    "payment_id": obj["id"],
                    "order_id": obj.get("order_id"),
                    "order_receipt": order.get("receipt"),
                    "method": obj.get("method"),
                }
            )
        for (p, _), refund in list(state.refunds.items()):
            if p != "razorpay" or refund.get("_settled") or refund["status"] != "processed":
                continue
            refund["_settled"] = True
            items.append(
                {
                    "entity_id": refund["id"],
                    "type": "refund",
                    "amount": refund["amount"],
                    "currency": refund["currency"],
                    "fee": 0,
                    "tax": 0,
                    "credit": 0,
                    "debit": refund["amount"],
                    "payment_id": refund["payment_id"],
                    "order_receipt": refund.get("receipt"),
                }
            )
    else:
        for (p, _), charge in list(state.orders.items()):
            if p != "sandbox" or charge.get("_settled") or charge.get("status") != "succeeded":
                continue
            charge["_settled"] = True
            fee, tax = _fee(charge["amount"])
            items.append(
                {
                    "type": "charge",
                    "id": charge["id"],
                    "reference": charge["reference"],
                    "amount": charge["amount"],
                    "fee": fee,
                    "tax": tax,
                    "net": charge["amount"] - fee - tax,
                }
            )
        for (p, _), refund in list(state.refunds.items()):
            if p != "sandbox" or refund.get("_settled") or refund.get("status") != "succeeded":
                continue
            refund["_settled"] = True
            items.append(
                {
                    "type": "refund",
                    "id": refund["id"],
                    "reference": refund["reference"],
                    "amount": refund["amount"],
                    "fee": 0,
                    "tax": 0,
                    "net": -refund["amount"],
                }
            )
    for x in extra:
        amount = int(x.get("amount", 100))
        kind = x.get("type", "payment")
        if provider == "razorpay":
            items.append(
                {
                    "entity_id": x.get("entity_id") or _rid("pay_"),
                    "type": kind,
                    "amount": amount,
                    "currency": "INR",
                    "fee": 0,
                    "tax": 0,
                    "credit": amount if kind != "refund" else 0,
                    "debit": amount if kind == "refund" else 0,
                    "order_receipt": None,
                }
            )
        else:
            items.append(
                {
                    "type": "charge" if kind == "payment" else kind,
                    "id": x.get("entity_id") or _rid("ch_"),
                    "reference": None,
                    "amount": amount,
                    "fee": 0,
                    "tax": 0,
                    "net": -amount if kind == "refund" else amount,
                }
            )
    return items


@control.post("/_settlements/run")
async def run(request: Request) -> Response:
    body = await request.json()
    provider = body.get("provider")
    if provider not in ("razorpay", "sandbox"):
        return JSONResponse({"error": "provider must be razorpay or sandbox"}, 400)
    items = _settled_items(provider, body.get("extra") or [])
    now = int(time.time())
    settlement = {
        "id": _rid("setl_") if provider == "razorpay" else f"stl_{secrets.token_hex(8)}",
        "utr": "".join(secrets.choice(string.digits) for _ in range(16)),
        "settled_at": now,
        "day": datetime.fromtimestamp(now, UTC).date().isoformat(),
        "currency": "INR",
        "items": items,
    }
    if provider == "razorpay":
        settlement["amount"] = sum(i["credit"] - i["debit"] for i in items)
    else:
        settlement["amount"] = sum(i["net"] for i in items)
    state.orders[(provider + "-settlement", settlement["id"])] = settlement
    return JSONResponse(
        {k: v for k, v in settlement.items() if k != "items"} | {"count": len(items)}
    )


def _bad_request(description: str, status: int = 400) -> Response:
    return JSONResponse(
        {"error": {"code": "BAD_REQUEST_ERROR", "description": description}}, status
    )


def _settlements(provider: str, day: str) -> list[dict[str, Any]]:
    return [
        s for (p, _), s in state.orders.items() if p == provider + "-settlement" and s["day"] == day
    ]


@razorpay.get("/v1/settlements/recon/combined")
async def razorpay_recon(request: Request) -> Response:
    if early := await behaviour("razorpay"):
        return early
    key_id, key_secret = basic_auth(request)
    if not (key_id and good("razorpay", key_id=key_id, key_secret=key_secret)):
        return JSONResponse(
            {"error": {"code": "BAD_REQUEST_ERROR", "description": "Authentication failed"}}, 401
        )
    q = request.query_params
    try:
        day = f"{int(q['year']):04d}-{int(q['month']):02d}-{int(q['day']):02d}"
        count, skip = min(int(q.get("count", "10")), 1000), int(q.get("skip", "0"))
    except (KeyError, ValueError):
        return JSONResponse(
            {
                "error": {
                    "code": "BAD_REQUEST_ERROR",
                    "description": "year, month and day are required",
                }
            },
            400,
        )
    items = [
        item
        | {
            "settlement_id": s["id"],
            "settlement_utr": s["utr"],
            "settled_at": s["settled_at"],
            "settled": True,
            "on_hold": False,
        }
        for s in _settlements("razorpay", day)
        for item in s["items"]
    ]
    page = items[skip : skip + count]
    return JSONResponse({"entity": "collection", "count": len(page), "items": page})


@sandbox.get("/v1/settlements")
async def sandbox_settlements(request: Request) -> Response:
    if early := await behaviour("sandbox"):
        return early
    h = request.headers
    if not good("sandbox", api_key=h.get("x-api-key", ""), api_secret=h.get("x-api-secret", "")):
        return JSONResponse({"error": {"code": "invalid_api_key", "message": "bad key"}}, 401)
    day = request.query_params.get("date", "")
    return JSONResponse(
        {"data": [{k: v for k, v in s.items() if k != "day"} for s in _settlements("sandbox", day)]}
    )
