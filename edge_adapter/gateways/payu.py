"""PayU India: the credential check and the payment client.

Everything PayU does for us is form-encoded and signed with SHA-512 over `|`-joined fields
plus the merchant salt (https://docs.payu.in/docs/authentication-with-payu-apis):

* `_payment` (hosted checkout and seamless/S2S payments):
  sha512(key|txnid|amount|productinfo|firstname|email|udf1|udf2|udf3|udf4|udf5||||||SALT)
* general web services on `/merchant/postservice.php?form=2` (verify_payment,
  cancel_refund_transaction, check_action_status): sha512(key|command|var1|SALT)
* the response / webhook "reverse hash" PayU sends back:
  sha512(SALT|status||||||udf5|udf4|udf3|udf2|udf1|email|firstname|productinfo|amount|txnid|key),
  prefixed with `additionalCharges|` when PayU added charges
  (https://docs.payu.in/docs/hashing-request-and-response,
  https://docs.payu.in/docs/transaction-callback-1).

Amounts are rupees as a decimal string with two places ("10.00"); we convert from and to
integer paise exactly (no floats). PayU India takes INR only.

Our references: `txnid` is our attempt id (PayU allows at most 25 characters,
https://docs.payu.in/docs/addl_info-payment-apis; a longer attempt id is replaced by a
stable 25-character digest of it), udf1 carries our payment id and udf2 our attempt id,
so both come back in every status answer and webhook.
"""

import hashlib
import secrets
import uuid
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from urllib.parse import parse_qs

import httpx

from .base import Outcome, by_status
from .payments import (
    ChargeRef,
    ChargeRequest,
    ChargeResult,
    ProviderCall,
    ProviderEvent,
    RefundRequest,
    RefundResult,
    RefundStatus,
    VoidResult,
    WebhookRejected,
    by_http_status,
)

COMMAND = "verify_payment"
PayStatus = Literal["succeeded", "failed", "pending", "not_found"]
TXNID_MAX = 25

# PayU error codes our client can surface -> (decision, unified code, message).
# Payment errors: https://docs.payu.in/docs/error-codes and the issuer decline table
# https://docs.payu.in/reference/issuer-decline-error-codes; refund initiation codes:
# https://docs.payu.in/docs/error-codes-for-refund-initiation.
ERROR_MAP: dict[str, tuple[str, str, str]] = {
    "E348": ("fail", "bank_declined", "The issuing bank declined the payment"),
    "E307": ("fail", "bank_declined", "The bank declined the payment (do not honour)"),
    "E1903": ("fail", "bank_declined", "The bank could not authorise the payment"),
    "E207": ("fail", "bank_declined", "The bank refused this transaction"),
    "E310": ("fail", "card_blocked", "The card is reported lost and is blocked"),
    "E1632": ("fail", "invalid_card", "Card details (CVV or expiry) were not valid"),
    "E305": ("fail", "invalid_card", "The card number is not valid"),
    "E4684": ("fail", "invalid_vpa", "The UPI id cannot receive this payment request"),
    "E1602": ("fail", "authentication_failed", "The customer did not complete authentication"),
    "E341": ("next", "merchant_config", "PayU reports the merchant account as invalid"),
    "E715": ("next", "invalid_request", "The amount was refused by the bank"),
    "E907": ("next", "method_unavailable", "The payment method is not enabled"),
    "E1620": ("next", "method_unavailable", "The payment method is not enabled"),
    "E345": ("retry", "provider_error", "A technical failure; the payment can be retried"),
    "E308": ("next", "provider_error", "The transaction failed at the bank"),
    "hash_mismatch": ("next", "authentication_failed", "PayU rejected the key or hash"),
    "request_refused": ("next", "invalid_request", "PayU refused the request"),
}

# Refund initiation codes (cancel_refund_transaction error_code) and what they mean for us.
REFUND_PENDING_CODES = {"101", "102", "112", "122", "126", "127", "225", "226"}


def webservice_hash(key: str, command: str, var1: str, salt: str) -> str:
    return hashlib.sha512(f"{key}|{command}|{var1}|{salt}".encode()).hexdigest()


def payment_hash(fields: Mapping[str, str], salt: str) -> str:
    """The request hash of `_payment` (udf1..udf5, then six empty slots, then the salt)."""
    parts = [fields.get(k, "") for k in ("key", "txnid", "amount", "productinfo", "firstname")]
    parts += [fields.get("email", "")] + [fields.get(f"udf{i}", "") for i in range(1, 6)]
    return hashlib.sha512(("|".join(parts) + "||||||" + salt).encode()).hexdigest()


def reverse_hash(fields: Mapping[str, str], salt: str) -> str:
    """The hash PayU puts on its answers, callbacks and webhooks (the request fields in
    reverse order, the status after the salt)."""
    udfs = [fields.get(f"udf{i}", "") for i in range(5, 0, -1)]
    tail = [fields.get(k, "") for k in ("email", "firstname", "productinfo", "amount", "txnid")]
    text = "|".join([salt, fields.get("status", ""), "", "", "", "", "", *udfs, *tail])
    text += "|" + fields.get("key", "")
    charges = fields.get("additionalCharges") or fields.get("additional_charges")
    if charges:
        text = f"{charges}|{text}"
    return hashlib.sha512(text.encode()).hexdigest()


def txnid_for(attempt_id: str) -> str:
    """Our attempt id as PayU's txnid: unchanged when it fits PayU's 25 characters, else a
    stable digest (so a retry or a lookup always finds the same txnid)."""
    if len(attempt_id) <= TXNID_MAX:
        return attempt_id
    return "a" + hashlib.sha256(attempt_id.encode()).hexdigest()[: TXNID_MAX - 1]


def rupees(paise: int) -> str:
    if paise < 0:
        raise ValueError("amounts are never negative")
    return f"{paise // 100}.{paise % 100:02d}"


def paise(amount: Any) -> int | None:
    """PayU's decimal rupee amount as integer paise; None when absent or not exact."""
    if amount in (None, ""):
        return None
    try:
        value = Decimal(str(amount)) * 100
    except InvalidOperation:
        return None
    if value != value.to_integral_value():
        return None
    return int(value)


async def check(http: httpx.AsyncClient, base_url: str, creds: dict[str, str]) -> Outcome:
    txnid = f"lspcheck{uuid.uuid4().hex[:12]}"
    key, salt = creds["merchant_key"], creds["merchant_salt"]
    response = await http.post(
        f"{base_url}/merchant/postservice.php",
        params={"form": 2},
        data={
            "key": key,
            "command": COMMAND,
            "var1": txnid,
            "hash": webservice_hash(key, COMMAND, txnid, salt),
        },
    )
    outcome = by_status(response)
    if not outcome.ok:
        return outcome
    body = response.json()
    if str(body.get("status")) == "1":
        return Outcome(True, response.status_code)
    message = str(body.get("msg", ""))
    if any(word in message.lower() for word in ("hash", "key", "merchant")):
        return Outcome(False, response.status_code, "auth_failed", "PayU rejected the key or salt")
    return Outcome(False, response.status_code, "unexpected_response", "unexpected PayU status")


def _payment_status(details: Mapping[str, Any]) -> PayStatus:
    """verify_payment's `status`: success | failure | pending (PayU says failed and pending
    transactions are not paid; `unmappedstatus` carries the detail,
    https://docs.payu.in/reference/payment-state-explanations)."""
    status = str(details.get("status", "")).lower()
    if status == "success":
        return "succeeded"
    if status in ("failure", "failed"):
        return "failed"
    if status in ("pending", "in progress", "initiated"):
        return "pending"
    return "not_found"


def _refused(code: str, message: str) -> ChargeResult:
    """A request we do not send: nothing was created."""
    return ChargeResult("error", error_code=code, error_message=message, sent=False)


class PayUClient:
    """PayU India payments (merchant key + salt; no separate webhook secret)."""

    name = "payu"

    def requirements(self, req: ChargeRequest) -> str | None:
        """`_payment` requires key, txnid, amount, productinfo, firstname, email, phone, surl
        and furl (https://docs.payu.in/docs/addl_info-payment-apis); PayU India takes INR
        only. We fill firstname ourselves and use the return URL (else our notify URL) for
        surl/furl, so the customer's email and phone are what a payment may lack."""
        if req.currency != "INR":
            return "PayU India takes INR only"
        missing = [
            name
            for name, value in (
                ("customer email", req.customer.email),
                ("customer phone", req.customer.phone),
                ("return_url", req.return_url or req.notify_url),
            )
            if not value
        ]
        if missing:
            return "PayU's _payment needs the " + ", ".join(missing)
        return None

    async def cancel_charge(self, call: ProviderCall, ref: ChargeRef) -> VoidResult:
        """PayU India has no API to cancel a payment nobody has made yet: the hosted checkout
        form exists only in the customer's browser until it is posted, and the UPI collect
        request cannot be withdrawn. Its cancel web services are for other states:
        cancel_refund_transaction cancels a transaction in `auth` state or refunds a captured
        one (https://docs.payu.in/docs/refund-transaction-api), cancel_qr_payment is for QR
        transactions only (https://docs.payu.in/docs/cancel-qr-transaction-api). So
        `not_supported`, without a call; a late success is still caught and flagged."""
        return VoidResult(
            "not_supported",
            error_code="no_cancel_api",
            error_message="PayU cannot cancel an unpaid transaction",
            sent=False,
        )

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _payment_url(call: ProviderCall) -> str:
        """`_payment` lives on test.payu.in in test and on secure.payu.in in production,
        while the web services are on info.payu.in
        (https://docs.payu.in/docs/prebuilt-checkout-page-integration,
        https://docs.payu.in/docs/refund-transaction-api)."""
        base = call.base_url
        if "://info.payu.in" in base:
            base = base.replace("://info.payu.in", "://secure.payu.in")
        return f"{base}/_payment"

    @staticmethod
    async def _webservice(
        call: ProviderCall, command: str, var1: str, **extra: str
    ) -> httpx.Response:
        key, salt = call.credentials["merchant_key"], call.credentials["merchant_salt"]
        data = {
            "key": key,
            "command": command,
            "var1": var1,
            **extra,
            "hash": webservice_hash(key, command, var1, salt),
        }
        return await call.http.post(
            f"{call.base_url}/merchant/postservice.php", params={"form": 2}, data=data
        )

    @staticmethod
    def _form(call: ProviderCall, req: ChargeRequest) -> dict[str, str] | None:
        """The signed `_payment` fields, or None when PayU's mandatory fields cannot be
        filled (surl/furl need a URL the customer returns to)."""
        back = req.return_url or req.notify_url
        if not back:
            return None
        fields = {
            "key": call.credentials["merchant_key"],
            "txnid": txnid_for(req.attempt_id),
            "amount": rupees(req.amount),
            "productinfo": (req.description or f"Payment {req.payment_id}")[:100],
            "firstname": "Customer",
            "email": req.customer.email or "",
            "phone": req.customer.phone or "",
            "surl": back,
            "furl": back,
            "udf1": req.payment_id,
            "udf2": req.attempt_id,
        }
        fields["hash"] = payment_hash(fields, call.credentials["merchant_salt"])
        return fields

    async def _verify(self, call: ProviderCall, txnid: str) -> ChargeResult:
        """verify_payment for one txnid (https://docs.payu.in/reference/verify_payment_api;
        fields of transaction_details: https://docs.payu.in/docs/addl-info-general-apis)."""
        response = await self._webservice(call, "verify_payment", txnid)
        if transport := by_http_status(response):
            assert isinstance(transport, ChargeResult)
            return transport
        body = response.json()
        if str(body.get("status")) != "1":
            message = str(body.get("msg", ""))
            if "hash" in message.lower() or "key" in message.lower():
                return ChargeResult(
                    "error", error_code="hash_mismatch", error_message=message, sent=False
                )
            return ChargeResult("unknown", error_code="unexpected_response", error_message=message)
        details = (body.get("transaction_details") or {}).get(txnid) or {}
        status = _payment_status(details)
        if status == "not_found":
            return ChargeResult("not_found", http_status=response.status_code)
        failed = status == "failed"
        error_code = (str(details.get("error_code") or "") or None) if failed else None
        message = details.get("error_Message") or details.get("field9")
        return ChargeResult(
            status,
            provider_order_id=txnid,
            provider_payment_id=str(details.get("mihpayid") or "") or None,
            amount=paise(details.get("transaction_amount") or details.get("amt")),
            currency="INR",
            error_code=error_code,
            error_message=str(message) if failed and message else None,
            http_status=response.status_code,
        )

    # -- charges ---------------------------------------------------------------------------
    async def create_charge(self, call: ProviderCall, req: ChargeRequest) -> ChargeResult:
        """UPI with a VPA: PayU's server-to-server UPI collect, `_payment` with pg=UPI,
        bankcode=UPI, vpa and txn_s2s_flow=4, answered in JSON with `metaData.txnStatus`
        and `result.paymentId` (https://docs.payu.in/docs/upi-collection-s2s,
        https://docs.payu.in/reference/_payment_s2s_upi_collection). PayU's statusCode is
        E000 when the collect request went out; anything else is a decline.

        Every other method (card, netbanking, wallet, UPI without a VPA) is PayU Hosted
        Checkout: the customer's *browser* posts the signed form to `_payment` and pays on
        PayU's page (https://docs.payu.in/docs/prebuilt-checkout-page-integration). We
        make no call: the result is `requires_action` with a POST redirect carrying the
        signed fields. Nothing exists at PayU until the browser posts, so a repeat simply
        rebuilds the same form (same txnid, same hash).
        """
        if req.currency != "INR":
            return _refused("currency_unsupported", "PayU India accepts INR only")
        fields = self._form(call, req)
        if fields is None:
            return _refused("missing_return_url", "PayU needs surl/furl (a return URL)")
        txnid = fields["txnid"]
        if not (req.method == "upi" and req.upi_vpa):
            return ChargeResult(
                "requires_action",
                provider_order_id=txnid,
                next_action={
                    "type": "redirect",
                    "url": self._payment_url(call),
                    "method": "POST",
                    "fields": fields,
                },
                amount=req.amount,
                currency="INR",
            )
        data = {
            **fields,
            "pg": "UPI",
            "bankcode": "UPI",
            "vpa": req.upi_vpa,
            "txn_s2s_flow": "4",
            "s2s_client_ip": "127.0.0.1",
            "s2s_device_info": "LightSpeedPay server",
        }
        response = await call.http.post(self._payment_url(call), data=data)
        if transport := by_http_status(response):
            assert isinstance(transport, ChargeResult)
            return transport
        if response.status_code >= 400:
            return ChargeResult(
                "error",
                error_code=f"http_{response.status_code}",
                error_message="PayU refused the request",
                http_status=response.status_code,
                sent=False,
            )
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict) or not isinstance(body.get("metaData"), dict):
            # Not a transaction answer: PayU refused the request itself (bad key or hash,
            # a missing field), so no transaction exists.
            text = str(body.get("error") or body.get("msg") or "") if isinstance(body, dict) else ""
            return ChargeResult(
                "error",
                error_code="hash_mismatch" if "hash" in text.lower() else "request_refused",
                error_message=text or "PayU refused the request",
                http_status=response.status_code,
                sent=False,
            )
        meta = body["metaData"]
        result = body.get("result") or {}
        status = str(meta.get("txnStatus", "")).lower()
        code = str(meta.get("statusCode") or "")
        payment_id = str(result.get("paymentId") or "") or None
        if status in ("pending", "in progress") and code in ("", "E000"):
            return ChargeResult(
                "requires_action",
                provider_order_id=txnid,
                provider_payment_id=payment_id,
                next_action={"type": "upi_collect", "vpa": req.upi_vpa},
                amount=req.amount,
                currency="INR",
                http_status=response.status_code,
            )
        if status == "success":
            return ChargeResult(
                "succeeded",
                provider_order_id=txnid,
                provider_payment_id=payment_id,
                amount=req.amount,
                currency="INR",
                http_status=response.status_code,
            )
        message = str(meta.get("message") or "PayU declined the payment")
        if "hash" in message.lower():
            code = "hash_mismatch"
        return ChargeResult(
            "failed",
            provider_order_id=txnid,
            provider_payment_id=payment_id,
            error_code=code or "failed",
            error_message=message,
            http_status=response.status_code,
        )

    async def find_charge(self, call: ProviderCall, req: ChargeRequest) -> ChargeResult:
        """verify_payment by our txnid: PayU lets us choose the txnid, so it is the lookup
        key (https://docs.payu.in/reference/verify_payment_api). `not_found` when PayU
        answers "Not Found" for it."""
        return await self._verify(call, txnid_for(req.attempt_id))

    async def fetch_status(self, call: ProviderCall, ref: ChargeRef) -> ChargeResult:
        """verify_payment: status success / failure / pending, amount as PayU states it
        (https://docs.payu.in/reference/verify_payment_api)."""
        return await self._verify(call, ref.provider_order_id or txnid_for(ref.attempt_id))

    # -- refunds ---------------------------------------------------------------------------
    async def _mihpayid(self, call: ProviderCall, req: RefundRequest) -> str | RefundResult:
        if req.provider_payment_id:
            return req.provider_payment_id
        found = await self._verify(call, req.provider_order_id or txnid_for(req.attempt_id))
        if found.status == "succeeded" and found.provider_payment_id:
            return found.provider_payment_id
        if found.status in ("error", "unknown"):  # the lookup failed; no refund was sent
            return RefundResult(
                "error",
                error_code=found.error_code,
                error_message=found.error_message,
                http_status=found.http_status,
                sent=False,
            )
        return RefundResult(
            "failed", error_code="not_captured", error_message="no captured PayU payment"
        )

    async def refund(self, call: ProviderCall, req: RefundRequest) -> RefundResult:
        """cancel_refund_transaction: var1 = PayU's mihpayid, var2 = our refund id as the
        merchant token (unique per refund), var3 = the amount in rupees; full and partial
        refunds (https://docs.payu.in/docs/refund-transaction-api). error_code 102 means
        queued, 106 "Token already exists" means this refund id was already taken (we look
        it up instead of failing); other codes are refusals
        (https://docs.payu.in/docs/error-codes-for-refund-initiation)."""
        mihpayid = await self._mihpayid(call, req)
        if isinstance(mihpayid, RefundResult):
            return mihpayid
        response = await self._webservice(
            call,
            "cancel_refund_transaction",
            mihpayid,
            var2=req.refund_id,
            var3=rupees(req.amount),
        )
        if transport := by_http_status(response, refund=True):
            assert isinstance(transport, RefundResult)
            return transport
        body = response.json()
        code = str(body.get("error_code", ""))
        if str(body.get("status")) == "1" or code in REFUND_PENDING_CODES | {"100"}:
            return RefundResult(
                "succeeded" if code == "100" else "pending",
                provider_refund_id=str(body.get("request_id") or "") or None,
                amount=req.amount,
                http_status=response.status_code,
            )
        if code == "106":  # our token exists: the refund was already made
            return await self.fetch_refund(
                call,
                RefundRequest(
                    refund_id=req.refund_id,
                    payment_id=req.payment_id,
                    attempt_id=req.attempt_id,
                    amount=req.amount,
                    currency=req.currency,
                    provider_payment_id=mihpayid,
                ),
            )
        return RefundResult(
            "failed",
            error_code=code or "refund_failed",
            error_message=str(body.get("msg") or "PayU refused the refund"),
            http_status=response.status_code,
        )

    async def fetch_refund(self, call: ProviderCall, req: RefundRequest) -> RefundResult:
        """check_action_status: by PayU's refund request id when we have it, else every
        action on the mihpayid (var2=payuid) matched by our token; states QUEUED,
        IN PROGRESS, REQUESTED, SUCCESS, FAILURE
        (https://docs.payu.in/reference/check_action_status_api_with_payu_id)."""
        if req.provider_refund_id:
            response = await self._webservice(call, "check_action_status", req.provider_refund_id)
        else:
            mihpayid = await self._mihpayid(call, req)
            if isinstance(mihpayid, RefundResult):
                return RefundResult(
                    "not_found" if mihpayid.status == "failed" else mihpayid.status,
                    error_code=mihpayid.error_code,
                    http_status=mihpayid.http_status,
                )
            response = await self._webservice(call, "check_action_status", mihpayid, var2="payuid")
        if transport := by_http_status(response, refund=True):
            assert isinstance(transport, RefundResult)
            return transport
        body = response.json()
        actions = list(_actions(body.get("transaction_details")))
        match = [
            a
            for a in actions
            if str(a.get("request_id", "")) == (req.provider_refund_id or "")
            or str(a.get("token", "")) == req.refund_id
        ]
        if not match:
            return RefundResult("not_found", http_status=response.status_code)
        action = match[0]
        state = str(action.get("status", "")).lower()
        status: RefundStatus = "pending"
        if state == "success":
            status = "succeeded"
        elif state in ("failure", "failed"):
            status = "failed"
        code = str(action.get("error_code") or "") or None
        return RefundResult(
            status,
            provider_refund_id=str(action.get("request_id") or "") or None,
            amount=paise(action.get("amount") or action.get("amt")),
            error_code=code if status == "failed" else None,
            http_status=response.status_code,
        )

    # -- webhooks --------------------------------------------------------------------------
    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, credentials: list[Mapping[str, str]]
    ) -> None:
        """PayU's payment webhooks (and surl/furl callbacks) are form posts carrying the
        reverse hash over the transaction fields with the merchant salt
        (https://docs.payu.in/docs/transaction-callback-1,
        https://docs.payu.in/docs/webhooks). The posted `key` must be the merchant key of
        the credentials that verify. PayU's refund status callbacks carry no hash at all
        (https://docs.payu.in/reference-link/refund-status-callback), so they cannot be
        authenticated and are rejected as `missing_signature`: refunds are reconciled
        with fetch_refund."""
        if body.lstrip().startswith(b"{"):
            raise WebhookRejected("missing_signature", "PayU JSON callbacks carry no hash")
        fields = _form_fields(body)
        if not fields:
            raise WebhookRejected("malformed", "not a PayU form post")
        given = fields.get("hash", "")
        if not given:
            raise WebhookRejected("missing_signature", "PayU webhook without a hash")
        for creds in credentials:
            salt, key = creds.get("merchant_salt"), creds.get("merchant_key")
            if not salt or not key:
                continue
            expected = reverse_hash(fields, salt)
            if secrets.compare_digest(expected, given.lower()) and secrets.compare_digest(
                fields.get("key", ""), key
            ):
                return
        raise WebhookRejected("bad_signature", "the PayU hash does not verify")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> ProviderEvent:
        """A PayU payment webhook: status success / failure / pending, mihpayid, txnid,
        udf1 (our payment id), udf2 (our attempt id), amount in rupees, error / error_Message
        on failure. PayU gives no event id: the id is a digest of mihpayid and status."""
        fields = _form_fields(body)
        status = _payment_status(fields)
        mihpayid = fields.get("mihpayid") or None
        digest = hashlib.sha256(
            f"payu|{mihpayid}|{fields.get('txnid')}|{fields.get('status')}".encode()
        ).hexdigest()[:32]
        failed = status == "failed"
        return ProviderEvent(
            event_id=f"payu_{digest}",
            kind="payment",
            status=status if status != "not_found" else None,
            attempt_id=fields.get("udf2") or fields.get("txnid") or None,
            payment_id=fields.get("udf1") or None,
            provider_order_id=fields.get("txnid") or None,
            provider_payment_id=mihpayid,
            amount=paise(fields.get("amount")),
            currency="INR",
            error_code=(fields.get("error") or fields.get("error_code")) if failed else None,
            error_message=fields.get("error_Message") if failed else None,
            type=f"payment.{fields.get('status', '').lower()}",
        )


def _form_fields(body: bytes) -> dict[str, str]:
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return {}
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


def _actions(node: Any) -> list[dict[str, Any]]:
    """check_action_status nests the actions by request id (and by mihpayid for
    var2=payuid); collect every dict that describes one action."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "request_id" in node or "action" in node:
            found.append(node)
        else:
            for value in node.values():
                found.extend(_actions(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_actions(value))
    return found


client = PayUClient()
