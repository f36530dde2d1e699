"""payment queue: charge payments through the gateways, apply provider webhooks, reconcile,
refund. Job payloads:

    {payment_id}                    charge (or resume charging) a payment
    {payment_id, check, final}      reconciliation: ask the provider; final expires it
    {refund_id} / {refund_id, check}  refund, or ask the provider about a pending refund
    {provider_event_id}             apply a stored provider webhook
    {void_attempt_id}               after a cancel: ask the provider to cancel / expire what
                                    the attempt created (job key void:<attempt_id>)

Never charge twice: every attempt is recorded (private.payment_next_attempt) before the
provider is called, and an attempt that was recorded but never settled (the worker died, the
call timed out, the answer was a 5xx) is looked up at the provider by our own reference before
anything is created again. An answer we cannot interpret leaves the attempt open and the job
is retried later; only a definite "nothing was created" cascades to the next gateway.

A gateway that cannot take the payment (its client's `requirements` names what is missing) is
skipped without being called: the attempt is recorded as failed with `unsupported_request`
and the reason, and the cascade moves on; the database leaves it out of the gateway's figures.

Voids: a cancel queues one void job per attempt the customer could still pay. The provider
says voided, not_supported, already_paid or failed; already_paid sends the job down the
late-success path (the charge is looked up and its success recorded, then flagged for review),
and a transient failure retries through the queue. The database applies each outcome once.
"""

import asyncio
import logging
from typing import Any

import httpx

from .. import jsonlog, metrics
from ..gateways import PROVIDERS, base_url
from ..gateways.payments import (
    ChargeRef,
    ChargeRequest,
    ChargeResult,
    Customer,
    ProviderCall,
    RefundRequest,
    VoidResult,
    run_provider_call,
)
from ..settings import Settings, get_settings
from . import queries
from .core import Job, JobContext, logger

MAX_STEPS = 4  # provider calls one job makes before leaving the rest to a retry
MAX_SKIPS = 16  # gateways one job may skip without calling them (requirements unmet)
UNSETTLED = ("error", "unknown")


class RetryLater(Exception):
    """The job must run again later (a provider asked to retry, or its answer is unknown):
    the queue retries it with backoff; the attempt stays open and is looked up first."""


# One keep-alive client per event loop for every provider call.
_clients: dict[int, httpx.AsyncClient] = {}


def _http(settings: Settings) -> httpx.AsyncClient:
    loop = id(asyncio.get_running_loop())
    client = _clients.get(loop)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(
            timeout=settings.provider_timeout_s,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        _clients[loop] = client
    return client


async def close_clients() -> None:
    client = _clients.pop(id(asyncio.get_running_loop()), None)
    if client is not None:
        await client.aclose()


def provider_call(settings: Settings, target: dict[str, Any]) -> ProviderCall:
    provider = target["provider"]
    url = base_url(settings, target["base_urls"], provider, target["environment"])
    return ProviderCall(
        http=_http(settings),
        base_url=url.rstrip("/"),
        credentials={k: str(v) for k, v in target["credentials"].items()},
        environment=target["environment"],
    )


def charge_request(settings: Settings, step: dict[str, Any]) -> ChargeRequest:
    req, target = step["request"], step["target"]
    customer = req.get("customer") or {}
    notify = (
        f"{settings.public_base_url.rstrip('/')}/api/v1/providers/"
        f"{target['provider']}/webhooks/{target['gateway_id']}"
    )
    return ChargeRequest(
        payment_id=req["payment_id"],
        attempt_id=req["attempt_id"],
        amount=req["amount"],
        currency=req["currency"],
        method=req["method"],
        upi_vpa=req.get("upi_vpa"),
        customer=Customer(**{k: customer.get(k) for k in ("email", "phone", "ip", "user_agent")}),
        description=req.get("description"),
        return_url=req.get("return_url"),
        notify_url=notify,
    )


def charge_ref(step: dict[str, Any]) -> ChargeRef:
    req = step["request"]
    return ChargeRef(
        payment_id=req["payment_id"],
        attempt_id=req["attempt_id"],
        amount=req["amount"],
        currency=req["currency"],
        provider_order_id=req.get("provider_order_id"),
        provider_payment_id=req.get("provider_payment_id"),
        method=req.get("method"),
    )


async def _settle(ctx: JobContext, attempt_id: str, result: ChargeResult) -> str:
    """Record a provider's answer; returns what to do next: none | cascade | retry."""
    outcome = await queries.record_attempt_result(ctx.db, attempt_id, result.as_dict())
    jsonlog.log(
        logger,
        logging.INFO,
        "payment attempt",
        attempt_id=attempt_id,
        result=result.status,
        error_code=result.error_code,
        outcome=outcome.get("outcome"),
        next=outcome.get("next"),
        latency_ms=result.latency_ms,
    )
    metrics.payment_attempt(result.status, str(outcome.get("next") or "none"), result.latency_ms)
    return str(outcome.get("next") or "none")


async def _undecided(
    ctx: JobContext, req: ChargeRequest, result: ChargeResult, provider: str
) -> ChargeResult:
    """Neither the call nor a lookup tells whether the provider acted. A UPI collect may
    already be waiting in the customer's UPI app, so that attempt stays open and the job
    retries (reconciliation settles it otherwise). Any other method needs the customer to
    open the redirect or intent we never received: nothing can be paid there, so the attempt
    is given up and the next gateway may be tried."""
    if req.upi_vpa is not None:
        await _settle(ctx, req.attempt_id, result)  # the attempt stays open (unknown)
        raise RetryLater(f"{provider} left {req.attempt_id} undecided")
    result.status, result.sent = "error", False
    return result


async def charge(payment_id: str, ctx: JobContext, settings: Settings) -> None:
    calls = 0
    for _ in range(MAX_STEPS + MAX_SKIPS):
        step = await queries.payment_next_attempt(ctx.db, payment_id)
        if step["action"] != "charge":
            return
        provider = step["target"]["provider"]
        client = PROVIDERS[provider]
        call = provider_call(settings, step["target"])
        req = charge_request(settings, step)
        if not step["resume"] and (reason := client.requirements(req)) is not None:
            # This gateway cannot take the payment: skip it without calling it. Recorded as
            # unsupported_request (not the gateway's failure) with our own reason.
            skipped = ChargeResult(
                "error", error_code="unsupported_request", error_message=reason, sent=False
            )
            if await _settle(ctx, req.attempt_id, skipped) != "cascade":
                return
            continue
        calls += 1
        result: ChargeResult | None = None
        if step["resume"]:
            # Recorded before, never settled: it may exist at the provider. Look first.
            found = await run_provider_call(client.find_charge, call, req)
            assert isinstance(found, ChargeResult)
            if found.status in UNSETTLED:
                result = await _undecided(ctx, req, found, provider)
            elif found.status != "not_found":
                result = found
        if result is None:
            created = await run_provider_call(client.create_charge, call, req)
            assert isinstance(created, ChargeResult)
            result = created
            if result.status == "unknown":
                # The provider may have acted: only its own record can say.
                found = await run_provider_call(client.find_charge, call, req)
                assert isinstance(found, ChargeResult)
                if found.status in UNSETTLED:
                    result = await _undecided(ctx, req, result, provider)
                elif found.status == "not_found":
                    result.status, result.sent = "error", False  # nothing was created
                else:
                    result = found
        next_step = await _settle(ctx, req.attempt_id, result)
        if next_step == "retry":
            raise RetryLater(f"{provider} asked to retry {req.attempt_id}")
        if next_step != "cascade":
            return
        if calls >= MAX_STEPS:
            break
    raise RetryLater(f"{payment_id} needs more steps than one job makes")


async def check(payment_id: str, final: bool, ctx: JobContext, settings: Settings) -> None:
    """Reconciliation: ask the provider about the open attempt; the final check expires a
    payment that is still not done."""
    target = await queries.payment_check_target(ctx.db, payment_id)
    next_step = "none"
    if target["action"] == "charge":
        next_step = "cascade"
    elif target["action"] == "check" and target.get("target"):
        client = PROVIDERS[target["target"]["provider"]]
        call = provider_call(settings, target["target"])
        if target["request"]["attempt_status"] in ("created", "unknown"):
            result = await run_provider_call(
                client.find_charge, call, charge_request(settings, target)
            )
        else:
            result = await run_provider_call(client.fetch_status, call, charge_ref(target))
        if result.status not in UNSETTLED:
            assert isinstance(result, ChargeResult)
            next_step = await _settle(ctx, target["request"]["attempt_id"], result)
    if next_step in ("cascade", "retry"):
        try:
            await charge(payment_id, ctx, settings)
        except RetryLater:
            if not final:
                raise
    if final:
        await queries.expire_payment(ctx.db, payment_id)


async def void(attempt_id: str, ctx: JobContext, settings: Settings) -> None:
    """After a cancel: ask the attempt's provider to cancel or expire what it created, so the
    customer can no longer pay it, and record what it said (once)."""
    target = await queries.void_target(ctx.db, attempt_id)
    if target["action"] != "void":
        return
    provider = target["target"]["provider"]
    client = PROVIDERS[provider]
    call = provider_call(settings, target["target"])
    ref = charge_ref(target)
    result = await run_provider_call(client.cancel_charge, call, ref, void=True)
    assert isinstance(result, VoidResult)
    jsonlog.log(
        logger,
        logging.INFO,
        "payment void",
        attempt_id=attempt_id,
        provider=provider,
        result=result.status,
        error_code=result.error_code,
        latency_ms=result.latency_ms,
    )
    if result.status == "already_paid":
        # The customer paid before the cancel reached the provider: the money moved, so the
        # success is recorded (the payment becomes succeeded, flagged for review).
        found = await run_provider_call(client.fetch_status, call, ref)
        assert isinstance(found, ChargeResult)
        if found.status != "succeeded":
            await queries.record_void_result(
                ctx.db,
                attempt_id,
                {"status": "retrying", "error_code": found.error_code or f"paid_{found.status}"},
            )
            raise RetryLater(f"{provider} says {attempt_id} was paid; its capture is not visible")
        await _settle(ctx, attempt_id, found)
    elif result.transient:
        await queries.record_void_result(
            ctx.db, attempt_id, {"status": "retrying", "error_code": result.error_code}
        )
        raise RetryLater(f"{provider} could not void {attempt_id} yet ({result.error_code})")
    await queries.record_void_result(ctx.db, attempt_id, result.as_dict())


async def refund(refund_id: str, ctx: JobContext, settings: Settings) -> None:
    target = await queries.refund_target(ctx.db, refund_id)
    if target["action"] != "refund" or not target.get("target"):
        return
    client = PROVIDERS[target["target"]["provider"]]
    call = provider_call(settings, target["target"])
    r = target["request"]
    req = RefundRequest(
        refund_id=r["refund_id"],
        payment_id=r["payment_id"],
        attempt_id=r["attempt_id"],
        amount=r["amount"],
        currency=r["currency"],
        provider_order_id=r.get("provider_order_id"),
        provider_payment_id=r.get("provider_payment_id"),
        provider_refund_id=r.get("provider_refund_id"),
        reason=r.get("reason"),
    )
    if target["provider_calls"] > 0:
        # Asked before: it may exist. Look it up rather than refund twice.
        found = await run_provider_call(client.fetch_refund, call, req, refund=True)
        if found.status != "not_found":
            await queries.record_refund_result(ctx.db, refund_id, found.as_dict())
            return
    result = await run_provider_call(client.refund, call, req, refund=True)
    if result.status == "unknown":
        found = await run_provider_call(client.fetch_refund, call, req, refund=True)
        if found.status not in UNSETTLED and found.status != "not_found":
            result = found
    await queries.record_refund_result(ctx.db, refund_id, result.as_dict())


async def handle(job: Job, ctx: JobContext) -> None:
    settings = get_settings()
    p = job.payload
    if "provider_event_id" in p:
        await queries.apply_provider_event(ctx.db, int(p["provider_event_id"]))
    elif "void_attempt_id" in p:
        await void(str(p["void_attempt_id"]), ctx, settings)
    elif "refund_id" in p:
        await refund(str(p["refund_id"]), ctx, settings)
    elif p.get("check"):
        await check(str(p["payment_id"]), bool(p.get("final")), ctx, settings)
    else:
        await charge(str(p["payment_id"]), ctx, settings)
