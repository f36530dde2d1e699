"""Every SQL statement the worker runs, by name. All run as service_role (the worker's
sessions are service_role for their whole life), one statement per round trip, with bound
parameters; the job-system functions they call are in supabase/schema/functions/private.*."""

import json
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from ..db import Database


async def worker_config(db: Database) -> dict[str, Any]:
    """{queues: [...], channels: {jobs, queue_controls}}: the database's lists."""
    rows = await db.service_execute("select private.worker_config()")
    return rows[0][0]


async def queue_controls(db: Database) -> list[tuple[Any, ...]]:
    """(queue, paused, concurrency, max_attempts, visibility_timeout_s, backoff_base_s,
    backoff_max_s) per queue."""
    return await db.service_execute(
        "select queue_name, paused, concurrency, max_attempts, visibility_timeout_s,"
        " backoff_base_s, backoff_max_s from public.queue_controls"
    )


async def read_jobs(
    db: Database, queue: str, visibility_timeout_s: int, limit: int
) -> list[tuple[Any, ...]]:
    """(msg_id, read_ct, enqueued_at, message) of up to `limit` visible messages, hidden
    for `visibility_timeout_s` seconds."""
    return await db.service_execute(
        "select msg_id, read_ct, enqueued_at, message from pgmq.read(%s, %s, %s)",
        (queue, visibility_timeout_s, limit),
    )


async def complete(
    db: Database,
    queue: str,
    msg_ids: str,
    attempts: str,
    started: str,
    durations: str,
    worker_id: str,
) -> None:
    """Archive finished jobs and record their attempts. The columns come as Postgres array
    literals ('{1,2,3}'): far cheaper to build than adapting Python lists."""
    await db.service_execute(
        "select private.worker_complete(%s, %s::bigint[], %s::int[], %s::float8[], %s::int[], %s)",
        (queue, msg_ids, attempts, started, durations, worker_id),
    )


async def fail(
    db: Database, queue: str, msg_id: int, attempt: dict[str, Any], retry_in_s: int, dead: bool
) -> str | None:
    """Record a failed attempt; retry in place or dead-letter. Returns the outcome
    ('retrying', the dead letter's job id, or 'gone')."""
    rows = await db.service_execute(
        "select private.worker_fail(%s, %s, %s, %s, %s)",
        (queue, msg_id, json.dumps(attempt), retry_in_s, dead),
    )
    return rows[0][0] if rows else None


async def note_lost(db: Database, queue: str, msg_id: int, attempt: int) -> None:
    """A redelivered job whose previous attempt left no record: record it as lost."""
    await db.service_execute(
        "select private.worker_note_lost(%s, %s, %s)", (queue, msg_id, attempt)
    )


async def release(db: Database, queue: str, msg_ids: list[int]) -> None:
    """Make unfinished jobs visible again at once (shutdown)."""
    await db.service_execute("select private.worker_release(%s, %s)", (queue, msg_ids))


async def heartbeat(
    db: Database,
    worker_id: str,
    hostname: str,
    pid: int,
    queues: list[str],
    started_at: datetime,
    in_flight: list[str],
    processed: int,
    failed: int,
    stopped: bool,
) -> None:
    await db.service_execute(
        "select private.worker_heartbeat(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (worker_id, hostname, pid, queues, started_at, in_flight, processed, failed, stopped),
    )


# -- handlers ----------------------------------------------------------------------------------
async def gateway_probe_target(db: Database, gateway_id: str) -> tuple[Any, Any] | None:
    """({provider, environment, credentials}, catalogue base_urls) of a gateway to probe,
    or None when it was archived or lost its credentials since the probe was scheduled."""
    rows = await db.service_execute(
        "select private.gateway_credentials(g.id), p.base_urls"
        " from public.gateways as g join public.gateway_providers as p using (provider)"
        " where g.id = %s",
        (gateway_id,),
    )
    if not rows or rows[0][0] is None:
        return None
    return rows[0][0], rows[0][1]


async def record_gateway_probe(db: Database, gateway_id: str, result: dict[str, Any]) -> None:
    await db.service_execute(
        "select private.record_gateway_probe(%s, %s)", (gateway_id, Jsonb(result))
    )


# -- payments ----------------------------------------------------------------------------------
async def _one(db: Database, query: str, params: tuple[Any, ...]) -> dict[str, Any]:
    rows = await db.service_execute(query, params)
    return rows[0][0]


async def payment_next_attempt(db: Database, payment_id: str) -> dict[str, Any]:
    """{action: none|charge, resume, request, target}: the attempt is recorded (committed)
    before this returns, so it exists before any provider call."""
    return await _one(db, "select private.payment_next_attempt(%s)", (payment_id,))


async def record_attempt_result(
    db: Database, attempt_id: str, result: dict[str, Any]
) -> dict[str, Any]:
    """{outcome, next: none|cascade|retry, payment_status}."""
    return await _one(
        db, "select private.record_attempt_result(%s, %s)", (attempt_id, Jsonb(result))
    )


async def payment_check_target(db: Database, payment_id: str) -> dict[str, Any]:
    return await _one(db, "select private.payment_check_target(%s)", (payment_id,))


async def expire_payment(db: Database, payment_id: str) -> dict[str, Any]:
    return await _one(db, "select private.expire_payment(%s)", (payment_id,))


async def refund_target(db: Database, refund_id: str) -> dict[str, Any]:
    return await _one(db, "select private.refund_target(%s)", (refund_id,))


async def record_refund_result(
    db: Database, refund_id: str, result: dict[str, Any]
) -> dict[str, Any]:
    return await _one(db, "select private.record_refund_result(%s, %s)", (refund_id, Jsonb(result)))


async def apply_provider_event(db: Database, event_id: int) -> dict[str, Any]:
    return await _one(db, "select private.apply_provider_event(%s)", (event_id,))


# -- payments: voids after a cancel (supabase/migrations/..._cancel_at_provider.sql) -----------
async def void_target(db: Database, attempt_id: str) -> dict[str, Any]:
    """{action: void|none, void_status, request, target}: what to ask the attempt's provider;
    none once the void is decided (or the attempt succeeded, or its gateway was archived)."""
    return await _one(db, "select private.void_target(%s)", (attempt_id,))


async def record_void_result(
    db: Database, attempt_id: str, result: dict[str, Any]
) -> dict[str, Any]:
    """{outcome: recorded|retrying|stale, void_status}; applied once per attempt."""
    return await _one(db, "select private.record_void_result(%s, %s)", (attempt_id, Jsonb(result)))


# -- operations: the database-side metrics (edge_adapter/metrics.py) ---------------------------
async def operations_figures(db: Database) -> dict[str, Any]:
    """What only Postgres knows, from the admin RPCs in one round trip: queues
    (admin_list_queues), gateways (admin_list_gateways, admin_gateway_health) and pg_cron jobs
    and API-key digests (admin_operations_snapshot)."""
    rows = await db.service_execute(
        "select public.admin_list_queues(), public.admin_list_gateways(false),"
        " public.admin_gateway_health(), public.admin_operations_snapshot()"
    )
    queues, gateways, health, operations = rows[0]
    return {"queues": queues, "gateways": gateways, "health": health, "operations": operations}


# -- settlements (ledger, issue 14) ----------------------------------------------------------------
async def create_settlement(db: Database, wallet_id: str) -> dict[str, Any] | None:
    """The wallet's next settlement batch (the database enqueues its payout), None when there
    is nothing to settle, or {deferred} while a refund in flight holds part of available."""
    rows = await db.service_execute("select private.create_settlement(%s)", (wallet_id,))
    return rows[0][0] if rows else None


async def payout_next(db: Database, settlement_id: str) -> dict[str, Any]:
    """{action: none|wait|send|check, payout, target}: a send's attempt is committed before
    this returns. Carries the beneficiary's account number and the provider's credentials:
    never log it."""
    return await _one(db, "select private.payout_next(%s)", (settlement_id,))


async def record_payout_result(
    db: Database, payout_id: str, result: dict[str, Any]
) -> dict[str, Any]:
    """{outcome, next: none|check|retry}; the database schedules checks and new attempts."""
    return await _one(db, "select private.record_payout_result(%s, %s)", (payout_id, Jsonb(result)))


async def ingest_provider_settlement(
    db: Database, gateway_id: str, report: dict[str, Any]
) -> dict[str, Any]:
    """{id, status matched|mismatched, lines, unmatched, amount, already_ingested}."""
    return await _one(
        db,
        "select private.ingest_provider_settlement(%s, %s)",
        (gateway_id, Jsonb(report)),
    )
