"""GET /metrics: the API process's Prometheus figures (edge_adapter/metrics.py), and the
connection pools registered for them. Protected as metrics.scrape_allowed says: the bearer
LSP_METRICS_TOKEN when set, else loopback clients only. Not in the OpenAPI document."""

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from .. import metrics
from ..db import Database
from ..settings import Settings


def install(app: FastAPI, db: Database, settings: Settings) -> None:
    metrics.POOLS.register("api", db.pool)
    service = getattr(db, "_service", None)  # the API's small service_role pool
    if service is not None:
        metrics.POOLS.register("api_service", service.pool)
    if not settings.metrics_enabled:
        return
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None

    @app.get("/metrics", include_in_schema=False)
    async def scrape(request: Request) -> Response:
        client = request.client.host if request.client else None
        status = metrics.scrape_allowed(request.headers.get("authorization"), client, token)
        if status != 200:
            return PlainTextResponse("metrics need the scrape token\n", status_code=status)
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)
