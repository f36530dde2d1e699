"""Payout provider clients: paying a settlement to a merchant's bank account.

One provider today, RazorpayX (https://razorpay.com/docs/api/x/payouts/), through the
Composite Payout API: one call creates (or finds) the contact and the bank-account fund
account and makes the payout (https://razorpay.com/docs/api/x/payout-composite/create/bank-account/):

    POST {base}/v1/payouts   Basic key_id:key_secret, X-Payout-Idempotency: <our payout id>
    {account_number (our RazorpayX business account), amount (paise, at least 100), currency
     INR, mode IMPS | NEFT, purpose payout, fund_account {account_type bank_account,
     bank_account {name, ifsc, account_number}, contact {name, type, reference_id}},
     queue_if_low_balance, reference_id, narration}
    GET  {base}/v1/payouts/{id}

The idempotency key is mandatory since 15 March 2025, 4 to 36 characters of letters, digits,
hyphens, underscores and spaces; a retry with the same key and the same body returns the
first payout, so a call whose answer was lost is simply sent again
(https://razorpay.com/docs/api/x/payout-idempotency/make-request/). Statuses
(https://razorpay.com/docs/x/payouts/states-life-cycle/): pending, queued, scheduled,
processing (not final), processed (the beneficiary's bank credited it; `utr` set), and the
failures reversed, cancelled, rejected, failed, with `status_details.reason`.

Money is integer paise throughout (Razorpay's amounts are paise too). A beneficiary's account
number is personal and financial data: it travels in the request only, never in logs, reprs
or results.
"""

import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import httpx

from .payments import ProviderCall

PayoutStatus = Literal["processing", "processed", "failed", "reversed", "unknown", "error"]


@dataclass(frozen=True)
class PayoutRequest:
    payout_id: str  # ours (pyt_...): the idempotency key
    settlement_id: str  # ours (stl_...): the provider's reference_id
    amount: int  # minor units (paise)
    currency: str
    transfer_mode: Literal["IMPS", "NEFT"]
    holder_name: str
    ifsc: str
    account_number: str = field(repr=False)
    merchant_id: str = ""


@dataclass
class PayoutResult:
    status: PayoutStatus
    provider_payout_id: str | None = None
    utr: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    http_status: int | None = None
    sent: bool = True  # False: certainly nothing was created
    latency_ms: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


RAZORPAYX_STATUS: dict[str, PayoutStatus] = {
    "pending": "processing",
    "queued": "processing",
    "scheduled": "processing",
    "processing": "processing",
    "processed": "processed",
    "reversed": "reversed",
    "cancelled": "failed",
    "rejected": "failed",
    "failed": "failed",
}


class RazorpayX:
    name = "razorpayx"

    @staticmethod
    def _auth(call: ProviderCall) -> httpx.BasicAuth:
        return httpx.BasicAuth(call.credentials["key_id"], call.credentials["key_secret"])

    @staticmethod
    def _read(response: httpx.Response) -> PayoutResult:
        if response.status_code == 429:
            return PayoutResult("error", error_code="rate_limited", http_status=429, sent=False)
        if response.status_code in (401, 403):
            return PayoutResult(
                "error", error_code="auth_failed", http_status=response.status_code, sent=False
            )
        if response.status_code >= 500:
            return PayoutResult(
                "unknown", error_code="provider_5xx", http_status=response.status_code
            )
        body = response.json()
        if response.status_code >= 400:
            error = body.get("error") or {}
            # A refused request created nothing: this attempt failed for good.
            return PayoutResult(
                "failed",
                error_code=str(error.get("reason") or error.get("code") or "bad_request")[:100],
                error_message=str(error.get("description") or "the provider refused the payout")[
                    :500
                ],
                http_status=response.status_code,
            )
        status = RAZORPAYX_STATUS.get(str(body["status"]))
        if status is None:
            return PayoutResult("unknown", error_code="unexpected_status", http_status=200)
        details = body.get("status_details") or {}
        failed = status in ("failed", "reversed")
        return PayoutResult(
            status,
            provider_payout_id=str(body["id"]),
            utr=body.get("utr") or None,
            error_code=str(details.get("reason") or body["status"])[:100] if failed else None,
            error_message=str(details.get("description") or "")[:500] or None if failed else None,
            http_status=response.status_code,
        )

    async def create_payout(self, call: ProviderCall, req: PayoutRequest) -> PayoutResult:
        body = {
            "account_number": call.credentials["account_number"],
            "amount": req.amount,
            "currency": req.currency,
            "mode": req.transfer_mode,
            "purpose": "payout",
            "fund_account": {
                "account_type": "bank_account",
                "bank_account": {
                    "name": req.holder_name,
                    "ifsc": req.ifsc,
                    "account_number": req.account_number,
                },
                "contact": {
                    "name": req.holder_name,
                    "type": "vendor",
                    "reference_id": req.merchant_id[:40],
                },
            },
            "queue_if_low_balance": True,
            "reference_id": req.settlement_id,
            "narration": "LightSpeedPay settlement",
        }
        response = await call.http.post(
            f"{call.base_url}/v1/payouts",
            json=body,
            auth=self._auth(call),
            headers={"X-Payout-Idempotency": req.payout_id},
        )
        return self._read(response)

    async def fetch_payout(self, call: ProviderCall, provider_payout_id: str) -> PayoutResult:
        response = await call.http.get(
            f"{call.base_url}/v1/payouts/{provider_payout_id}", auth=self._auth(call)
        )
        if response.status_code in (400, 404):  # Razorpay answers an unknown id with a 400
            return PayoutResult("unknown", error_code="not_found", http_status=response.status_code)
        return self._read(response)


PAYOUT_PROVIDERS: dict[str, RazorpayX] = {"razorpayx": RazorpayX()}
# The payout API lives on the payment provider's host: its catalogue URL (and any override).
CATALOGUE_PROVIDER = {"razorpayx": "razorpay"}


async def run_payout_call(
    method: Callable[..., Awaitable[PayoutResult]], call: ProviderCall, arg: Any
) -> PayoutResult:
    """One payout call with a bounded timeout (the http client's) and the transport outcomes:
    a connection refused created nothing (error, not sent); a timeout or a broken answer may
    have (unknown: the same idempotency key is sent again)."""
    started = time.perf_counter()
    try:
        result = await method(call, arg)
    except httpx.ConnectError:
        result = PayoutResult("error", error_code="unreachable", sent=False)
    except httpx.TimeoutException as exc:
        sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
        result = PayoutResult("unknown" if sent else "error", error_code="timeout", sent=sent)
    except (httpx.NetworkError, httpx.RemoteProtocolError):
        result = PayoutResult("unknown", error_code="connection_lost")
    except (ValueError, KeyError, TypeError):
        result = PayoutResult("unknown", error_code="unexpected_response")
    result.latency_ms = int((time.perf_counter() - started) * 1000)
    return result
