"""Every failure answers in one shape ({"error": {code, message, details, request_id}}):
our ApiErrors, 401s, validation errors (after the key gate, so a bad key is still a 401),
Starlette's 404/405, and database errors mapped by SQLSTATE."""

import logging

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import jsonlog
from ..auth import AuthError
from ..errors import ApiError, error_response, from_database
from .authn import Authenticator

logger = logging.getLogger("edge_adapter.api")


def request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def unauthorized(request: Request, exc: AuthError) -> JSONResponse:
    err = ApiError(
        401,
        "unauthorized",
        exc.message,
        {"reason": exc.reason},
        {"www-authenticate": f'Bearer error="invalid_token", error_description="{exc.reason}"'},
    )
    return error_response(err, request_id(request))


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path (the table has a route per method, and
    Starlette's 405 names only the first one's)."""
    path = request.scope["path"]
    methods: set[str] = set()
    for route in request.app.router.routes:
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


def install(app: FastAPI, auth: Authenticator) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc, request_id(request))

    @app.exception_handler(AuthError)
    async def auth_error(request: Request, exc: AuthError) -> JSONResponse:
        return unauthorized(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        try:
            await auth.settle(request)  # a bad or limited key is a 401 or 429 before a 400
        except AuthError as refused:
            return unauthorized(request, refused)
        except ApiError as limited:
            return error_response(limited, request_id(request))
        details = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query")),
                "problem": e.get("msg"),
            }
            for e in exc.errors()
        ]
        return error_response(
            ApiError(400, "invalid_request", "the request is not valid", details),
            request_id(request),
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["allow"] = ", ".join(allowed_methods(request))
        err = ApiError(exc.status_code, code, str(exc.detail), headers=headers)
        return error_response(err, request_id(request))

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
                request_id=request_id(request),
            )
        return error_response(err, request_id(request))
