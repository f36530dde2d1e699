"""Paytm Payment Gateway: the credential check and the payment client.

The checksum (Paytm's `PaytmChecksum`, https://developer.paytm.com/docs/checksum/):
sha256(body + "|" + salt) hex + salt, AES-128-CBC encrypted with the merchant key and
Paytm's fixed IV, base64. For JSON APIs the signed text is the `body` object exactly as sent
(`{"body": ..., "head": {"signature": ...}}`); for form posts (callbacks) it is the values of
the sorted parameters joined by "|". The check uses the v3 order status API for an order
that does not exist: resultCode 334/501 (order unknown) means the MID and key were
accepted; 2005/2006 (invalid checksum / MID) means they were not.

Payments (hosts https://securegw-stage.paytm.in / https://securegw.paytm.in):
initiateTransaction creates the order and a txnToken; the customer then pays on Paytm's
page (showPaymentPage) or we send a UPI collect / ask for a UPI intent with
processTransaction; /v3/order/status, /refund/apply and /v2/refund/status follow.
Amounts are rupee strings with two decimals ("1.00"); we convert exactly to and from paise.
INR only. Our attempt id is the orderId (letters, digits, _ @ -, at most 50 characters);
extendInfo.udf1 carries our payment id. Optional credential `website_name` (Paytm's
websiteName for the MID): WEBSTAGING in test and DEFAULT in live when absent
(https://github.com/paytm/paytm-agent-skills/blob/main/references/web-integration.md).
"""

import base64
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, quote

import httpx
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .base import Outcome, by_status
from .payments import (
    ChargeRef,
    ChargeRequest,
    ChargeResult,
    ChargeStatus,
    ProviderCall,
    ProviderEvent,
    RefundRequest,
    RefundResult,
    RefundStatus,
    VoidResult,
    WebhookRejected,
    by_http_status,
)

IV = b"@@@@&&&&####$$$$"
AUTH_CODES = {"2005", "2006", "2004", "227"}
ORDER_UNKNOWN_CODES = {"334", "501", "402"}
STATUS_NOT_FOUND = "334"  # /v3/order/status: "Invalid Order Id."
REFUND_NOT_FOUND = "631"  # /v2/refund/status: no refund with this refId

# Paytm RESPCODE / resultCode values our client can surface -> (decision, unified, message),
# from Paytm's response-code table (https://www.paytmpayments.com/docs/response-codes, as
# summarised in https://github.com/paytm/paytm-agent-skills/blob/main/references/troubleshooting.md).
ERROR_MAP: dict[str, tuple[str, str, str]] = {
    "141": ("fail", "customer_cancelled", "The customer cancelled at the bank page"),
    "227": ("next", "authentication_failed", "Paytm rejected our checksum"),
    "235": ("fail", "insufficient_funds", "Insufficient balance in the customer's account"),
    "267": ("fail", "bank_declined", "The bank declined the payment"),
    "295": ("fail", "invalid_card", "The card details were not valid"),
    "330": ("next", "invalid_request", "Paytm refused the order id"),
    "334": ("next", "duplicate_order", "Paytm already has an order with this id"),
    "335": ("fail", "expired", "The payment session expired"),
    "400": ("next", "invalid_request", "Paytm refused the request"),
    "401": ("next", "authentication_failed", "Paytm rejected the MID or key"),
    "501": ("retry", "provider_error", "Paytm had a system error"),
    "810": ("next", "risk_declined", "Paytm's risk system declined the payment"),
    "2005": ("next", "authentication_failed", "Paytm rejected our checksum"),
    "2006": ("next", "authentication_failed", "Paytm rejected the MID"),
}


def _cipher(key: str) -> Cipher:
    return Cipher(algorithms.AES(key.encode()), modes.CBC(IV))


def generate_signature(body: str, key: str, salt: str | None = None) -> str:
    salt = salt or secrets.token_urlsafe(3)[:4]
    plain = (hashlib.sha256(f"{body}|{salt}".encode()).hexdigest() + salt).encode()
    padder = padding.PKCS7(128).padder()
    encryptor = _cipher(key).encryptor()
    data = encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()
    return base64.b64encode(data).decode()


def verify_signature(body: str, key: str, signature: str) -> bool:
    try:
        decryptor = _cipher(key).decryptor()
        raw = decryptor.update(base64.b64decode(signature)) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        plain = (unpadder.update(raw) + unpadder.finalize()).decode()
    except (ValueError, UnicodeDecodeError):
        return False
    salt = plain[-4:]
    return secrets.compare_digest(
        plain, hashlib.sha256(f"{body}|{salt}".encode()).hexdigest() + salt
    )


def params_string(params: Mapping[str, str]) -> str:
    """What PaytmChecksum signs for a parameter map (form posts): the values of the keys in
    sorted order joined by "|", a literal "null" counting as empty."""
    return "|".join("" if params[k] in (None, "null") else str(params[k]) for k in sorted(params))


def member_text(raw: str, name: str) -> str | None:
    """The exact text of a top-level member of a JSON object (Paytm signs `body` as it was
    serialised, so a signature is checked against these bytes, never a re-serialisation)."""
    decoder = json.JSONDecoder()

    def skip(i: int) -> int:
        while i < len(raw) and raw[i] in " \t\r\n":
            i += 1
        return i

    try:
        i = skip(0)
        if raw[i] != "{":
            return None
        i = skip(i + 1)
        while i < len(raw) and raw[i] != "}":
            key, i = decoder.raw_decode(raw, i)
            i = skip(i)
            if raw[i] != ":":
                return None
            start = skip(i + 1)
            _, end = decoder.raw_decode(raw, start)
            if key == name:
                return raw[start:end]
            i = skip(end)
            if i < len(raw) and raw[i] == ",":
                i = skip(i + 1)
    except (ValueError, IndexError):
        return None
    return None


def signed_payload(body: Mapping[str, Any], key: str) -> str:
    """`{"body": ..., "head": {"signature": ...}}` with the signature over the body text."""
    text = json.dumps(body, separators=(",", ":"))
    return f'{{"body":{text},"head":{{"signature":"{generate_signature(text, key)}"}}}}'


def rupees(paise: int) -> str:
    if paise < 0:
        raise ValueError("amounts are never negative")
    return f"{paise // 100}.{paise % 100:02d}"


def paise(amount: Any) -> int | None:
    if amount in (None, ""):
        return None
    try:
        value = Decimal(str(amount)) * 100
    except InvalidOperation:
        return None
    return int(value) if value == value.to_integral_value() else None


async def check(http: httpx.AsyncClient, base_url: str, creds: dict[str, str]) -> Outcome:
    body = json.dumps({"mid": creds["mid"], "orderId": f"LSPCHECK{uuid.uuid4().hex[:12]}"})
    try:
        signature = generate_signature(body, creds["merchant_key"])
    except ValueError:
        return Outcome(False, None, "auth_failed", "the merchant key is not a valid Paytm key")
    response = await http.post(
        f"{base_url}/v3/order/status",
        content=f'{{"body":{body},"head":{{"signature":"{signature}"}}}}',
        headers={"content-type": "application/json"},
    )
    outcome = by_status(response)
    if not outcome.ok:
        return outcome
    info = response.json().get("body", {}).get("resultInfo", {})
    code = str(info.get("resultCode"))
    if code in ORDER_UNKNOWN_CODES or info.get("resultStatus") in ("TXN_SUCCESS", "PENDING"):
        return Outcome(True, response.status_code)
    if code in AUTH_CODES:
        return Outcome(
            False, response.status_code, "auth_failed", "Paytm rejected the checksum or MID"
        )
    return Outcome(False, response.status_code, "unexpected_response", f"Paytm resultCode {code}")


def _info(answer: Mapping[str, Any]) -> tuple[str, str, str, dict[str, Any]]:
    body = answer.get("body") or {}
    info = body.get("resultInfo") or {}
    status = str(info.get("resultStatus", ""))
    return status, str(info.get("resultCode", "")), str(info.get("resultMsg", "")), body


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


class PaytmClient:
    """Paytm PG (MID + merchant key; webhooks are signed with the same key)."""

    name = "paytm"

    def requirements(self, req: ChargeRequest) -> str | None:
        """Paytm's domestic PG takes INR only; initiateTransaction needs a callbackUrl (our
        return URL, else our notify URL) and userInfo.custId (our payment id), which we always
        have (https://github.com/paytm/paytm-agent-skills/blob/main/references/web-integration.md)."""
        if req.currency != "INR":
            return "Paytm takes INR only"
        return None

    async def cancel_charge(self, call: ProviderCall, ref: ChargeRef) -> VoidResult:
        """Paytm PG documents initiateTransaction, showPaymentPage / processTransaction, the
        order status and refunds, and no API to close or cancel an order: the txnToken lapses
        on its own after 15 minutes
        (https://github.com/paytm/paytm-agent-skills/blob/main/references/web-integration.md).
        So `not_supported`, without a call; a late success is still caught and flagged."""
        return VoidResult(
            "not_supported",
            error_code="no_cancel_api",
            error_message="Paytm cannot cancel an unpaid order",
            sent=False,
        )

    @staticmethod
    def _signed(call: ProviderCall, body: Mapping[str, Any]) -> str:
        try:
            return signed_payload(body, call.credentials["merchant_key"])
        except ValueError as exc:  # not a 16/24/32-byte AES key
            raise _BadKey from exc

    async def _post_signed(
        self, call: ProviderCall, path: str, body: Mapping[str, Any]
    ) -> httpx.Response:
        return await call.http.post(
            f"{call.base_url}{path}",
            content=self._signed(call, body),
            headers={"content-type": "application/json"},
        )

    # -- charges ---------------------------------------------------------------------------
    async def create_charge(self, call: ProviderCall, req: ChargeRequest) -> ChargeResult:
        """1. POST /theia/api/v1/initiateTransaction?mid=&orderId= (signed) creates the order
        and answers a txnToken, resultStatus "S" / resultCode 0000
        (https://developer.paytm.com/docs/api/initiate-transaction-api/; body fields:
        https://github.com/paytm/paytm-agent-skills/blob/main/references/web-integration.md).
        A refusal (resultStatus "F", e.g. 227 checksum, 330 bad orderId) creates nothing
        payable: `error`; 334 (orderId already used) means an earlier create for this
        attempt went through, so we answer that order's status instead.

        2. Card, netbanking, wallet: the customer's browser posts mid, orderId and txnToken
        to /theia/api/v1/showPaymentPage (Paytm's hosted page): `requires_action` redirect.
        UPI: POST /theia/api/v1/processTransaction?mid=&orderId= with head.txnToken and
        requestType NATIVE, paymentMode UPI + channelCode collect + payerAccount (the VPA)
        for a collect request, or paymentMode UPI_INTENT, which answers
        deepLinkInfo.deepLink (upi://...)
        (https://developer.paytm.com/docs/api/process-transaction-api/). The orderId is
        ours, so after an ambiguous answer find_charge looks it up instead of a repeat."""
        if req.currency != "INR":
            return ChargeResult(
                "error", error_code="currency_unsupported", error_message="INR only", sent=False
            )
        creds = call.credentials
        mid, order_id = creds["mid"], req.attempt_id
        website = creds.get("website_name") or (
            "DEFAULT" if call.environment == "live" else "WEBSTAGING"
        )
        user: dict[str, str] = {"custId": req.payment_id}
        if req.customer.phone:
            user["mobile"] = req.customer.phone
        if req.customer.email:
            user["email"] = req.customer.email
        body = {
            "requestType": "Payment",
            "mid": mid,
            "websiteName": website,
            "orderId": order_id,
            "callbackUrl": req.return_url or req.notify_url or "",
            "txnAmount": {"value": rupees(req.amount), "currency": "INR"},
            "userInfo": user,
            "extendInfo": {"udf1": req.payment_id, "mercUnqRef": req.payment_id},
        }
        query = f"?mid={quote(mid)}&orderId={quote(order_id)}"
        try:
            response = await self._post_signed(
                call, f"/theia/api/v1/initiateTransaction{query}", body
            )
        except _BadKey:
            return ChargeResult(
                "error", error_code="auth_failed", error_message="invalid merchant key", sent=False
            )
        if transport := by_http_status(response):
            assert isinstance(transport, ChargeResult)
            return transport
        if response.status_code >= 300:
            return ChargeResult(
                "error",
                error_code=f"http_{response.status_code}",
                error_message="Paytm refused the request",
                http_status=response.status_code,
                sent=False,
            )
        status, code, message, answer = _info(response.json())
        if status == "F" and code == "334":
            # The orderId is taken: an earlier create for this attempt went through. Answer
            # what Paytm has for it, so repeating a create never makes a second order.
            return await self._status(call, order_id)
        if status != "S" or not answer.get("txnToken"):
            return ChargeResult(
                "error",
                error_code=code or "initiate_failed",
                error_message=message or "Paytm did not initiate the transaction",
                http_status=response.status_code,
                sent=False,
            )
        token = str(answer["txnToken"])
        if req.method != "upi":
            return ChargeResult(
                "requires_action",
                provider_order_id=order_id,
                next_action={
                    "type": "redirect",
                    "url": f"{call.base_url}/theia/api/v1/showPaymentPage{query}",
                    "method": "POST",
                    "fields": {"mid": mid, "orderId": order_id, "txnToken": token},
                },
                amount=req.amount,
                currency="INR",
                http_status=response.status_code,
            )
        process: dict[str, Any] = {"requestType": "NATIVE", "mid": mid, "orderId": order_id}
        if req.upi_vpa:
            process.update(paymentMode="UPI", channelCode="collect", payerAccount=req.upi_vpa)
        else:
            process["paymentMode"] = "UPI_INTENT"
        head = {
            "txnToken": token,
            "version": "v1",
            "requestTimestamp": str(int(time.time())),
            "channelId": "WEB",
        }
        response = await call.http.post(
            f"{call.base_url}/theia/api/v1/processTransaction{query}",
            json={"head": head, "body": process},
        )
        if transport := by_http_status(response):
            assert isinstance(transport, ChargeResult)
            return transport
        if response.status_code >= 300:
            return ChargeResult(
                "unknown",
                error_code=f"http_{response.status_code}",
                error_message="Paytm answered the UPI request with an error",
                http_status=response.status_code,
            )
        status, code, message, answer = _info(response.json())
        if status != "S":
            return ChargeResult(
                "failed",
                provider_order_id=order_id,
                error_code=code or "process_failed",
                error_message=message or "Paytm refused the UPI request",
                http_status=response.status_code,
            )
        if req.upi_vpa:
            action: dict[str, Any] = {"type": "upi_collect", "vpa": req.upi_vpa}
        else:
            link = (answer.get("deepLinkInfo") or {}).get("deepLink")
            if not link:
                return ChargeResult(
                    "unknown",
                    provider_order_id=order_id,
                    error_code="unexpected_response",
                    error_message="Paytm sent no UPI intent link",
                    http_status=response.status_code,
                )
            action = {"type": "upi_intent", "url": str(link)}
        return ChargeResult(
            "requires_action",
            provider_order_id=order_id,
            next_action=action,
            amount=req.amount,
            currency="INR",
            http_status=response.status_code,
        )

    async def _status(self, call: ProviderCall, order_id: str) -> ChargeResult:
        """POST /v3/order/status (signed {mid, orderId}): resultStatus TXN_SUCCESS,
        TXN_FAILURE or PENDING, txnId, txnAmount (rupees); resultCode 334 "Invalid Order Id"
        when Paytm has no such order
        (https://developer.paytm.com/docs/api/v3/transaction-status-api/)."""
        body = {"mid": call.credentials["mid"], "orderId": order_id}
        try:
            response = await self._post_signed(call, "/v3/order/status", body)
        except _BadKey:
            return ChargeResult("error", error_code="auth_failed", sent=False)
        if transport := by_http_status(response):
            assert isinstance(transport, ChargeResult)
            return transport
        if response.status_code >= 300:
            return ChargeResult(
                "unknown",
                error_code=f"http_{response.status_code}",
                http_status=response.status_code,
            )
        status, code, message, answer = _info(response.json())
        if code in AUTH_CODES:
            return ChargeResult(
                "error", error_code=code, error_message=message, http_status=200, sent=False
            )
        if status in ("F", "TXN_FAILURE") and code == STATUS_NOT_FOUND:
            return ChargeResult("not_found", http_status=response.status_code)
        if status == "F":  # the status request itself was refused
            return ChargeResult(
                "error", error_code=code, error_message=message, http_status=200, sent=False
            )
        mapped: ChargeStatus
        if status == "TXN_SUCCESS":
            mapped = "succeeded"
        elif status == "TXN_FAILURE":
            mapped = "failed"
        elif status == "PENDING":
            mapped = "pending"
        else:
            return ChargeResult(
                "unknown", error_code="unexpected_response", error_message=f"status {status}"
            )
        return ChargeResult(
            mapped,
            provider_order_id=order_id,
            provider_payment_id=str(answer.get("txnId") or "") or None,
            amount=paise(answer.get("txnAmount")),
            currency="INR",
            error_code=code if mapped == "failed" else None,
            error_message=message if mapped == "failed" else None,
            http_status=response.status_code,
        )

    async def find_charge(self, call: ProviderCall, req: ChargeRequest) -> ChargeResult:
        """The order status of our orderId (see _status); `not_found` on resultCode 334."""
        return await self._status(call, req.attempt_id)

    async def fetch_status(self, call: ProviderCall, ref: ChargeRef) -> ChargeResult:
        """The order status of our orderId (see _status)."""
        return await self._status(call, ref.attempt_id)

    # -- refunds ---------------------------------------------------------------------------
    async def refund(self, call: ProviderCall, req: RefundRequest) -> RefundResult:
        """POST /refund/apply (signed): txnType REFUND, orderId, Paytm's txnId, refId = our
        refund id (Paytm's idempotency key for refunds), refundAmount in rupees; cumulative
        refunds at most the payment. resultStatus PENDING (501, initiated), TXN_SUCCESS or
        TXN_FAILURE (601 amount above what is refundable, 602 duplicate refId, ...)
        (https://developer.paytm.com/docs/api/initiate-refund-api/,
        https://github.com/paytm/paytm-agent-skills/blob/main/references/refunds.md).
        A duplicate refId means the refund exists: we answer its status."""
        txn_id = req.provider_payment_id
        if not txn_id:
            found = await self._status(call, req.attempt_id)
            if found.status != "succeeded" or not found.provider_payment_id:
                code = found.error_code or "not_captured"
                if found.status in ("error", "unknown"):
                    return RefundResult("error", error_code=code, sent=False)
                return RefundResult(
                    "failed", error_code=code, error_message="no captured Paytm payment"
                )
            txn_id = found.provider_payment_id
        body = {
            "mid": call.credentials["mid"],
            "txnType": "REFUND",
            "orderId": req.attempt_id,
            "txnId": txn_id,
            "refId": req.refund_id,
            "refundAmount": rupees(req.amount),
        }
        try:
            response = await self._post_signed(call, "/refund/apply", body)
        except _BadKey:
            return RefundResult("error", error_code="auth_failed", sent=False)
        if transport := by_http_status(response, refund=True):
            assert isinstance(transport, RefundResult)
            return transport
        if response.status_code >= 300:
            return RefundResult(
                "failed",
                error_code=f"http_{response.status_code}",
                http_status=response.status_code,
            )
        status, code, message, answer = _info(response.json())
        if status == "TXN_FAILURE" and code == "602":
            return await self.fetch_refund(call, req)
        return RefundResult(
            _refund_status(status),
            provider_refund_id=str(answer.get("refundId") or "") or None,
            amount=paise(answer.get("refundAmount")),
            error_code=code if status == "TXN_FAILURE" else None,
            error_message=message if status == "TXN_FAILURE" else None,
            http_status=response.status_code,
        )

    async def fetch_refund(self, call: ProviderCall, req: RefundRequest) -> RefundResult:
        """POST /v2/refund/status (signed {mid, orderId, refId}): resultStatus TXN_SUCCESS,
        PENDING or TXN_FAILURE; 631 when Paytm has no refund with this refId
        (https://developer.paytm.com/docs/api/check-refund-status-api/)."""
        body = {"mid": call.credentials["mid"], "orderId": req.attempt_id, "refId": req.refund_id}
        try:
            response = await self._post_signed(call, "/v2/refund/status", body)
        except _BadKey:
            return RefundResult("error", error_code="auth_failed", sent=False)
        if transport := by_http_status(response, refund=True):
            assert isinstance(transport, RefundResult)
            return transport
        if response.status_code >= 300:
            return RefundResult(
                "unknown",
                error_code=f"http_{response.status_code}",
                http_status=response.status_code,
            )
        status, code, message, answer = _info(response.json())
        if status == "TXN_FAILURE" and code == REFUND_NOT_FOUND:
            return RefundResult("not_found", http_status=response.status_code)
        return RefundResult(
            _refund_status(status),
            provider_refund_id=str(answer.get("refundId") or "") or None,
            amount=paise(answer.get("refundAmount")),
            error_code=code if status == "TXN_FAILURE" else None,
            error_message=message if status == "TXN_FAILURE" else None,
            http_status=response.status_code,
        )

    # -- webhooks --------------------------------------------------------------------------
    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, credentials: list[Mapping[str, str]]
    ) -> None:
        """Paytm signs webhooks with the merchant key: JSON notifications carry
        head.signature over the `body` member exactly as sent; form-encoded ones (the
        callback format) carry CHECKSUMHASH over the other parameters
        (https://github.com/paytm/paytm-agent-skills/blob/main/references/webhooks.md,
        https://developer.paytm.com/docs/checksum/)."""
        try:
            raw = body.decode()
        except UnicodeDecodeError as exc:
            raise WebhookRejected("malformed", "not text") from exc
        if "json" in _header(headers, "content-type") or raw.lstrip().startswith("{"):
            try:
                head = json.loads(raw).get("head") or {}
            except (ValueError, AttributeError) as exc:
                raise WebhookRejected("malformed", "not JSON") from exc
            signature = str(head.get("signature") or "")
            signed = member_text(raw, "body")
            if signed is None:
                raise WebhookRejected("malformed", "no body member")
        else:
            params = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            signature = params.pop("CHECKSUMHASH", "")
            if not params:
                raise WebhookRejected("malformed", "empty form")
            signed = params_string(params)
        if not signature:
            raise WebhookRejected("missing_signature", "Paytm webhook without a signature")
        for creds in credentials:
            key = creds.get("merchant_key")
            if key and verify_signature(signed, key, signature):
                return
        raise WebhookRejected("bad_signature", "the Paytm signature does not verify")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> ProviderEvent:
        """Payment notifications: orderId, txnId, txnAmount, status TXN_SUCCESS /
        TXN_FAILURE / PENDING, respCode / respMsg, extendInfo (our udf1); refund
        notifications add refId / refundId / refundAmount. Form posts use the callback's
        upper-case names. Paytm sends no event id: the id is a digest of order, txn,
        refund and status."""
        raw = body.decode(errors="replace")
        if raw.lstrip().startswith("{"):
            try:
                data = (json.loads(raw) or {}).get("body") or {}
            except (ValueError, AttributeError) as exc:
                raise WebhookRejected("malformed", "not JSON") from exc
        else:
            form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            data = {
                "orderId": form.get("ORDERID"),
                "txnId": form.get("TXNID"),
                "txnAmount": form.get("TXNAMOUNT"),
                "status": form.get("STATUS"),
                "respCode": form.get("RESPCODE"),
                "respMsg": form.get("RESPMSG"),
            }
        info = data.get("resultInfo") or {}
        status_text = str(data.get("status") or info.get("resultStatus") or "")
        code = data.get("respCode") or info.get("resultCode")
        message = data.get("respMsg") or info.get("resultMsg")
        ident = "|".join(
            str(data.get(k)) for k in ("orderId", "txnId", "refId", "refundId", "status")
        )
        event_id = "paytm_" + hashlib.sha256((ident + status_text).encode()).hexdigest()[:32]
        extend = data.get("extendInfo") or {}
        if data.get("refId") or data.get("refundId"):
            status = _refund_status(status_text)
            return ProviderEvent(
                event_id=event_id,
                kind="refund",
                status=status,
                attempt_id=data.get("orderId"),
                refund_id=data.get("refId"),
                provider_refund_id=data.get("refundId"),
                provider_payment_id=data.get("txnId"),
                amount=paise(data.get("refundAmount")),
                currency="INR",
                error_code=str(code) if status == "failed" and code else None,
                type=f"refund.{status_text.lower()}",
            )
        mapped = {"TXN_SUCCESS": "succeeded", "TXN_FAILURE": "failed"}.get(status_text, "pending")
        return ProviderEvent(
            event_id=event_id,
            kind="payment",
            status=mapped,
            attempt_id=data.get("orderId"),
            payment_id=extend.get("udf1") or extend.get("mercUnqRef"),
            provider_order_id=data.get("orderId"),
            provider_payment_id=data.get("txnId"),
            amount=paise(data.get("txnAmount")),
            currency=str(data.get("currency") or "INR"),
            error_code=str(code) if mapped == "failed" and code else None,
            error_message=str(message) if mapped == "failed" and message else None,
            type=f"payment.{status_text.lower()}",
        )


class _BadKey(Exception):
    """The merchant key is not an AES key, so nothing can be signed (nothing was sent)."""


def _refund_status(status: str) -> RefundStatus:
    if status == "TXN_SUCCESS":
        return "succeeded"
    if status == "TXN_FAILURE":
        return "failed"
    return "pending"


client = PaytmClient()
