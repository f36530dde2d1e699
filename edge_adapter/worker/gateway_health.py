"""gateway_health queue: run the provider's credential check for one gateway and record
the probe (which moves the gateway's health with hysteresis)."""

from psycopg.types.json import Jsonb

from ..gateways import check_credentials
from ..settings import get_settings
from .core import Job, JobContext


async def handle(job: Job, ctx: JobContext) -> None:
    gateway_id = job.payload["gateway_id"]
    rows = await ctx.db.service_execute(
        "select private.gateway_credentials(g.id), p.base_urls"
        " from public.gateways as g join public.gateway_providers as p using (provider)"
        " where g.id = %s",
        (gateway_id,),
    )
    if not rows or rows[0][0] is None:
        return  # archived or gone since the probe was scheduled
    target, base_urls = rows[0]
    result = await check_credentials(
        get_settings(), base_urls, target["provider"], target["environment"], target["credentials"]
    )
    await ctx.db.service_execute(
        "select private.record_gateway_probe(%s, %s)", (gateway_id, Jsonb(result.as_dict()))
    )
