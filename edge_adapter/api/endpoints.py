"""The generic endpoint: one per row of the route table. It authenticates (a dependency, so a
bad token is a 401 and an over-limit caller a 429 before any input is read), then reads and
validates input (a pydantic model per route; a body only after authentication, never more
than the Admission middleware lets through), and runs the row's RPC as the caller, or the
row's action (api/actions.py) for the few routes that do more than one call."""

import inspect
import re
from typing import Annotated, Any
from uuid import UUID

import psycopg
from fastapi import Depends, FastAPI, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from ..apikeys import GATE_REFUSALS
from ..auth import Caller
from ..db import Database
from ..errors import ApiError
from ..settings import Settings
from . import openapi
from .actions import ACTIONS, ActionContext
from .authn import Authenticator
from .routes import ROUTES, Route

PATH_PARAM = re.compile(r"{(\w+)}")
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# Only these request headers reach the database (request.headers), never Authorization,
# each cut to HEADER_VALUE_MAX characters; x-forwarded-for is the client address as the
# server resolved it (forwarded headers count only from trusted proxies).
FORWARDED_HEADERS = ("user-agent", "x-client-info")
HEADER_VALUE_MAX = 256


def install(app: FastAPI, db: Database, auth: Authenticator, settings: Settings) -> None:
    for route in ROUTES:
        add_route(app, route, db, auth, settings)


INT64 = 2**63


def unstorable(value: Any) -> str | None:
    """Input Postgres cannot take (NUL in text, integers beyond bigint) is bad input: say so
    with a 400 instead of failing later."""
    if isinstance(value, str):
        return "text must not contain NUL (\\u0000) characters" if "\x00" in value else None
    if isinstance(value, int) and not isinstance(value, bool) and not -INT64 <= value < INT64:
        return "a number is out of range"
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list | tuple):
        return next((p for p in map(unstorable, value) if p), None)
    return None


def is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def read_body(request: Request, model: type[BaseModel]) -> BaseModel:
    """The request body, read only now (after authentication) and validated as JSON. An
    empty body is {} (the model says which fields are required)."""
    raw = await request.body()
    if raw.strip() and not is_json(request.headers.get("content-type", "application/json")):
        raise ApiError(
            415, "unsupported_media_type", "send the body as JSON (Content-Type: application/json)"
        )
    try:
        return model.model_validate_json(raw if raw.strip() else b"{}")
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_input=False)]
        ) from None


def client_headers(request: Request) -> dict[str, str]:
    headers = {
        h: request.headers[h][:HEADER_VALUE_MAX] for h in FORWARDED_HEADERS if h in request.headers
    }
    if request.client:
        headers["x-forwarded-for"] = request.client.host
    headers["x-request-id"] = request.state.request_id
    return headers


def add_route(
    app: FastAPI, route: Route, db: Database, authenticate: Authenticator, settings: Settings
) -> None:
    path_params = PATH_PARAM.findall(route.path)
    has_body = route.method in ("POST", "PUT", "PATCH")

    async def endpoint(request: Request, caller: Caller, **inputs: Any) -> JSONResponse:
        args: dict[str, Any] = {}
        model = inputs.pop("input", None)
        if has_body and route.input is not None:
            model = await read_body(request, route.input)
        if model is not None:
            # A body sent whole as jsonb needs JSON-ready values; separate arguments keep
            # Python types (UUID, datetime) so they bind to the RPC's parameter types.
            values = model.model_dump(
                exclude_unset=True, mode="json" if route.body_arg else "python"
            )
            if route.body_arg:
                args[route.body_arg] = values
            else:
                for name, value in values.items():
                    alias = type(model).model_fields[name].alias or name
                    args[f"p_{alias}"] = value
        if route.idempotent:
            idem = request.headers.get("idempotency-key")
            if idem is not None:
                if not IDEMPOTENCY_KEY.match(idem):
                    await authenticate.settle(request)
                    raise ApiError(
                        400,
                        "invalid_idempotency_key",
                        "Idempotency-Key must be 1 to 255 visible ASCII characters",
                    )
                args["p_idempotency_key"] = idem
        for name in path_params:
            value = inputs[name]
            # Numeric ids bind to bigint parameters.
            args[f"p_{name}"] = int(value) if isinstance(value, str) and value.isdigit() else value
        for name, value in args.items():
            if problem := unstorable(value):
                await authenticate.settle(request)  # a bad key is a 401 (or 429) before a 400
                field = name.removeprefix("p_")
                raise ApiError(
                    400,
                    "invalid_request",
                    f"{field}: {problem}",
                    [{"field": field, "problem": problem}],
                )
        headers = client_headers(request)

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
            if not dry_run:  # what the RPC asked of the response (PostgREST's GUCs)
                answer.update(status=result.status, headers=result.headers)
            return result.value

        answer: dict[str, Any] = {"status": None, "headers": {}}
        if route.action:
            await authenticate.settle(request)  # actions make several calls: admit first
            ctx = ActionContext(db=db, settings=settings, args=args, call=call)
            result = await ACTIONS[route.action](ctx)
            return JSONResponse(
                result, status_code=answer["status"] or route.status, headers=answer["headers"]
            )
        # The RPC already returns JSON: pass Postgres' text through untouched.
        text = await call(route.rpc, args, read_only=route.read_only, raw=True)
        return Response(
            content=text if text is not None else "null",
            status_code=answer["status"] or route.status,
            headers=answer["headers"],
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
    if route.input is not None and not has_body:
        params.append(inspect.Parameter("input", kw, annotation=Annotated[route.input, Query()]))
    endpoint.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    endpoint.__name__ = route.rpc
    # Documentation only: the endpoint passes the RPC's JSON through, never through these
    # models. A body is read by the endpoint itself (after authentication), documented here.
    app.add_api_route(
        route.path,
        endpoint,
        methods=[route.method],
        summary=route.summary,
        tags=list(route.tags),
        status_code=route.status,
        operation_id=route.rpc,
        openapi_extra=openapi.operation_extra(route),
        responses=openapi.route_responses(route),
    )
