"""Cashfree PG (https://www.cashfree.com/docs/api-reference/payments/latest/): headers
x-client-id / x-client-secret / x-api-version, JSON bodies under /pg.

Amounts: Cashfree takes and returns rupees as JSON numbers with two decimals ("order_amount":
101.12 is INR 101 and 12 paise: https://docs.cashfree.com/docs/create-order). We convert
from and to integer paise exactly: bodies are written with the amount spliced in as a decimal
literal and answers are parsed with `Decimal`, never through a float.

Flows (our attempt id is Cashfree's `order_id` / `link_id`, so the provider dedupes it):
* UPI: POST /pg/orders (409 order_already_exists on a repeat: we fetch that order instead),
  then the Order Pay API POST /pg/orders/sessions with the order's payment_session_id
  (collect with the VPA, or `link` for an intent). A repeat reuses the order and any payment
  already made on it.
* card / netbanking / wallet: a Payment Link (POST /pg/links, link_id = attempt id) whose
  `link_url` is Cashfree's hosted page; Cashfree's web checkout for an order needs its JS SDK
  on a whitelisted domain (https://www.cashfree.com/docs/payments/online/web/redirect), so the
  link is the hosted page a backend can hand out. A paid link creates its own order
  (order_id `CFPay_...`), which refunds then use.

Credential fields: `client_id`, `client_secret`, optional `api_version`. Webhooks are signed
with the client secret, so there is no separate webhook secret.
"""

import base64
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

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
    VoidResult,
    WebhookRejected,
    by_http_status,
    void_by_http_status,
    void_from_state,
)

DEFAULT_API_VERSION = "2023-08-01"
# The Terminate Order API (PATCH /pg/orders/{order_id}) arrived with API version 2023-08-01
# (https://www.cashfree.com/docs/api-reference/payments/previous/v2023-08-01/release-notes).
TERMINATE_SINCE = "2023-08-01"
# Currencies whose minor unit is 1/100: the only ones this client converts.
TWO_DECIMALS = {"INR", "USD", "EUR", "GBP", "AED", "SGD", "AUD", "CAD", "SAR", "QAR", "MYR"}

# error_details.error_code of failed payments (sample payloads:
# https://www.cashfree.com/docs/api-reference/payments/latest/payments/webhooks ; UPI codes:
# https://www.cashfree.com/docs/payments/manage/payment-methods/upi-error-codes ) and API
# error codes (https://www.cashfree.com/docs/api-reference/payments/errors).
ERROR_MAP: dict[str, tuple[str, str, str]] = {
    "TRANSACTION_DECLINED": ("fail", "bank_declined", "the bank or UPI app declined it"),
    "INSUFFICIENT_FUNDS": ("fail", "insufficient_funds", "insufficient funds"),
    "INVALID_VPA": ("fail", "invalid_vpa", "the UPI ID is not valid"),
    "AUTHENTICATION_FAILED": ("fail", "authentication_failed", "authentication failed"),
    "AUTHORIZATION_DECLINED": ("fail", "bank_declined", "authorisation was declined"),
    "RISK_DECLINED": ("fail", "risk_declined", "Cashfree's risk checks declined it"),
    "USER_DROPPED": ("fail", "cancelled", "the customer left without paying"),
    "EXPIRED": ("fail", "expired", "the order or link expired"),
    "TERMINATED": ("fail", "cancelled", "the order was terminated"),
    "CANCELLED": ("fail", "cancelled", "the payment link was cancelled"),
    "BANK_PROCESSING_FAILURE": ("next", "provider_error", "the bank could not process it"),
    "PAYMENT_GATEWAY_ERROR": ("next", "provider_error", "the payment gateway had an error"),
    # our request refused or not takeable (request_error in the SQL map: not counted against
    # the gateway's success rate)
    "customer_phone_required": (
        "next",
        "unsupported_request",
        "Cashfree needs the customer's phone",
    ),
    "unsupported_currency": ("next", "unsupported_request", "Cashfree cannot take this currency"),
    "request_failed": ("next", "invalid_request", "Cashfree refused the request"),
    "request_invalid": ("next", "invalid_request", "Cashfree refused the request"),
    "payment_not_captured": ("fail", "not_refundable", "nothing was captured to refund"),
}


async def check(http: httpx.AsyncClient, base_url: str, creds: dict[str, str]) -> Outcome:
    """Fetch an order that cannot exist: 404 means the credentials were accepted."""
    response = await http.get(
        f"{base_url}/pg/orders/lsp_check_{uuid.uuid4().hex[:16]}", headers=_headers(creds)
    )
    return by_status(response, ok_statuses=(200, 404))


def _headers(creds: Mapping[str, str]) -> dict[str, str]:
    return {
        "x-client-id": creds["client_id"],
        "x-client-secret": creds["client_secret"],
        "x-api-version": creds.get("api_version") or DEFAULT_API_VERSION,
        "accept": "application/json",
    }


# -- money ---------------------------------------------------------------------------------------


def rupees(paise: int) -> Decimal:
    """Integer minor units -> a two-decimal amount, exactly."""
    return Decimal(paise).scaleb(-2).quantize(Decimal("0.01"))


def paise(amount: Any) -> int:
    """A Cashfree amount (number or string) -> integer minor units; refuses fractions of a
    paisa rather than rounding money."""
    value = Decimal(str(amount)) * 100
    if value != value.to_integral_value():
        raise ValueError(f"amount {amount!r} is not a whole number of paise")
    return int(value)


_MARK = re.compile(r'"@@dec:(-?[0-9]+\.[0-9]+)@@"')


def dumps(body: Mapping[str, Any]) -> bytes:
    """JSON with every Decimal written as a plain number literal (e.g. 101.10)."""

    def mark(value: Any) -> str:
        if isinstance(value, Decimal):
            return f"@@dec:{value}@@"
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")

    return _MARK.sub(r"\1", json.dumps(body, default=mark)).encode()


def loads(content: bytes | str) -> Any:
    return json.loads(content, parse_float=Decimal)


# -- answers -------------------------------------------------------------------------------------


def _error(response: httpx.Response) -> tuple[str, str]:
    try:
        body = loads(response.content)
    except ValueError:
        body = {}
    return str(body.get("code") or f"http_{response.status_code}"), str(body.get("message") or "")


def _charge_transport(response: httpx.Response) -> ChargeResult | None:
    result = by_http_status(response)
    return result if isinstance(result, ChargeResult) else None


def _refund_transport(response: httpx.Response) -> RefundResult | None:
    result = by_http_status(response, refund=True)
    return result if isinstance(result, RefundResult) else None


def _customer_id(req: ChargeRequest) -> str:
    """Cashfree requires an alphanumeric customer_id; a stable digest of the contact keeps one
    customer one id without sending anything readable."""
    seed = (req.customer.phone or "") + "|" + (req.customer.email or "")
    return "c" + hashlib.sha256(seed.encode()).hexdigest()[:24]


def _from_payment(
    payment: Mapping[str, Any], order_id: str, http_status: int | None = None
) -> ChargeResult:
    """A payment entity: payment_status SUCCESS | NOT_ATTEMPTED | PENDING | FAILED | CANCELLED
    | VOID | USER_DROPPED (https://www.cashfree.com/docs/api-reference/payments/latest/payments/get-payments-for-order)."""
    status = payment["payment_status"]
    result = ChargeResult(
        "requires_action",
        provider_order_id=order_id,
        provider_payment_id=str(payment["cf_payment_id"]),
        amount=paise(payment["payment_amount"]),
        currency=str(payment.get("payment_currency") or "INR").upper(),
        http_status=http_status,
    )
    if status == "SUCCESS":
        result.status = "succeeded"
    elif status in ("PENDING", "NOT_ATTEMPTED"):
        upi = (payment.get("payment_method") or {}).get("upi") or {}
        if upi.get("channel") == "collect" and upi.get("upi_id"):
            result.next_action = {"type": "upi_collect", "vpa": upi["upi_id"]}
        else:
            result.status = "pending"
    elif status in ("FAILED", "CANCELLED", "VOID", "USER_DROPPED"):
        details = payment.get("error_details") or {}
        result.status = "failed"
        result.error_code = details.get("error_code") or status
        result.error_message = details.get("error_description") or payment.get("payment_message")
    else:
        raise ValueError(f"unknown Cashfree payment status {status!r}")
    return result


def _from_link(link: Mapping[str, Any], http_status: int | None = None) -> ChargeResult:
    """link_status ACTIVE | PAID | PARTIALLY_PAID | EXPIRED | TERMINATED | CANCELLED
    (https://www.cashfree.com/docs/api-reference/payments/latest/payment-links/fetch-payment-link-details)."""
    status = link["link_status"]
    result = ChargeResult(
        "requires_action",
        provider_order_id=link["link_id"],
        amount=paise(link["link_amount"]),
        currency=str(link.get("link_currency") or "INR").upper(),
        http_status=http_status,
    )
    if status == "ACTIVE":
        result.next_action = {"type": "redirect", "url": link["link_url"]}
    elif status == "PAID":
        result.status = "succeeded"
    elif status == "PARTIALLY_PAID":
        result.status = "pending"
    elif status in ("EXPIRED", "CANCELLED", "TERMINATED"):
        result.status = "failed"
        result.error_code = status
        result.error_message = f"the payment link is {status.lower()}"
    else:
        raise ValueError(f"unknown Cashfree link status {status!r}")
    return result


def _latest(payments: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The payment that speaks for the attempt: a successful one, else one in progress, else
    the newest."""
    if not payments:
        return None
    for wanted in ("SUCCESS", "PENDING", "NOT_ATTEMPTED"):
        for p in payments:
            if p["payment_status"] == wanted:
                return p
    return payments[0]


class CashfreeClient:
    name = "cashfree"

    # -- what a charge needs, and cancelling one ------------------------------------------------

    def requirements(self, req: ChargeRequest) -> str | None:
        """Orders and payment links both require customer_details.customer_phone
        (https://www.cashfree.com/docs/api-reference/payments/latest/orders/create,
        https://www.cashfree.com/docs/api-reference/payments/latest/payment-links/create-payment-link);
        amounts are two-decimal rupee figures, so only currencies with a 1/100 minor unit are
        converted (module docstring)."""
        if not req.customer.phone:
            return "Cashfree needs the customer's phone (customer_details.customer_phone)"
        if req.currency not in TWO_DECIMALS:
            return f"Cashfree cannot take {req.currency} here"
        return None

    async def cancel_charge(self, call: ProviderCall, ref: ChargeRef) -> VoidResult:
        """Hosted page (a payment link, link_id = attempt id): POST /pg/links/{link_id}/cancel
        (https://www.cashfree.com/docs/api-reference/payments/latest/payment-links/cancel),
        answered with the link (link_status CANCELLED). UPI (an order, order_id = attempt
        id): the Terminate Order API, PATCH /pg/orders/{order_id} {"order_status":
        "TERMINATED"}, answered with the order, whose order_status may still be
        TERMINATION_REQUESTED (asked again later)
        (https://www.cashfree.com/docs/api-reference/payments/latest/orders/terminate-order);
        an account pinned to an API version before 2023-08-01 has no such API
        (`not_supported`). On a refusal the object is fetched and its state decides."""
        is_order = ref.method == "upi"
        if ref.method is None:  # which flow made it? a link with our id says
            link, failed = await self._link(call, ref.attempt_id)
            if failed:
                return VoidResult("unknown", error_code=failed.error_code)
            is_order = link is None
        if is_order:
            version = call.credentials.get("api_version") or DEFAULT_API_VERSION
            if version < TERMINATE_SINCE:
                return VoidResult(
                    "not_supported",
                    error_code="api_version",
                    error_message=f"Cashfree API version {version} cannot terminate orders",
                    sent=False,
                )
            return await self._terminate(call, ref.attempt_id)
        return await self._cancel_link(call, ref.attempt_id)

    async def _cancel_link(self, call: ProviderCall, link_id: str) -> VoidResult:
        response = await self._post(call, f"/links/{link_id}/cancel", {})
        if response.status_code == 200:
            return self._link_void(loads(response.content), 200)
        if transport := void_by_http_status(response):
            return transport
        code, _ = _error(response)
        link, failed = await self._link(call, link_id)
        if failed:
            return VoidResult("unknown", error_code=failed.error_code)
        if link is None:
            return VoidResult("voided", error_code="link_not_found", http_status=404)
        result = self._link_void(link, response.status_code)
        if result.status == "failed":
            result.error_code = code
        return result

    async def _terminate(self, call: ProviderCall, order_id: str) -> VoidResult:
        headers = _headers(call.credentials)
        headers["content-type"] = "application/json"
        response = await call.http.patch(
            f"{call.base_url}/pg/orders/{order_id}",
            content=dumps({"order_status": "TERMINATED"}),
            headers=headers,
        )
        if response.status_code == 200:
            return self._order_void(loads(response.content), 200)
        if response.status_code == 404:
            return VoidResult("voided", error_code="order_not_found", http_status=404)
        if transport := void_by_http_status(response):
            return transport
        code, _ = _error(response)
        order, failed = await self._order(call, order_id)
        if failed:
            return VoidResult("unknown", error_code=failed.error_code)
        if order is None:
            return VoidResult("voided", error_code="order_not_found", http_status=404)
        result = self._order_void(order, response.status_code)
        if result.status == "failed":
            result.error_code = code
        return result

    @staticmethod
    def _link_void(link: Mapping[str, Any], http_status: int) -> VoidResult:
        """link_status ACTIVE | PAID | PARTIALLY_PAID | EXPIRED | TERMINATED | CANCELLED."""
        return void_from_state(
            str(link["link_status"]),
            voided=("CANCELLED", "EXPIRED", "TERMINATED"),
            paid=("PAID", "PARTIALLY_PAID"),
            http_status=http_status,
        )

    @staticmethod
    def _order_void(order: Mapping[str, Any], http_status: int) -> VoidResult:
        """order_status ACTIVE | PAID | EXPIRED | TERMINATED | TERMINATION_REQUESTED."""
        return void_from_state(
            str(order["order_status"]),
            voided=("TERMINATED", "EXPIRED"),
            paid=("PAID",),
            pending=("TERMINATION_REQUESTED",),
            http_status=http_status,
        )

    async def _get(self, call: ProviderCall, path: str) -> httpx.Response:
        return await call.http.get(f"{call.base_url}/pg{path}", headers=_headers(call.credentials))

    async def _post(
        self, call: ProviderCall, path: str, body: Mapping[str, Any], auth: bool = True
    ) -> httpx.Response:
        headers = (
            _headers(call.credentials)
            if auth
            else {"x-api-version": call.credentials.get("api_version") or DEFAULT_API_VERSION}
        )
        headers["content-type"] = "application/json"
        return await call.http.post(
            f"{call.base_url}/pg{path}", content=dumps(body), headers=headers
        )

    async def _order(self, call: ProviderCall, order_id: str) -> tuple[Any, ChargeResult | None]:
        """GET /pg/orders/{order_id} (https://www.cashfree.com/docs/api-reference/payments/latest/orders/get);
        (None, None) when Cashfree has no such order."""
        response = await self._get(call, f"/orders/{order_id}")
        if response.status_code == 404:
            return None, None
        if transport := _charge_transport(response):
            return None, transport
        if response.status_code >= 400:
            code, message = _error(response)
            return None, ChargeResult("unknown", error_code=code, error_message=message)
        return loads(response.content), None

    async def _payments(
        self, call: ProviderCall, order_id: str
    ) -> tuple[list[Any], ChargeResult | None]:
        """GET /pg/orders/{order_id}/payments: every payment attempt on the order."""
        response = await self._get(call, f"/orders/{order_id}/payments")
        if transport := _charge_transport(response):
            return [], transport
        if response.status_code >= 400:
            code, message = _error(response)
            return [], ChargeResult("unknown", error_code=code, error_message=message)
        return list(loads(response.content)), None

    async def _link(self, call: ProviderCall, link_id: str) -> tuple[Any, ChargeResult | None]:
        """GET /pg/links/{link_id}; (None, None) when unknown."""
        response = await self._get(call, f"/links/{link_id}")
        if response.status_code == 404:
            return None, None
        if transport := _charge_transport(response):
            return None, transport
        if response.status_code >= 400:
            code, message = _error(response)
            return None, ChargeResult("unknown", error_code=code, error_message=message)
        return loads(response.content), None

    async def _link_order(
        self, call: ProviderCall, link_id: str
    ) -> tuple[Any, ChargeResult | None]:
        """The paid order a payment link created: GET /pg/links/{link_id}/orders
        (https://www.cashfree.com/docs/api-reference/payments/latest/payment-links/get-orders-for-a-payment-link)."""
        response = await self._get(call, f"/links/{link_id}/orders")
        if transport := _charge_transport(response):
            return None, transport
        if response.status_code >= 400:
            code, message = _error(response)
            return None, ChargeResult("unknown", error_code=code, error_message=message)
        orders = loads(response.content)
        paid = [o for o in orders if o.get("order_status") == "PAID"]
        return (paid[0] if paid else None), None

    async def _order_state(
        self, call: ProviderCall, order: Mapping[str, Any]
    ) -> ChargeResult | None:
        """What an existing order says about the attempt; None when it has no payment yet."""
        order_id = order["order_id"]
        if order["order_status"] in ("EXPIRED", "TERMINATED", "TERMINATION_REQUESTED"):
            code = "EXPIRED" if order["order_status"] == "EXPIRED" else "TERMINATED"
            return ChargeResult(
                "failed",
                provider_order_id=order_id,
                amount=paise(order["order_amount"]),
                currency=str(order["order_currency"]).upper(),
                error_code=code,
                error_message=f"the order is {order['order_status'].lower()}",
            )
        payments, failed = await self._payments(call, order_id)
        if failed:
            return failed
        payment = _latest(payments)
        return _from_payment(payment, order_id) if payment else None

    # -- the interface -------------------------------------------------------------------------

    async def create_charge(self, call: ProviderCall, req: ChargeRequest) -> ChargeResult:
        if not req.customer.phone:
            return ChargeResult(
                "error",
                error_code="customer_phone_required",
                sent=False,
                error_message="Cashfree requires customer_details.customer_phone",
            )
        if req.currency not in TWO_DECIMALS:
            return ChargeResult("error", error_code="unsupported_currency", sent=False)
        if req.method == "upi":
            return await self._create_upi(call, req)
        return await self._create_link(call, req)

    def _customer(self, req: ChargeRequest) -> dict[str, Any]:
        details = {"customer_id": _customer_id(req), "customer_phone": req.customer.phone}
        if req.customer.email:
            details["customer_email"] = req.customer.email
        return details

    async def _create_upi(self, call: ProviderCall, req: ChargeRequest) -> ChargeResult:
        """POST /pg/orders (https://www.cashfree.com/docs/api-reference/payments/latest/orders/create),
        then POST /pg/orders/sessions
        (https://www.cashfree.com/docs/api-reference/payments/latest/payments/pay): upi
        channel `collect` with `upi_id`, or `link` whose data.payload carries the upi:// intent."""
        meta = {
            k: v for k, v in (("return_url", req.return_url), ("notify_url", req.notify_url)) if v
        }
        body: dict[str, Any] = {
            "order_id": req.attempt_id,
            "order_amount": rupees(req.amount),
            "order_currency": req.currency,
            "customer_details": self._customer(req),
            "order_note": (req.description or f"Payment {req.payment_id}")[:200],
            "order_tags": {"payment_id": req.payment_id, "attempt_id": req.attempt_id},
        }
        if meta:
            body["order_meta"] = meta
        response = await self._post(call, "/orders", body)
        if response.status_code == 409:  # order_already_exists: this attempt's order
            order, failed = await self._order(call, req.attempt_id)
            if failed or order is None:
                return failed or ChargeResult("unknown", error_code="order_already_exists")
            if existing := await self._order_state(call, order):
                return existing
        elif transport := _charge_transport(response):
            return transport
        elif response.status_code >= 400:
            code, message = _error(response)
            return ChargeResult(
                "error",
                error_code=code,
                error_message=message,
                http_status=response.status_code,
                sent=False,
            )
        else:
            order = loads(response.content)
        upi: dict[str, Any] = (
            {"channel": "collect", "upi_id": req.upi_vpa} if req.upi_vpa else {"channel": "link"}
        )
        pay = await self._post(
            call,
            "/orders/sessions",
            {"payment_session_id": order["payment_session_id"], "payment_method": {"upi": upi}},
            auth=False,  # the Order Pay API is authorised by the payment session alone
        )
        if transport := _charge_transport(pay):
            transport.provider_order_id = req.attempt_id
            return transport
        if pay.status_code >= 400:
            code, message = _error(pay)
            return ChargeResult(
                "failed",
                provider_order_id=req.attempt_id,
                error_code=code,
                error_message=message,
                http_status=pay.status_code,
            )
        answer = loads(pay.content)
        result = ChargeResult(
            "requires_action",
            provider_order_id=req.attempt_id,
            provider_payment_id=str(answer["cf_payment_id"]),
            amount=req.amount,
            currency=req.currency,
            http_status=pay.status_code,
        )
        if req.upi_vpa:
            result.next_action = {"type": "upi_collect", "vpa": req.upi_vpa}
        else:
            payload = (answer.get("data") or {}).get("payload") or {}
            result.next_action = {"type": "upi_intent", "url": payload["default"]}
        return result

    async def _create_link(self, call: ProviderCall, req: ChargeRequest) -> ChargeResult:
        """POST /pg/links (https://www.cashfree.com/docs/api-reference/payments/latest/payment-links/create-payment-link)."""
        meta = {
            k: v for k, v in (("return_url", req.return_url), ("notify_url", req.notify_url)) if v
        }
        body: dict[str, Any] = {
            "link_id": req.attempt_id,
            "link_amount": rupees(req.amount),
            "link_currency": req.currency,
            "link_purpose": (req.description or f"Payment {req.payment_id}")[:500],
            "customer_details": {
                k: v for k, v in self._customer(req).items() if k != "customer_id"
            },
            "link_partial_payments": False,
            "link_notify": {"send_sms": False, "send_email": False},
            "link_auto_reminders": False,
            "link_notes": {"payment_id": req.payment_id, "attempt_id": req.attempt_id},
        }
        if meta:
            body["link_meta"] = meta
        response = await self._post(call, "/links", body)
        if response.status_code == 409:  # link_id already used: it is this attempt's link
            link, failed = await self._link(call, req.attempt_id)
            if failed or link is None:
                return failed or ChargeResult("unknown", error_code="link_already_exists")
            return await self._link_state(call, link)
        if transport := _charge_transport(response):
            return transport
        if response.status_code >= 400:
            code, message = _error(response)
            return ChargeResult(
                "error",
                error_code=code,
                error_message=message,
                http_status=response.status_code,
                sent=False,
            )
        return _from_link(loads(response.content), response.status_code)

    async def _link_state(self, call: ProviderCall, link: Mapping[str, Any]) -> ChargeResult:
        result = _from_link(link)
        if result.status != "succeeded":
            return result
        order, failed = await self._link_order(call, link["link_id"])
        if failed or order is None:
            return failed or result
        payments, failed = await self._payments(call, order["order_id"])
        if failed:
            return failed
        paid = _latest(payments)
        result.provider_order_id = order["order_id"]
        result.provider_payment_id = str(paid["cf_payment_id"]) if paid else None
        return result

    async def find_charge(self, call: ProviderCall, req: ChargeRequest) -> ChargeResult:
        """By our own ids: the order with order_id = attempt id (UPI), or the payment link with
        link_id = attempt id (hosted page). An order without a payment is `not_found` (nothing
        can be charged on it; `create_charge` reuses it)."""
        if req.method != "upi":
            link, failed = await self._link(call, req.attempt_id)
            if failed:
                return failed
            return await self._link_state(call, link) if link else ChargeResult("not_found")
        order, failed = await self._order(call, req.attempt_id)
        if failed:
            return failed
        if order is None:
            return ChargeResult("not_found")
        state = await self._order_state(call, order)
        return state or ChargeResult("not_found", provider_order_id=req.attempt_id)

    async def fetch_status(self, call: ProviderCall, ref: ChargeRef) -> ChargeResult:
        """The order (ours, or the `CFPay_` order a paid link made), else the payment link."""
        order_id = ref.provider_order_id
        if not order_id or order_id == ref.attempt_id:
            order_id = ref.attempt_id
        order, failed = await self._order(call, order_id)
        if failed:
            return failed
        if order is not None:
            state = await self._order_state(call, order)
            return state or ChargeResult(
                "requires_action",
                provider_order_id=order_id,
                amount=paise(order["order_amount"]),
                currency=str(order["order_currency"]),
            )
        link, failed = await self._link(call, ref.attempt_id)
        if failed:
            return failed
        return await self._link_state(call, link) if link else ChargeResult("not_found")

    async def _refund_order(self, call: ProviderCall, req: RefundRequest) -> str | RefundResult:
        if req.provider_order_id and req.provider_order_id != req.attempt_id:
            return req.provider_order_id
        order, failed = await self._order(call, req.attempt_id)
        if order is not None:
            return str(order["order_id"])
        if failed is None:
            paid, failed = await self._link_order(call, req.attempt_id)
            if paid is not None:
                return str(paid["order_id"])
        return RefundResult(
            "unknown" if failed and failed.status == "unknown" else "error",
            error_code=(failed.error_code if failed else None) or "payment_not_captured",
            error_message="no paid Cashfree order for this attempt",
            sent=False,
        )

    async def refund(self, call: ProviderCall, req: RefundRequest) -> RefundResult:
        """POST /pg/orders/{order_id}/refunds with refund_id = our refund id
        (https://www.cashfree.com/docs/api-reference/payments/latest/refunds/create): Cashfree
        keeps refund ids unique per order, so a repeat returns the refund it already made.
        refund_status: SUCCESS | PENDING | CANCELLED | ONHOLD."""
        order_id = await self._refund_order(call, req)
        if isinstance(order_id, RefundResult):
            return order_id
        body: dict[str, Any] = {
            "refund_amount": rupees(req.amount),
            "refund_id": req.refund_id,
            "refund_note": (req.reason or f"Refund {req.refund_id}")[:100],
            "refund_speed": "STANDARD",
        }
        response = await self._post(call, f"/orders/{order_id}/refunds", body)
        if response.status_code == 409:
            return await self._fetch_refund(call, order_id, req.refund_id)
        if transport := _refund_transport(response):
            return transport
        if response.status_code >= 400:
            code, message = _error(response)
            return RefundResult(
                "failed", error_code=code, error_message=message, http_status=response.status_code
            )
        return _from_refund(loads(response.content), response.status_code)

    async def _fetch_refund(
        self, call: ProviderCall, order_id: str, refund_id: str
    ) -> RefundResult:
        """GET /pg/orders/{order_id}/refunds/{refund_id}
        (https://www.cashfree.com/docs/api-reference/payments/latest/refunds/get)."""
        response = await self._get(call, f"/orders/{order_id}/refunds/{refund_id}")
        if response.status_code == 404:
            return RefundResult("not_found", http_status=404)
        if transport := _refund_transport(response):
            return transport
        if response.status_code >= 400:
            code, message = _error(response)
            return RefundResult(
                "unknown", error_code=code, error_message=message, http_status=response.status_code
            )
        return _from_refund(loads(response.content), response.status_code)

    async def fetch_refund(self, call: ProviderCall, req: RefundRequest) -> RefundResult:
        order_id = await self._refund_order(call, req)
        if isinstance(order_id, RefundResult):
            return order_id
        return await self._fetch_refund(call, order_id, req.refund_id)

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, credentials: list[Mapping[str, str]]
    ) -> None:
        """x-webhook-signature = base64 HMAC-SHA256 of x-webhook-timestamp + raw body, keyed
        with the client secret that was active when the event was sent. Cashfree documents no
        timestamp tolerance, so none is enforced; event ids dedupe replays.
        https://www.cashfree.com/docs/api-reference/payments/latest/webhooks/signature-verification
        https://www.cashfree.com/docs/api-reference/webhooks/payloads-and-signatures
        """
        h = {k.lower(): v for k, v in headers.items()}
        given, stamp = h.get("x-webhook-signature"), h.get("x-webhook-timestamp")
        if not given or not stamp:
            raise WebhookRejected("missing_signature", "x-webhook-signature/timestamp missing")
        signed = stamp.encode() + body
        for creds in credentials:
            secret = creds.get("client_secret")
            if not secret:
                continue
            mac = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
            if hmac.compare_digest(base64.b64encode(mac).decode(), given.strip()):
                return
        raise WebhookRejected("bad_signature", "no client secret matches the signature")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> ProviderEvent:
        """PAYMENT_SUCCESS_WEBHOOK / PAYMENT_FAILED_WEBHOOK / PAYMENT_USER_DROPPED_WEBHOOK
        (https://www.cashfree.com/docs/api-reference/payments/latest/payments/webhooks),
        PAYMENT_LINK_EVENT (.../payment-links/webhooks), REFUND_STATUS_WEBHOOK
        (.../refunds/webhooks). The event id is the x-idempotency-key header when present,
        else a digest of the fields that identify the event."""
        h = {k.lower(): v for k, v in headers.items()}
        event = loads(body)
        kind = str(event.get("type"))
        data = event.get("data") or {}
        base = ProviderEvent(event_id="", kind="other", type=kind)
        identity: list[str] = [kind]
        if kind.startswith("PAYMENT_") and kind != "PAYMENT_LINK_EVENT":
            order, payment = data.get("order") or {}, data.get("payment") or {}
            tags = order.get("order_tags") or {}
            base.kind = "payment"
            base.status = {
                "PAYMENT_SUCCESS_WEBHOOK": "succeeded",
                "PAYMENT_FAILED_WEBHOOK": "failed",
                "PAYMENT_USER_DROPPED_WEBHOOK": "failed",
            }.get(kind)
            order_id = str(order.get("order_id") or "")
            # Our orders carry the attempt id as order_id (and in order_tags); the CFPay_
            # orders a payment link creates do not.
            base.attempt_id = tags.get("attempt_id") or (
                None if order_id.startswith("CFPay_") else order_id or None
            )
            base.payment_id = tags.get("payment_id")
            base.provider_order_id = order.get("order_id")
            base.provider_payment_id = str(payment.get("cf_payment_id") or "") or None
            base.amount = paise(payment.get("payment_amount", order.get("order_amount")))
            base.currency = str(payment.get("payment_currency") or "INR").upper()
            if base.status == "failed":
                details = data.get("error_details") or {}
                base.error_code = details.get("error_code") or (
                    "USER_DROPPED" if kind == "PAYMENT_USER_DROPPED_WEBHOOK" else None
                )
                base.error_message = details.get("error_description")
            identity += [str(base.provider_order_id), str(base.provider_payment_id)]
        elif kind == "PAYMENT_LINK_EVENT":
            notes = data.get("link_notes") or {}
            order = data.get("order") or {}
            status = data.get("link_status")
            base.kind = "payment"
            base.status = {"PAID": "succeeded", "PARTIALLY_PAID": "pending"}.get(
                status, "failed" if status in ("EXPIRED", "CANCELLED") else None
            )
            base.attempt_id = data.get("link_id")
            base.payment_id = notes.get("payment_id")
            base.provider_order_id = order.get("order_id")
            base.provider_payment_id = str(order.get("transaction_id") or "") or None
            base.amount = paise(data.get("link_amount_paid") or data.get("link_amount"))
            base.currency = str(data.get("link_currency") or "INR").upper()
            if base.status == "failed":
                base.error_code = status
            identity += [str(base.attempt_id), str(status), str(base.provider_order_id)]
        elif kind == "REFUND_STATUS_WEBHOOK":
            refund = data.get("refund") or {}
            base.kind = "refund"
            base.status = {"SUCCESS": "succeeded", "PENDING": "pending", "ONHOLD": "pending"}.get(
                refund.get("refund_status"), "failed"
            )
            base.refund_id = refund.get("refund_id")
            base.provider_refund_id = str(refund.get("cf_refund_id") or "") or None
            base.provider_order_id = refund.get("order_id")
            base.provider_payment_id = str(refund.get("cf_payment_id") or "") or None
            base.amount = paise(refund["refund_amount"])
            base.currency = str(refund.get("refund_currency") or "INR").upper()
            identity += [str(base.refund_id), str(refund.get("refund_status"))]
        base.event_id = h.get("x-idempotency-key") or (
            "sha256:" + hashlib.sha256("|".join(identity).encode()).hexdigest()
        )
        return base


def _from_refund(refund: Mapping[str, Any], http_status: int | None = None) -> RefundResult:
    status = {
        "SUCCESS": "succeeded",
        "PENDING": "pending",
        "ONHOLD": "pending",
        "CANCELLED": "failed",
    }.get(refund["refund_status"])
    if status is None:
        raise ValueError(f"unknown Cashfree refund status {refund['refund_status']!r}")
    return RefundResult(
        status,  # type: ignore[arg-type]
        provider_refund_id=str(refund["cf_refund_id"]),
        amount=paise(refund["refund_amount"]),
        error_message=refund.get("status_description"),
        http_status=http_status,
    )


client = CashfreeClient()
