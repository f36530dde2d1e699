"""One error shape for every failure: {"error": {"code", "message", "details"}}.

Database errors map by SQLSTATE (ARCHITECTURE.md); anything unexpected becomes a 500 with
a request id and no internals.
"""

import json
from typing import Any

import psycopg
from fastapi.responses import JSONResponse

# SQLSTATE -> (HTTP status, stable error code)
SQLSTATE_MAP: dict[str, tuple[int, str]] = {
    "22023": (400, "invalid_parameter"),
    "22P02": (400, "invalid_parameter"),
    "22007": (400, "invalid_parameter"),
    "22008": (400, "invalid_parameter"),
    "22003": (400, "invalid_parameter"),
    "22001": (400, "invalid_parameter"),
    "23502": (400, "invalid_parameter"),
    "P0001": (422, "rule_violated"),
    "23514": (422, "rule_violated"),
    "42501": (403, "forbidden"),
    "P0002": (404, "not_found"),
    "23505": (409, "conflict"),
    "23503": (409, "conflict"),
    "40001": (409, "retry"),
    "40P01": (409, "retry"),
    "55P03": (409, "retry"),
    "57014": (503, "timeout"),
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


def error_response(err: ApiError, request_id: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "error": {"code": err.code, "message": err.message, "details": err.details}
    }
    if request_id:
        body["error"]["request_id"] = request_id
    return JSONResponse(body, status_code=err.status, headers=err.headers)


def _raised_http(diag: Any) -> ApiError | None:
    """An RPC's chosen answer, raised PostgREST's way: SQLSTATE PGRST with the body
    {code, message, details, hint} as JSON in the message and {status, headers} in the
    detail (https://docs.postgrest.org/en/stable/references/errors.html)."""
    try:
        body = json.loads(diag.message_primary or "")
        meta = json.loads(diag.message_detail or "{}")
        status = int(meta.get("status", 400))
        headers = {str(k): str(v) for k, v in (meta.get("headers") or {}).items()}
    except (ValueError, TypeError, AttributeError):
        return None
    if not 400 <= status <= 599 or not isinstance(body, dict):
        return None
    return ApiError(
        status,
        str(body.get("code") or "error"),
        str(body.get("message") or ""),
        body.get("details"),
        headers,
    )


def from_database(exc: psycopg.Error) -> ApiError:
    """Map a database error to an ApiError, keeping only the message the RPC chose to show."""
    if isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None:
        return ApiError(503, "database_unavailable", "the database is unavailable, retry shortly")
    state = exc.sqlstate or ""
    if state == "PGRST" and (raised := _raised_http(exc.diag)) is not None:
        return raised
    # Any other data exception (class 22: a date Postgres cannot hold, an offset out of
    # range, ...) is the input's fault, as PostgREST treats it.
    mapped = SQLSTATE_MAP.get(state) or ((400, "invalid_parameter") if state[:2] == "22" else None)
    if mapped:
        status, code = mapped
        diag = exc.diag
        message = diag.message_primary or code
        if state == "42501" and message.startswith("permission denied"):
            message = "you are not allowed to do this"
        details = {"sqlstate": state}
        if diag.message_hint:
            details["hint"] = diag.message_hint
        return ApiError(status, code, message, details)
    if state.startswith("08") or state in {"57P01", "57P02", "57P03", "53300"}:
        return ApiError(503, "database_unavailable", "the database is unavailable, retry shortly")
    return ApiError(500, "internal_error", "something went wrong on our side")
