"""The FastAPI app, assembled: settings, the database pool, authentication, middleware,
error handlers, probes and one endpoint per row of the route table (routes.py)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from .. import jsonlog
from ..apikeys import ApiKeyVerifier
from ..auth import JwtVerifier
from ..db import Database
from ..settings import Settings, get_settings
from ..startup import check_mode
from ..usage import UsageRecorder
from ..webhooks.delivery import close_sessions
from . import endpoints, error_handlers, metrics_route, openapi, probes, provider_webhooks, stream
from .authn import Authenticator
from .console import install as install_console
from .middleware import Admission, RequestContext

# What the dashboard (another origin) may send and read.
CORS_REQUEST_HEADERS = ["authorization", "content-type", "idempotency-key", "x-request-id"]
CORS_RESPONSE_HEADERS = [
    "x-request-id",
    "idempotent-replayed",
    "retry-after",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "location",
]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    jsonlog.configure(settings.log_level)
    check_mode(settings, "api")
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
        description=openapi.DESCRIPTION,
        lifespan=lifespan,
        # A redirect would be built from the Host header: unknown paths are plain 404s.
        redirect_slashes=False,
        # /docs and /redoc are served below with their assets from a local package.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.db = db
    app.state.settings = settings
    # Outermost last: RequestContext -> CORS -> Admission -> the routes.
    app.add_middleware(Admission, settings=settings)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origin_list(),
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=CORS_REQUEST_HEADERS,
        expose_headers=CORS_RESPONSE_HEADERS,
        allow_credentials=False,  # bearer tokens, never cookies
        max_age=600,
    )
    app.add_middleware(RequestContext, usage=usage, settings=settings)
    auth = Authenticator(db, settings, JwtVerifier(settings), keys)
    error_handlers.install(app, auth)
    probes.install(app, db, settings)
    endpoints.install(app, db, auth, settings)
    provider_webhooks.install(app, db, settings)
    stream.install(app, db, auth, settings)
    metrics_route.install(app, db, settings)
    openapi.install(app)
    install_docs(app)
    install_console(app)
    return app


DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
DOCS_ASSETS_URL = "/docs/assets"


def install_docs(app: FastAPI) -> None:
    """Swagger UI at /docs and ReDoc at /redoc, their scripts, styles and icon served from
    the fastapi-offline package's copies (no CDN: the pages work offline, and the docs CSP
    in middleware.py allows only 'self')."""
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
    assert app.openapi_url is not None
    spec_url = app.openapi_url

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=spec_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS_URL}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=spec_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{DOCS_ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
