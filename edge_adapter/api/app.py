"""The FastAPI app, assembled: settings, the database pool, authentication, middleware,
error handlers, probes and one endpoint per row of the route table (routes.py)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .. import jsonlog
from ..apikeys import ApiKeyVerifier
from ..auth import JwtVerifier
from ..db import Database
from ..settings import Settings, get_settings
from ..usage import UsageRecorder
from ..webhooks.delivery import close_sessions
from . import endpoints, error_handlers, probes, provider_webhooks, stream
from .authn import Authenticator
from .middleware import RequestContext


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    jsonlog.configure(settings.log_level)
    db = Database(settings)
    keys = ApiKeyVerifier(
        db, settings.api_key_pepper.get_secret_value(), settings.rate_limit_burst_fraction
    )
    usage = UsageRecorder(db)

    async def flush_batches() -> None:
        """Last-used stamps and usage rollups go to the database in batches."""
        while True:
            await asyncio.sleep(settings.last_used_flush_s)
            await keys.flush()
            await usage.flush()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await db.open()
        flusher = asyncio.create_task(flush_batches())
        yield
        flusher.cancel()
        await keys.flush()
        await usage.flush()
        await close_sessions()
        await db.close()

    app = FastAPI(
        title="LightSpeedPay API",
        version="1",
        description="REST surface over LightSpeedPay's Postgres RPCs. Authenticate with a "
        "Supabase JWT: `Authorization: Bearer <token>`.",
        lifespan=lifespan,
    )
    app.state.db = db
    app.state.settings = settings
    app.add_middleware(RequestContext, usage=usage)
    auth = Authenticator(db, settings, JwtVerifier(settings), keys)
    error_handlers.install(app, auth)
    probes.install(app, db, settings)
    endpoints.install(app, db, auth, settings)
    provider_webhooks.install(app, db, settings)
    stream.install(app, db, auth, settings)
    return app
