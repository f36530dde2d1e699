"""gateway_health queue: run the provider's credential check for one gateway and record
the probe (which moves the gateway's health with hysteresis)."""

from .. import metrics
from ..gateways import check_credentials
from ..settings import get_settings
from . import queries
from .core import Job, JobContext


async def handle(job: Job, ctx: JobContext) -> None:
    gateway_id = job.payload["gateway_id"]
    found = await queries.gateway_probe_target(ctx.db, gateway_id)
    if found is None:
        return  # archived or gone since the probe was scheduled
    target, base_urls = found
    result = await check_credentials(
        get_settings(), base_urls, target["provider"], target["environment"], target["credentials"]
    )
    metrics.gateway_check(target["provider"], "probe", result.error_class, result.latency_ms)
    await queries.record_gateway_probe(ctx.db, gateway_id, result.as_dict())
