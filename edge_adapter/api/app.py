"""The FastAPI app: one generic endpoint per row of the route table."""

import asyncio
import inspect
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from uuid import UUID

import psycopg
from fastapi import Body, Depends, FastAPI, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import jsonlog
from ..apikeys import GATE_REFUSALS, ApiKeyVerifier, KeyGate, looks_like_key
from ..auth import AuthError, Caller, JwtVerifier, bearer_token
from ..db import Database
from ..errors import ApiError, error_response, from_database
from ..settings import Settings, get_settings
from ..usage import UsageRecorder
from ..webhooks.delivery import close_sessions
from .actions import ACTIONS, ActionContext
from .routes import ROUTES, Route

logger = logging.getLogger("edge_adapter.api")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
PATH_PARAM = re.compile(r"{(\w+)}")
# Only these request headers reach the database (request.headers), never Authorization.
FORWARDED_HEADERS = ("user-agent", "x-forwarded-for", "x-client-info")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    jsonlog.configure(settings.log_level)
    db = Database(settings)
    verifier = JwtVerifier(settings)
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
    auth = Authenticator(db, settings, verifier, keys)
    _install_error_handlers(app, auth)
    _install_probes(app, db, settings)
    for route in ROUTES:
        _add_route(app, route, db, auth, settings)
    return app


class RequestContext:
    """Request id, no-store caching, one JSON log line per request, and a JSON 500 for
    anything unhandled. Plain ASGI: cheaper than Starlette's BaseHTTPMiddleware."""

    def __init__(self, app: ASGIApp, usage: UsageRecorder) -> None:
        self.app = app
        self.usage = usage

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        request_id = incoming if REQUEST_ID.match(incoming) else str(uuid.uuid4())
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["user_id"] = None
        path: str = scope["path"]
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                for name, value in state.get("rate_headers", {}).items():
                    headers.setdefault(name, value)
                if path.startswith("/api/"):
                    headers["cache-control"] = "no-store"
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            logger.exception("unhandled error", extra={"fields": {"request_id": request_id}})
            if not response_started:
                response = error_response(
                    ApiError(500, "internal_error", "something went wrong on our side"),
                    request_id,
                )
                await response(scope, receive, send_with_headers)
        finally:
            duration_ms = (time.perf_counter() - started) * 1000
            key = state.get("api_key")
            if key:  # merchant API traffic feeds usage analytics
                route = scope.get("route")
                endpoint = f"{scope['method']} {getattr(route, 'path', path)}"
                self.usage.record(
                    key["merchant_id"], key["api_key_id"], endpoint, status, duration_ms
                )
            jsonlog.log(
                logger,
                logging.INFO,
                "request",
                method=scope["method"],
                path=path,
                status=status,
                duration_ms=round(duration_ms, 2),
                request_id=request_id,
                user_id=state.get("user_id"),
            )


def _install_error_handlers(app: FastAPI, auth: "Authenticator") -> None:
    def rid(request: Request) -> str | None:
        return getattr(request.state, "request_id", None)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc, rid(request))

    @app.exception_handler(AuthError)
    async def auth_error(request: Request, exc: AuthError) -> JSONResponse:
        err = ApiError(
            401,
            "unauthorized",
            exc.message,
            {"reason": exc.reason},
            {"www-authenticate": f'Bearer error="invalid_token", error_description="{exc.reason}"'},
        )
        return error_response(err, rid(request))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        try:
            await auth.settle(request)  # a bad or limited key is a 401 or 429 before a 400
        except AuthError as refused:
            return await auth_error(request, refused)
        except ApiError as limited:
            return error_response(limited, rid(request))
        details = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query")),
                "problem": e.get("msg"),
            }
            for e in exc.errors()
        ]
        return error_response(
            ApiError(400, "invalid_request", "the request is not valid", details), rid(request)
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(ApiError(exc.status_code, code, str(exc.detail)), rid(request))

    @app.exception_handler(psycopg.Error)
    async def database_error(request: Request, exc: psycopg.Error) -> JSONResponse:
        err = from_database(exc)
        if err.status >= 500:
            jsonlog.log(
                logger,
                logging.ERROR,
                "database error",
                sqlstate=exc.sqlstate,
                error=type(exc).__name__,
                request_id=rid(request),
            )
        return error_response(err, rid(request))


def _install_probes(app: FastAPI, db: Database, settings: Settings) -> None:
    @app.get("/healthz", tags=["probes"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["probes"], summary="Database reachable and fully migrated")
    async def readyz() -> JSONResponse:
        expected = settings.expected_migration_version()
        try:
            applied = await db.migration_version()
        except Exception as exc:  # any failure to reach the database means not ready
            jsonlog.log(logger, logging.WARNING, "readiness check failed", error=type(exc).__name__)
            return JSONResponse(
                {
                    "status": "unavailable",
                    "database": "unreachable",
                    "expected_migration": expected,
                },
                status_code=503,
            )
        ready = applied is not None and (expected is None or applied >= expected)
        body = {
            "status": "ready" if ready else "migrations_pending",
            "database": "ok",
            "applied_migration": applied,
            "expected_migration": expected,
        }
        return JSONResponse(body, status_code=200 if ready else 503)


INT64 = 2**63


def _unstorable(value: Any) -> str | None:
    """Input Postgres cannot take (NUL in text, integers beyond bigint) is bad input: say so
    with a 400 instead of failing later."""
    if isinstance(value, str):
        return "text must not contain NUL (\\u0000) characters" if "\x00" in value else None
    if isinstance(value, int) and not isinstance(value, bool) and not -INT64 <= value < INT64:
        return "a number is out of range"
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list | tuple):
        return next((p for p in map(_unstorable, value) if p), None)
    return None


class Authenticator:
    """Who is calling (a Supabase JWT or a merchant API key), then the rate limit for them:
    one GCRA statement per request, keyed by API key or by user.

    A key this process has seen before is admitted by the gate statement sent in the same
    round trip as the call (`request.state.key_gate`); paths that send no call of their own
    (a 400 before any call, an action) settle the gate on its own first, so a bad or limited
    key is still a 401 or 429 before anything else."""

    def __init__(
        self, db: Database, settings: Settings, jwts: JwtVerifier, keys: ApiKeyVerifier
    ) -> None:
        self.db = db
        self.settings = settings
        self.jwts = jwts
        self.keys = keys

    async def __call__(self, request: Request) -> Caller:
        header = request.headers.get("authorization")
        token = header.partition(" ")[2].strip() if header else ""
        if token and looks_like_key(token):
            bearer_token(header)  # the scheme must still be Bearer
            gate, known = self.keys.gate(token, self.settings.rate_limit_enabled)
            request.state.key_gate = gate
            if known is None:
                await self.settle(request)  # first sighting here: admitted on its own
                known = request.state.api_key
            else:
                request.state.api_key = known
            request.state.user_id = f"api_key:{known['api_key_id']}"
            return self.keys.caller(known)
        caller = await self.jwts.verify(header)
        request.state.user_id = caller.user_id
        if caller.role == "service_role":
            return caller  # trusted servers are not rate limited
        await self._limit(request, f"user:{caller.user_id}", caller.user_id)
        return caller

    @staticmethod
    def take_gate(request: Request) -> KeyGate | None:
        """The request's pending key gate, handed out once."""
        gate = getattr(request.state, "key_gate", None)
        request.state.key_gate = None
        return gate

    def gate_passed(self, request: Request, gate: KeyGate) -> None:
        request.state.api_key = self.keys.admitted(gate)
        answer = gate.answer()
        if answer["remaining"] is not None:  # None when the limiter is switched off
            self._apply(
                request, True, answer["remaining"], 0, answer["reset_ms"], answer["per_min"]
            )

    def gate_refused(self, request: Request, exc: psycopg.Error) -> Exception:
        refusal = self.keys.refusal(exc)
        if isinstance(refusal, AuthError):
            request.state.api_key = None  # unknown to usage analytics, as a bad key always is
            return refusal
        request.state.api_key = refusal  # a 429 counts in the key's usage
        return self._rate_limited(
            request, refusal["retry_after_ms"], refusal["reset_ms"], refusal["limit"]
        )

    async def settle(self, request: Request) -> None:
        """Run a pending key gate on its own (raises the 401 or 429)."""
        gate = self.take_gate(request)
        if gate is None:
            return
        try:
            rows = await self.db.service_execute(gate.query)
        except psycopg.Error as exc:
            if exc.sqlstate in GATE_REFUSALS:
                raise self.gate_refused(request, exc) from None
            raise
        gate.row = rows[0]
        self.gate_passed(request, gate)

    async def _limit(self, request: Request, bucket: str, user_id: str | None) -> None:
        if not self.settings.rate_limit_enabled:
            return
        rows = await self.db.service_execute(
            "select r.allowed, r.remaining, r.retry_after_ms, r.reset_ms, l.per_min"
            " from (select private.rate_limit_for(null, %s::uuid) as per_min) as l,"
            " lateral private.rate_limit_take(%s, l.per_min,"
            " private.gcra_burst(l.per_min, %s::numeric)) as r",
            (user_id, bucket, self.settings.rate_limit_burst_fraction),
        )
        self._apply(request, *rows[0])

    @classmethod
    def _apply(
        cls,
        request: Request,
        allowed: bool,
        remaining: int,
        retry_ms: int,
        reset_ms: int,
        limit: int,
    ) -> None:
        """RateLimit-* headers on the response; a 429 when not allowed."""
        if not allowed:
            raise cls._rate_limited(request, retry_ms, reset_ms, limit)
        request.state.rate_headers = _rate_headers(limit, remaining, reset_ms)

    @staticmethod
    def _rate_limited(request: Request, retry_ms: int, reset_ms: int, limit: int) -> ApiError:
        headers = request.state.rate_headers = _rate_headers(limit, 0, reset_ms)
        return ApiError(
            429,
            "rate_limited",
            f"too many requests: the limit is {limit} per minute",
            {"retry_after_ms": retry_ms},
            {**headers, "retry-after": str(max(1, -(-retry_ms // 1000)))},
        )


def _rate_headers(limit: int, remaining: int, reset_ms: int) -> dict[str, str]:
    return {
        "ratelimit-limit": str(limit),
        "ratelimit-remaining": str(remaining),
        "ratelimit-reset": str(max(1, -(-reset_ms // 1000))),  # whole seconds, rounded up
    }


def _add_route(
    app: FastAPI, route: Route, db: Database, authenticate: Authenticator, settings: Settings
) -> None:
    path_params = PATH_PARAM.findall(route.path)
    has_body = route.method in ("POST", "PUT", "PATCH")

    async def endpoint(request: Request, caller: Caller, **inputs: Any) -> JSONResponse:
        args: dict[str, Any] = {}
        model = inputs.pop("input", None)
        if model is not None:
            # A body sent whole as jsonb needs JSON-ready values; separate arguments keep
            # Python types (UUID, datetime) so they bind to the RPC's parameter types.
            values = model.model_dump(
                exclude_unset=True, mode="json" if route.body_arg else "python"
            )
            if route.body_arg:
                if "idempotency_key" in values:
                    args["p_idempotency_key"] = values.pop("idempotency_key")
                args[route.body_arg] = values
            else:
                for name, value in values.items():
                    alias = type(model).model_fields[name].alias or name
                    args[f"p_{alias}"] = value
        idem = request.headers.get("idempotency-key")
        if idem and route.input and "idempotency_key" in route.input.model_fields:
            args.setdefault("p_idempotency_key", idem)
        for name in path_params:
            value = inputs[name]
            # Numeric ids bind to bigint parameters.
            args[f"p_{name}"] = int(value) if isinstance(value, str) and value.isdigit() else value
        if problem := _unstorable(args):
            await authenticate.settle(request)  # a bad key is a 401 (or 429) before a 400
            raise ApiError(400, "invalid_request", problem)
        headers = {h: request.headers[h] for h in FORWARDED_HEADERS if h in request.headers}
        headers["x-request-id"] = request.state.request_id

        async def call(
            rpc: str,
            rpc_args: dict[str, Any],
            *,
            read_only: bool = False,
            dry_run: bool = False,
            raw: bool = False,
        ) -> Any:
            gate = authenticate.take_gate(request)
            try:
                result = await db.call_rpc(
                    caller.role,
                    caller.claims,
                    rpc,
                    rpc_args,
                    headers,
                    read_only=read_only,
                    method=route.method,
                    path=request.url.path,
                    dry_run=dry_run,
                    raw=raw,
                    gate=gate,
                )
            except psycopg.Error as exc:
                if gate is not None and exc.sqlstate in GATE_REFUSALS:
                    raise authenticate.gate_refused(request, exc) from None
                raise
            if gate is not None:
                authenticate.gate_passed(request, gate)
            return result

        if route.action:
            await authenticate.settle(request)  # actions make several calls: admit first
            ctx = ActionContext(db=db, settings=settings, args=args, call=call)
            result = await ACTIONS[route.action](ctx)
            return JSONResponse(result, status_code=route.status)
        # The RPC already returns JSON: pass Postgres' text through untouched.
        text = await call(route.rpc, args, read_only=route.read_only, raw=True)
        return Response(
            content=text if text is not None else "null",
            status_code=route.status,
            media_type="application/json",
        )

    # Authentication (and the rate limit) is a dependency: a bad token is a 401, and an
    # over-limit caller a 429, before any input is validated.
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [
        inspect.Parameter("request", kw, annotation=Request),
        inspect.Parameter("caller", kw, annotation=Annotated[Caller, Depends(authenticate)]),
    ]
    patterns = dict(route.path_patterns)
    params += [
        inspect.Parameter(
            n,
            kw,
            annotation=Annotated[str, Path(pattern=patterns[n])]
            if n in patterns
            else Annotated[UUID, Path()],
        )
        for n in path_params
    ]
    if route.input is not None:
        source = Body() if has_body else Query()
        params.append(inspect.Parameter("input", kw, annotation=Annotated[route.input, source]))
    endpoint.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    endpoint.__name__ = route.rpc
    app.add_api_route(
        route.path,
        endpoint,
        methods=[route.method],
        summary=route.summary,
        tags=list(route.tags),
        status_code=route.status,
        responses={
            400: {"description": "invalid input"},
            401: {"description": "missing or invalid token"},
            403: {"description": "the caller's role does not allow this"},
        },
    )
