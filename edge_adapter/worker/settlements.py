"""settlement queue: settlement batches and their payouts (and, with the provider settlement
reconciliation, the providers' settlement reports). Job payloads:

    {wallet_id}        make the wallet's next batch (pg_cron's lsp-settlements enqueues these);
                       the database enqueues the batch's payout job itself
    {settlement_id}    the batch's next payout step: send an attempt, or ask the provider about
                       one it is processing or, during the reversal watch
                       (payouts.reversal_watch_s), one it processed (RazorpayX's payout
                       states end in processed or reversed, and a reversed payout returned
                       the money: https://razorpay.com/docs/webhooks/payloads/x/ and
                       https://razorpay.com/docs/x/webhooks/subscribe/); the database
                       schedules checks and retries, and refuses an attempt before its time
    {provider_report, day}   fetch a gateway's settlement report for a UTC day and ingest
                       each settlement in it (matched to our payments and refunds; what does
                       not match is reported); pg_cron's lsp-provider-reports enqueues these

Never pay twice: every payout attempt is recorded (private.payout_next) before the provider is
called, its id is the provider's idempotency key, and an answer that was lost is followed by
the same request with the same key, which the provider answers with the first payout.
Beneficiary account numbers and provider credentials are never logged.
"""

import asyncio
import logging
from datetime import date

import httpx

from .. import jsonlog
from ..gateways import base_url
from ..gateways.payments import ProviderCall
from ..gateways.payouts import (
    CATALOGUE_PROVIDER,
    PAYOUT_PROVIDERS,
    PayoutRequest,
    PayoutResult,
    run_payout_call,
)
from ..gateways.settlement_reports import REPORTERS
from ..settings import Settings, get_settings
from . import queries
from .core import Job, JobContext, logger


class RetryLater(Exception):
    """The provider gave no definite answer: the queue retries the job with backoff, and the
    same attempt is sent again with the same idempotency key."""


_clients: dict[int, httpx.AsyncClient] = {}


def _http(settings: Settings) -> httpx.AsyncClient:
    loop = id(asyncio.get_running_loop())
    client = _clients.get(loop)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(timeout=settings.provider_timeout_s, follow_redirects=False)
        _clients[loop] = client
    return client


async def payout(settlement_id: str, ctx: JobContext, settings: Settings) -> None:
    step = await queries.payout_next(ctx.db, settlement_id)
    if step["action"] not in ("send", "check"):
        return
    target, p = step["target"], step["payout"]
    provider = target["provider"]
    client = PAYOUT_PROVIDERS[provider]
    call = ProviderCall(
        http=_http(settings),
        base_url=base_url(
            settings, target["base_urls"], CATALOGUE_PROVIDER[provider], target["environment"]
        ).rstrip("/"),
        credentials={k: str(v) for k, v in target["credentials"].items()},
        environment=target["environment"],
    )
    result: PayoutResult
    if step["action"] == "check":
        result = await run_payout_call(client.fetch_payout, call, p["provider_payout_id"])
    else:
        beneficiary = p["beneficiary"]
        request = PayoutRequest(
            payout_id=p["payout_id"],
            settlement_id=p["settlement_id"],
            amount=int(p["amount"]),
            currency=p["currency"],
            transfer_mode=p["transfer_mode"],
            holder_name=beneficiary["holder_name"],
            ifsc=beneficiary["ifsc"],
            account_number=beneficiary["account_number"],
            merchant_id=str(beneficiary["merchant_id"]),
        )
        result = await run_payout_call(client.create_payout, call, request)
    outcome = await queries.record_payout_result(ctx.db, p["payout_id"], result.as_dict())
    jsonlog.log(
        logger,
        logging.INFO,
        "payout",
        settlement_id=settlement_id,
        payout_id=p["payout_id"],
        action=step["action"],
        result=result.status,
        error_code=result.error_code,
        outcome=outcome.get("outcome"),
        next=outcome.get("next"),
        latency_ms=result.latency_ms,
    )
    # Only a missing answer is retried by the queue (the same attempt, same key). A failed
    # attempt's next one is a message the database scheduled at payouts.retry_schedule_s
    # ("scheduled"), and payout_next refuses it earlier ("wait"); a processed payout's
    # reversal checks ("watch") are scheduled messages too.
    if outcome.get("next") == "retry":
        raise RetryLater(f"{provider} gave no definite answer for {p['payout_id']}")


async def provider_report(gateway_id: str, day: date, ctx: JobContext, settings: Settings) -> None:
    found = await queries.gateway_probe_target(ctx.db, gateway_id)
    if found is None:
        return  # archived, or its credentials are gone
    target, base_urls = found
    reporter = REPORTERS.get(target["provider"])
    if reporter is None:
        return
    call = ProviderCall(
        http=_http(settings),
        base_url=base_url(settings, base_urls, target["provider"], target["environment"]).rstrip(
            "/"
        ),
        credentials={k: str(v) for k, v in target["credentials"].items()},
        environment=target["environment"],
    )
    for report in await reporter.fetch(call, day):
        outcome = await queries.ingest_provider_settlement(ctx.db, gateway_id, report)
        jsonlog.log(
            logger,
            logging.WARNING if outcome.get("status") == "mismatched" else logging.INFO,
            "provider settlement",
            gateway_id=gateway_id,
            provider_settlement=report["settlement_id"],
            status=outcome.get("status"),
            lines=outcome.get("lines"),
            unmatched=outcome.get("unmatched"),
            already_ingested=outcome.get("already_ingested"),
        )


async def handle(job: Job, ctx: JobContext) -> None:
    settings = get_settings()
    p = job.payload
    if "settlement_id" in p:
        await payout(str(p["settlement_id"]), ctx, settings)
    elif "provider_report" in p:
        await provider_report(
            str(p["provider_report"]), date.fromisoformat(str(p["day"])), ctx, settings
        )
    elif "wallet_id" in p:
        batch = await queries.create_settlement(ctx.db, str(p["wallet_id"]))
        if batch:
            jsonlog.log(
                logger,
                logging.INFO,
                "settlement batch",
                wallet_id=str(p["wallet_id"]),
                settlement_id=batch.get("id"),
                deferred=batch.get("deferred", False),
                net=batch.get("net"),
            )
    else:
        raise ValueError(f"unknown settlement job: {sorted(p)}")
