"""webhook queue: one delivery attempt per job. Each job names the attempt it is for
(key delivery:<id>:<n>), so a redelivered job never sends or schedules twice."""

import random

from .. import metrics, queries
from ..settings import get_settings
from ..webhooks.delivery import deliver
from .core import Job, JobContext


def next_delay(schedule: list[float], attempt: int, retry_after: int | None) -> int | None:
    """Seconds until the next attempt after attempt `attempt`, or None when out of tries."""
    if attempt > len(schedule):
        return None
    delay = schedule[attempt - 1] * random.uniform(0.8, 1.2)  # noqa: S311 - jitter
    if retry_after:
        delay = max(delay, min(retry_after, 86400))
    return max(0, round(delay))


async def handle(job: Job, ctx: JobContext) -> None:
    settings = get_settings()
    delivery_id = int(job.payload["delivery_id"])
    info = await queries.webhook_delivery_job(ctx.db, delivery_id)
    if info is None:
        return
    attempt_for = int(job.key.rsplit(":", 1)[1]) if job.key.count(":") == 2 else None
    if attempt_for is not None and info["attempts"] >= attempt_for:
        return  # this attempt already happened (the job was redelivered)
    manual = bool(job.payload.get("manual"))
    if not info["endpoint"]["enabled"] and not manual:
        return
    attempt = await deliver(
        info["endpoint"]["url"],
        info["event"],
        info["secrets"],
        timeout_s=settings.webhook_timeout_s,
        allow_loopback=settings.webhook_allow_loopback,
    )
    metrics.webhook_delivery(attempt.status_code, attempt.latency_ms)
    n = info["attempts"] + 1
    retry_in = (
        None
        if attempt.delivered
        else next_delay(settings.retry_schedule(), n, attempt.retry_after_s)
    )
    await queries.record_webhook_attempt(
        ctx.db, delivery_id, attempt.as_dict(), retry_in, settings.webhook_disable_after_s
    )
