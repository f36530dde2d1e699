"""RazorpayX payouts (https://razorpay.com/docs/api/x/payouts/) on the Razorpay fake's host:
the Composite Payout API `POST /razorpay/v1/payouts` (contact and bank-account fund account
in the body) and `GET /razorpay/v1/payouts/{id}`, as strict as the real one where it matters
to us: Basic auth with the Razorpay key, a mandatory `X-Payout-Idempotency` key of 4 to 36
letters, digits, hyphens, underscores or spaces (the same key with the same body returns the
first payout, with another body is a 400: https://razorpay.com/docs/api/x/payout-idempotency/make-request/),
amounts in paise of at least 100, IFSC checked.

Outcomes (the real test mode settles payouts by itself; tests choose here):
  POST /_payouts/outcomes {"outcomes": ["failed", "processing", ...]}  what the next new payouts
      do, in order (default processed at once, with a UTR). processing waits for
  POST /_payouts/{id}/complete {"outcome": "processed" | "failed" | "reversed"}.
  GET  /_payouts  every payout (beneficiary account numbers shown by their last 4 digits only).
Provider name for /_control fault modes: razorpayx.
"""

import re
import secrets
import string
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from . import state
from .state import after_commit, basic_auth, behaviour, good

router = APIRouter(prefix="/razorpay")
control = APIRouter()
P = "razorpayx"
IDEMPOTENCY = re.compile(r"^[A-Za-z0-9_\- ]{4,36}$")
IFSC = re.compile(r"^[A-Z]{4}0[A-Z0-9]{6}$")
FAILURE = {
    "failed": ("beneficiary_bank_rejected", "The beneficiary bank rejected the payout."),
    "reversed": ("beneficiary_bank_returned", "The beneficiary bank returned the payout."),
}


def _rid(prefix: str) -> str:
    return prefix + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(14))


def _error(description: str, status: int = 400, field: str | None = None) -> Response:
    return JSONResponse(
        {
            "error": {
                "code": "BAD_REQUEST_ERROR",
                "description": description,
                "source": "business",
                "step": None,
                "reason": "input_validation_failed",
                "metadata": {},
                "field": field,
            }
        },
        status,
    )


def _public(payout: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payout.items() if not k.startswith("_")}


def _script() -> list[str]:
    return state.orders.setdefault((P, "_script"), {"outcomes": []})["outcomes"]


def _finish(payout: dict[str, Any], outcome: str) -> None:
    if outcome == "processed":
        digits = "".join(secrets.choice(string.digits) for _ in range(12))
        payout.update(
            status="processed",
            utr=digits if payout["mode"] == "IMPS" else "FAKEN" + digits[:11],
            status_details={
                "description": "Payout is processed and the money has been credited into the "
                "beneficiaries account",
                "source": "beneficiary_bank",
                "reason": "payout_processed",
            },
        )
    elif outcome in FAILURE:
        reason, description = FAILURE[outcome]
        payout.update(
            status=outcome,
            status_details={
                "description": description,
                "source": "beneficiary_bank",
                "reason": reason,
            },
        )


def _valid_body(body: Any) -> str | None:
    """What is wrong with a payout request, or None."""
    if not isinstance(body, dict):
        return "The request body must be JSON"
    if not isinstance(body.get("account_number"), str) or not body["account_number"]:
        return "The account number field is required."
    amount = body.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 100:
        return "The amount must be at least INR 1.00"
    if body.get("currency") != "INR":
        return "The currency must be INR"
    if body.get("mode") not in ("IMPS", "NEFT", "RTGS", "UPI"):
        return "The mode must be one of IMPS, NEFT, RTGS, UPI"
    fund = body.get("fund_account") or {}
    bank = fund.get("bank_account") or {}
    if fund.get("account_type") != "bank_account" or not isinstance(bank, dict):
        return "The fund account must be a bank account"
    if not IFSC.match(str(bank.get("ifsc", ""))):
        return "The ifsc must be a valid IFSC"
    if not re.fullmatch(r"[0-9]{5,35}", str(bank.get("account_number", ""))):
        return "The bank account number is invalid"
    if not (fund.get("contact") or {}).get("name"):
        return "The contact name is required"
    return None


@router.post("/v1/payouts")
async def create_payout(request: Request) -> Response:
    if early := await behaviour(P):
        return early
    key_id, key_secret = basic_auth(request)
    if not (key_id and good("razorpay", key_id=key_id, key_secret=key_secret)):
        return _error("Authentication failed", 401)
    key = request.headers.get("x-payout-idempotency")
    if not key:
        return _error(
            "Idempotency key is missing. Include idempotency header and key in the request.",
            field="X-Payout-Idempotency",
        )
    if not IDEMPOTENCY.match(key):
        return _error("The idempotency key is invalid", field="X-Payout-Idempotency")
    try:
        body = await request.json()
    except ValueError:
        body = None
    if problem := _valid_body(body):
        return _error(problem)
    assert isinstance(body, dict)
    seen = state.orders.get((P + "-key", key))
    if seen is not None:
        if seen["_body"] != body:
            return _error("Different request payload for the same idempotency key")
        return JSONResponse(_public(state.orders[(P, seen["_payout"])]))
    bank = body["fund_account"]["bank_account"]
    payout: dict[str, Any] = {
        "id": _rid("pout_"),
        "entity": "payout",
        "fund_account_id": _rid("fa_"),
        "amount": body["amount"],
        "currency": body["currency"],
        "notes": body.get("notes") or [],
        "fees": 0,
        "tax": 0,
        "status": "processing",
        "utr": None,
        "mode": body["mode"],
        "purpose": body.get("purpose"),
        "reference_id": body.get("reference_id"),
        "narration": body.get("narration"),
        "batch_id": None,
        "status_details": None,
        "created_at": int(time.time()),
        "_beneficiary": "XXXX" + str(bank["account_number"])[-4:],
        "_key": key,
    }
    script = _script()
    outcome = script.pop(0) if script else "processed"
    if outcome != "processing":
        _finish(payout, outcome)
    state.orders[(P, payout["id"])] = payout
    state.orders[(P + "-key", key)] = {"_body": body, "_payout": payout["id"]}
    if fault := await after_commit(P):
        return fault
    return JSONResponse(_public(payout))


@router.get("/v1/payouts/{payout_id}")
async def get_payout(payout_id: str, request: Request) -> Response:
    if early := await behaviour(P):
        return early
    key_id, key_secret = basic_auth(request)
    if not (key_id and good("razorpay", key_id=key_id, key_secret=key_secret)):
        return _error("Authentication failed", 401)
    payout = state.orders.get((P, payout_id))
    if payout is None or payout.get("entity") != "payout":
        return _error("The id provided does not exist", 400)
    return JSONResponse(_public(payout))


@control.post("/_payouts/outcomes")
async def script_outcomes(request: Request) -> dict[str, Any]:
    outcomes = (await request.json()).get("outcomes") or []
    script = _script()
    script.clear()
    script.extend(outcomes)
    return {"outcomes": script}


@control.post("/_payouts/{payout_id}/complete")
async def complete_payout(payout_id: str, request: Request) -> Response:
    payout = state.orders.get((P, payout_id))
    outcome = (await request.json()).get("outcome")
    if payout is None or outcome not in ("processed", "failed", "reversed"):
        return JSONResponse({"error": "no such payout, or a bad outcome"}, 404)
    _finish(payout, outcome)
    return JSONResponse(_public(payout))


@control.get("/_payouts")
async def list_payouts() -> list[dict[str, Any]]:
    return [
        {**_public(p), "beneficiary": p["_beneficiary"], "idempotency_key": p["_key"]}
        for (provider, _), p in state.orders.items()
        if provider == P and p.get("entity") == "payout"
    ]
