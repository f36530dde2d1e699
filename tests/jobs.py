"""Handlers the worker tests load with --handler QUEUE=tests.jobs:record_effect.

The effect is a row in test_support.effects keyed by the job key (applied once however
often the job is delivered); every delivery is also logged, so tests can see redeliveries.
Payload knobs: sleep_before / sleep_after (seconds around the effect); a job whose key is
in test_support.poison fails.
"""

import asyncio

from edge_adapter.worker.core import Job, JobContext

SCHEMA = """
create schema if not exists test_support;
create table if not exists test_support.effects (
  job_key text primary key, job_id text not null, attempt int not null,
  worker_id text not null, applied_at timestamptz not null default clock_timestamp(),
  enqueued_at timestamptz not null
);
create table if not exists test_support.deliveries (
  id bigserial primary key, job_key text not null, job_id text not null, attempt int not null,
  worker_id text not null, started_at timestamptz not null default clock_timestamp()
);
create table if not exists test_support.poison (job_key text primary key);
grant usage on schema test_support to service_role;
grant all on all tables in schema test_support to service_role;
grant all on all sequences in schema test_support to service_role;
"""


async def record_effect(job: Job, ctx: JobContext) -> None:
    async with ctx.db.as_service() as conn:
        await conn.execute(
            "insert into test_support.deliveries (job_key, job_id, attempt, worker_id)"
            " values (%s, %s, %s, %s)",
            (job.key, job.id, job.attempt, ctx.worker_id),
        )
        cur = await conn.execute("select 1 from test_support.poison where job_key = %s", (job.key,))
        if await cur.fetchone():
            raise ValueError(f"poison job {job.key}")
    if job.payload.get("sleep_before"):
        await asyncio.sleep(float(job.payload["sleep_before"]))
    async with ctx.db.as_service() as conn:
        await conn.execute(
            "insert into test_support.effects (job_key, job_id, attempt, worker_id, enqueued_at)"
            " values (%s, %s, %s, %s, %s) on conflict (job_key) do nothing",
            (job.key, job.id, job.attempt, ctx.worker_id, job.enqueued_at),
        )
    if job.payload.get("sleep_after"):
        await asyncio.sleep(float(job.payload["sleep_after"]))


async def noop(job: Job, ctx: JobContext) -> None:
    return None
