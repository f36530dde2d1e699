"""The payment interface every provider client implements, and the runner that calls it.

A provider module exposes `client`, an object with these methods (see `Provider`):

    create_charge(call, req)   create the provider's order / payment for one attempt
    find_charge(call, req)     look that attempt up by *our* reference before creating again
    fetch_status(call, ref)    the provider's current view of an attempt (reconciliation)
    refund(call, req)          refund (part of) a captured payment
    fetch_refund(call, req)    the provider's current view of a refund
    requirements(req)          None when this provider can take the charge, else why not
                               (what its API needs that the payment lacks): the worker then
                               skips the gateway without calling it
    cancel_charge(call, ref)   after the merchant cancelled: cancel or expire what the attempt
                               created, so the customer can no longer pay it (VoidResult)
    verify_webhook(headers, body, credentials)   the provider's own signature scheme
    parse_webhook(headers, body)                 what an inbound event says, normalised

`run_provider_call` wraps every outbound method with a bounded timeout, latency measurement
and the transport outcomes the payment worker decides on:

* `error` with `sent=False`: the request certainly did not create anything (connection
  refused, DNS failure, 429, 401/403, a 4xx validation answer). Safe to try another gateway.
* `unknown`: the provider may or may not have acted (timeout after the request was sent,
  5xx, an answer we could not parse). Never cascade on this: look the attempt up with
  `find_charge` first.

Money is always integer minor units (paise for INR) in our types; each client converts to
and from the provider's own representation and says so in its docstring.
"""

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

import httpx

ChargeStatus = Literal[
    "succeeded",  # money captured (auto-capture)
    "failed",  # declined or errored: no money moved
    "requires_action",  # the customer must act: next_action says how
    "pending",  # accepted; the outcome arrives later (webhook or status check)
    "not_found",  # lookups only: the provider has no such order / payment
    "error",  # the call failed without creating anything (see module docstring)
    "unknown",  # the call may or may not have created something
]
RefundStatus = Literal["pending", "succeeded", "failed", "not_found", "error", "unknown"]
VoidStatus = Literal[
    "voided",  # the provider cancelled / expired it (or never had it): nothing can be paid
    "not_supported",  # the provider has no such API (no call was made)
    "already_paid",  # the customer paid first: look the charge up and record the success
    "failed",  # the provider refused for good (the late-success path still catches a payment)
    "error",  # transient, nothing changed: retry later
    "unknown",  # transient, the provider may have acted: retry later (a void is idempotent)
]


@dataclass(frozen=True)
class Customer:
    """Personal data: passed to the provider, never logged."""

    email: str | None = None
    phone: str | None = None
    ip: str | None = None  # the customer's IP (Razorpay's S2S UPI asks for it)
    user_agent: str | None = None


@dataclass(frozen=True)
class ChargeRequest:
    """One charge attempt. `attempt_id` (ours, e.g. `att_...`, at most 40 chars of
    [A-Za-z0-9_]) is what the provider must echo back: as its order id where the provider
    lets us choose one (Cashfree order_id, PhonePe merchantOrderId, Paytm orderId, PayU
    txnid, the sandbox's reference), or as the receipt / idempotency key where it does not
    (Razorpay receipt, Stripe Idempotency-Key and metadata). `payment_id` (`pay_...`) also
    travels in the provider's free-form fields (notes, udf, metadata) for support and for
    the fake server's per-payment charge count."""

    payment_id: str
    attempt_id: str
    amount: int  # minor units
    currency: str  # ISO 4217, upper case
    method: Literal["upi", "card", "netbanking", "wallet"]
    upi_vpa: str | None = None  # UPI collect; absent for UPI intent / redirects
    customer: Customer = field(default_factory=Customer)
    description: str | None = None
    return_url: str | None = None  # where the hosted page sends the customer back
    notify_url: str | None = None  # our inbound webhook URL for this gateway


@dataclass(frozen=True)
class ChargeRef:
    """What we know about an attempt at the provider, for status checks and voids."""

    payment_id: str
    attempt_id: str
    amount: int
    currency: str
    provider_order_id: str | None = None
    provider_payment_id: str | None = None
    method: str | None = None  # the payment's method, when known (which flow created it)


@dataclass
class ChargeResult:
    status: ChargeStatus
    provider_order_id: str | None = None
    provider_payment_id: str | None = None
    # {"type": "redirect", "url": ...} | {"type": "upi_intent", "url": "upi://pay?..."}
    # | {"type": "upi_collect", "vpa": ...}
    next_action: dict[str, Any] | None = None
    amount: int | None = None  # as the provider states it, in minor units
    currency: str | None = None
    error_code: str | None = None  # the provider's own code, or a transport class below
    error_message: str | None = None
    http_status: int | None = None
    sent: bool = True  # False: the request never reached a point where it could act
    latency_ms: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RefundRequest:
    refund_id: str  # ours (`rfd_...`): the provider's refund id / idempotency key
    payment_id: str
    attempt_id: str
    amount: int  # minor units
    currency: str
    provider_order_id: str | None = None
    provider_payment_id: str | None = None
    provider_refund_id: str | None = None  # for fetch_refund
    reason: str | None = None


@dataclass
class RefundResult:
    status: RefundStatus
    provider_refund_id: str | None = None
    amount: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    http_status: int | None = None
    sent: bool = True
    latency_ms: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class VoidResult:
    """A provider's answer to cancel_charge. `error` / `unknown` are transient (the void job
    retries through the queue); every other status is final for the attempt."""

    status: VoidStatus
    error_code: str | None = None
    error_message: str | None = None
    http_status: int | None = None
    sent: bool = True
    latency_ms: int = 0

    @property
    def transient(self) -> bool:
        return self.status in ("error", "unknown")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ProviderEvent:
    """An inbound provider webhook, normalised. `event_id` dedupes redeliveries: the
    provider's own event id where it has one, else a stable digest of what identifies the
    event (never random)."""

    event_id: str
    kind: Literal["payment", "refund", "other"]
    status: str | None = None  # payments: succeeded | failed | pending; refunds likewise
    attempt_id: str | None = None  # our reference as the provider echoes it
    payment_id: str | None = None
    provider_order_id: str | None = None
    provider_payment_id: str | None = None
    refund_id: str | None = None
    provider_refund_id: str | None = None
    amount: int | None = None  # minor units
    currency: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    occurred_at: float | None = None  # epoch seconds, as the provider states it
    type: str | None = None  # the provider's own event name, e.g. payment.captured

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class WebhookRejected(Exception):
    """A webhook whose signature (or timestamp) does not verify. `reason` is stable:
    missing_signature | bad_signature | stale_timestamp | malformed."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason


@dataclass
class ProviderCall:
    """What a client method needs to talk to one gateway account."""

    http: httpx.AsyncClient
    base_url: str  # no trailing slash
    credentials: Mapping[str, str]
    environment: Literal["test", "live"] = "test"


class Provider(Protocol):
    name: str

    async def create_charge(self, call: ProviderCall, req: ChargeRequest) -> ChargeResult: ...

    async def find_charge(self, call: ProviderCall, req: ChargeRequest) -> ChargeResult: ...

    async def fetch_status(self, call: ProviderCall, ref: ChargeRef) -> ChargeResult: ...

    async def refund(self, call: ProviderCall, req: RefundRequest) -> RefundResult: ...

    async def fetch_refund(self, call: ProviderCall, req: RefundRequest) -> RefundResult: ...

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, credentials: list[Mapping[str, str]]
    ) -> None:
        """Raise WebhookRejected unless the signature verifies with one of `credentials`
        (the gateway's current credentials first, then previous ones still inside their
        rotation overlap)."""

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> ProviderEvent: ...

    def requirements(self, req: ChargeRequest) -> str | None:
        """None when the provider's API can take this charge; otherwise a short reason (no
        personal data) naming what is missing or unsupported, from the provider's docs."""

    async def cancel_charge(self, call: ProviderCall, ref: ChargeRef) -> VoidResult: ...


Result = ChargeResult | RefundResult | VoidResult


async def run_provider_call(
    method: Callable[..., Awaitable[Result]],
    call: ProviderCall,
    arg: Any,
    *,
    refund: bool = False,
    void: bool = False,
) -> Result:
    """Run one client method with timing and transport outcomes (see module docstring).
    The timeout is the http client's; a client method may also return error/unknown
    itself for answers it understands."""
    make: type[Result] = RefundResult if refund else VoidResult if void else ChargeResult
    started = time.perf_counter()
    try:
        result = await method(call, arg)
    except httpx.ConnectError:
        result = make("error", error_code="unreachable", sent=False)
        result.error_message = "could not connect to the provider"
    except httpx.TimeoutException as exc:
        # A connect timeout never reached the provider; any later timeout may have.
        sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
        result = make("unknown" if sent else "error", error_code="timeout", sent=sent)
        result.error_message = "the provider did not answer in time"
    except (httpx.NetworkError, httpx.RemoteProtocolError):
        result = make("unknown", error_code="connection_lost")
        result.error_message = "the connection broke before the provider answered"
    except (ValueError, KeyError, TypeError):
        result = make("unknown", error_code="unexpected_response")
        result.error_message = "the provider's answer was not understood"
    result.latency_ms = int((time.perf_counter() - started) * 1000)
    return result


def by_http_status(response: httpx.Response, *, refund: bool = False) -> Result | None:
    """The transport meaning of a non-2xx answer that a client does not interpret itself:
    429 and 401/403 created nothing; 5xx may have. None for 2xx."""
    status = response.status_code
    if status < 300:
        return None
    make = RefundResult if refund else ChargeResult
    if status == 429:
        return make("error", error_code="rate_limited", http_status=status, sent=False)
    if status in (401, 403):
        return make("error", error_code="auth_failed", http_status=status, sent=False)
    if status >= 500:
        return make("unknown", error_code="provider_5xx", http_status=status)
    return None  # other 4xx: the client reads the provider's own error body


def void_by_http_status(response: httpx.Response) -> VoidResult | None:
    """The transport meaning of a non-2xx answer to a void: 429 and 5xx are transient (the
    job retries); 401/403 is a permanent failure (our credentials are refused). None for 2xx
    and for other 4xx, which the client interprets (usually by looking the object up)."""
    status = response.status_code
    if status < 300:
        return None
    if status == 429:
        return VoidResult("error", error_code="rate_limited", http_status=status, sent=False)
    if status in (401, 403):
        return VoidResult("failed", error_code="auth_failed", http_status=status, sent=False)
    if status >= 500:
        return VoidResult("unknown", error_code="provider_5xx", http_status=status)
    return None


def void_from_state(
    state: str,
    *,
    voided: tuple[str, ...],
    paid: tuple[str, ...],
    pending: tuple[str, ...] = (),
    http_status: int | None = None,
    error_code: str | None = None,
) -> VoidResult:
    """What the provider's current state of the object says about a void: cancelled /
    expired states are `voided`, paid ones `already_paid`, states on their way to one of
    those `unknown` (ask again later); anything else (still payable) means the provider
    refused the void: `failed`."""
    if state in voided:
        return VoidResult("voided", http_status=http_status)
    if state in paid:
        return VoidResult("already_paid", http_status=http_status)
    if state in pending:
        return VoidResult("unknown", error_code=f"state_{state.lower()}", http_status=http_status)
    return VoidResult(
        "failed", error_code=error_code or f"state_{state.lower()}", http_status=http_status
    )
