"""The OpenAPI document: FastAPI's, plus what it cannot see by itself.

- Request bodies are read by the endpoints after authentication, so FastAPI does not collect
  their models: `body_schemas` adds them to components, `operation_extra` documents each
  body, the Idempotency-Key header and the route's security.
- Responses: each route's success model (schemas.RESPONSES) and every error status it can
  answer, all in the one envelope ({"error": {code, message, details, request_id}}) with
  the headers that really come with them (`route_responses`). FastAPI's default 422
  "HTTPValidationError" is removed: our validation errors are 400 invalid_request.
- securitySchemes (a Supabase JWT or a merchant API key, both HTTP bearer) on every /api
  route except the provider webhooks, which the provider's signature authenticates.
- The probes (/healthz, /readyz) get their real bodies.
- The live stream (GET /api/v1/stream, stream.py) answers `text/event-stream`, not JSON:
  `_document_stream` gives it that media type (a string body with an example), the bearer
  schemes plus its `?access_token=` stream token, and its errors in the envelope.
"""

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from . import schemas
from .routes import ROUTES, Route

REF = "#/components/schemas/{model}"
BODY_METHODS = ("POST", "PUT", "PATCH")
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"

DESCRIPTION = """\
REST surface over LightSpeedPay's Postgres RPCs: every route runs one RPC as the caller, so
Postgres decides who may do what, exactly as for the dashboard's supabase-js calls.

**Authentication**: `Authorization: Bearer <token>` with a Supabase JWT (users of the
dashboard, operators, `service_role` servers) or a merchant API key (`lsp_test_...` /
`lsp_live_...`). Both are HTTP bearer schemes; a route answers 401 without one.

**Errors** always come in one envelope, whatever the status:
`{"error": {"code", "message", "details", "request_id"}}`. Validation errors are 400
`invalid_request` with `details: [{field, problem}]`. Beyond what each route lists: 405
`method_not_allowed` (with `Allow`) for a method a path does not take, 404 for an unknown
path, 308 `https_required` (with `Location`) for plain http when the deployment forces HTTPS.

**Money** is always an integer number of minor units (paise for INR), never a float.

**Retries**: routes that document `Idempotency-Key` return the first answer to a repeat
(with `Idempotent-Replayed: true`) for 24 hours; the same key with different parameters is
422 `idempotency_key_reused`, and while the first request still runs, 409
`idempotency_key_in_use` with `Retry-After`.

**Rate limits**: `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds)
on answers to rate-limited callers (users and API keys; not `service_role`); over the limit,
429 `rate_limited` with `Retry-After`.
"""

SECURITY_SCHEMES: dict[str, Any] = {
    "supabaseJwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A Supabase Auth access token (role `authenticated`, HS256 with the "
        "project secret or an asymmetric key from the project's JWKS), or a `service_role` "
        "token for trusted servers. The caller's memberships and admin flag decide, in "
        "Postgres, what it may do.",
    },
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "lsp_test_<30 characters> or lsp_live_<30 characters>",
        "description": "A merchant API key (created with POST /api/v1/merchant/credentials), "
        "sent as a bearer token. It acts for its merchant only, in its mode (test or live), "
        "within its rate limit; it cannot manage keys or reach operator routes.",
    },
    "streamToken": {
        "type": "apiKey",
        "in": "query",
        "name": "access_token",
        "description": "A 60 s stream token from POST /api/v1/stream/tokens, for GET "
        "/api/v1/stream only (an EventSource cannot send headers). Send it or an "
        "Authorization header, not both.",
    },
}
SECURITY: list[dict[str, list[str]]] = [{"supabaseJwt": []}, {"apiKey": []}]

ERROR_REF = {"$ref": REF.format(model="ErrorEnvelope")}


def _header(description: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": schema}


SECONDS = {"type": "integer", "minimum": 1}
_RATE = {
    "RateLimit-Limit": (
        "requests per minute allowed to this caller",
        {"type": "integer", "minimum": 1},
    ),
    "RateLimit-Remaining": (
        "requests left in the current window",
        {"type": "integer", "minimum": 0},
    ),
    "RateLimit-Reset": ("seconds until the window is full again", SECONDS),
}
# components.headers: referenced by every response instead of repeated in each.
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-Id": _header(
        "The request's id (the client's X-Request-Id if it was 1..128 safe characters, else "
        "a new UUID); quote it to support.",
        {"type": "string", "minLength": 1, "maxLength": 128},
        required=True,
    ),
    **{name: _header(text, schema) for name, (text, schema) in _RATE.items()},
    **{f"{name}-Required": _header(text, schema, True) for name, (text, schema) in _RATE.items()},
    "Retry-After": _header("seconds to wait before retrying", SECONDS, required=True),
    "Retry-After-Optional": _header(
        "seconds to wait before retrying (with idempotency_key_in_use)", SECONDS
    ),
    "Idempotent-Replayed": _header(
        "Present (true) when this is the stored answer to an earlier request with the same "
        "Idempotency-Key.",
        {"type": "string", "enum": ["true"]},
    ),
    "WWW-Authenticate": _header(
        'Bearer error="invalid_token", error_description="<reason>"', {"type": "string"}, True
    ),
    "Allow": _header("the methods the path takes", {"type": "string"}, True),
}


def header_ref(name: str) -> dict[str, str]:
    assert name in HEADERS, name
    return {"$ref": f"#/components/headers/{name}"}


def rate_headers(required: bool) -> dict[str, Any]:
    suffix = "-Required" if required else ""
    return {name: header_ref(name + suffix) for name in _RATE}


# status -> (description, example code, example message, example details)
ERRORS: dict[int, tuple[str, str, str, Any]] = {
    400: (
        "Invalid input: `invalid_request` (details: [{field, problem}]), `invalid_parameter` "
        "(a value the database refused), `invalid_idempotency_key`.",
        "invalid_request",
        "the request is not valid",
        [{"field": "amount", "problem": "Input should be greater than 0"}],
    ),
    401: (
        "Missing or invalid credentials (details.reason: e.g. token_expired, invalid_key, "
        "key_revoked, merchant_inactive).",
        "unauthorized",
        "the token has expired",
        {"reason": "token_expired"},
    ),
    403: (
        "The caller's role does not allow this.",
        "forbidden",
        "you are not allowed to do this",
        {"sqlstate": "42501"},
    ),
    404: (
        "No such resource, or not one the caller may see.",
        "not_found",
        "payment pay_0123456789abcdef0123 does not exist",
        {"sqlstate": "P0002"},
    ),
    409: (
        "`conflict` (it already exists, or a row it needs is gone), `retry` (a concurrent "
        "change won: retry), `idempotency_key_in_use` (with Retry-After).",
        "idempotency_key_in_use",
        "a request with this Idempotency-Key is still being processed: retry in a moment",
        None,
    ),
    413: (
        "The body is larger than the configured limit.",
        "payload_too_large",
        "the request body is larger than 1048576 bytes",
        {"max_bytes": 1048576},
    ),
    415: (
        "The body is not JSON.",
        "unsupported_media_type",
        "send the body as JSON (Content-Type: application/json)",
        None,
    ),
    422: (
        "A business rule refused it (`rule_violated`), the Idempotency-Key was used with "
        "other parameters (`idempotency_key_reused`), or a gateway's connectivity test "
        "failed (`gateway_test_failed`).",
        "rule_violated",
        "the merchant must keep at least one owner",
        {"sqlstate": "P0001"},
    ),
    429: (
        "Over the caller's rate limit; retry after Retry-After seconds.",
        "rate_limited",
        "too many requests: the limit is 600 per minute",
        {"retry_after_ms": 1200},
    ),
    431: (
        "The request headers are larger than the configured limit.",
        "headers_too_large",
        "the request headers are larger than 16384 bytes",
        {"max_bytes": 16384},
    ),
    500: (
        "An unexpected failure (no internals are shown).",
        "internal_error",
        "something went wrong on our side",
        None,
    ),
    503: (
        "The database is unavailable or timed out; retry shortly.",
        "database_unavailable",
        "the database is unavailable, retry shortly",
        None,
    ),
}
EXAMPLE_REQUEST_ID = "3f2b1c9a-0d4e-4f6a-8b7c-9d0e1f2a3b4c"


def error_example(status: int) -> dict[str, Any]:
    _, code, message, details = ERRORS[status]
    return {
        "error": {
            "code": code,
            "message": message,
            "details": copy.deepcopy(details),
            "request_id": EXAMPLE_REQUEST_ID,
        }
    }


def error_response(
    status: int, *, api: bool = True, description: str | None = None
) -> dict[str, Any]:
    """One error status, documented with the envelope and its headers. `api`: a
    bearer-authenticated route (401 carries WWW-Authenticate; RateLimit-* may come); `build`
    turns these into references to components.responses."""
    headers: dict[str, Any] = {"X-Request-Id": header_ref("X-Request-Id")}
    if api:
        headers.update(rate_headers(required=status == 429))
    if status == 401 and api:
        headers["WWW-Authenticate"] = header_ref("WWW-Authenticate")
    if status == 429:
        headers["Retry-After"] = header_ref("Retry-After")
    if status == 409:
        headers["Retry-After"] = header_ref("Retry-After-Optional")
    return {
        "model": schemas.ErrorEnvelope,
        "description": description or ERRORS[status][0],
        "headers": headers,
    }


def success_response(
    model: type[BaseModel], *, idempotent: bool, api: bool = True, description: str | None = None
) -> dict[str, Any]:
    headers: dict[str, Any] = {"X-Request-Id": header_ref("X-Request-Id")}
    if api:
        headers.update(rate_headers(required=False))
    if idempotent:
        headers["Idempotent-Replayed"] = header_ref("Idempotent-Replayed")
    doc = " ".join((model.__doc__ or "").split())
    return {"model": model, "description": description or doc or "Success", "headers": headers}


ERROR_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "UnprocessableEntity",
    429: "TooManyRequests",
    431: "HeadersTooLarge",
    500: "InternalError",
    503: "Unavailable",
}


def _shared_error_responses(document: dict[str, Any]) -> None:
    """The bearer routes' error responses are the same everywhere: keep one copy of each in
    components.responses (with its example) and reference it."""
    shared = document["components"].setdefault("responses", {})
    for status, name in ERROR_NAMES.items():
        response = copy.deepcopy(error_response(status))
        response.pop("model")
        response["content"] = {
            "application/json": {"schema": ERROR_REF, "example": error_example(status)}
        }
        shared[name] = response
    for item in document["paths"].values():
        for operation in item.values():
            if not operation.get("security"):
                continue  # probes and provider webhooks keep their own
            for code, response in operation.get("responses", {}).items():
                name = ERROR_NAMES.get(int(code))
                if name and response.get("description") == shared[name]["description"]:
                    operation["responses"][code] = {"$ref": f"#/components/responses/{name}"}


def answer(route: Route) -> schemas.Answer:
    try:
        return schemas.RESPONSES[route.rpc]
    except KeyError:
        raise LookupError(
            f"route {route.method} {route.path} has no response model: add "
            f"{route.rpc!r} to edge_adapter/api/schemas.py RESPONSES"
        ) from None


def has_body(route: Route) -> bool:
    return route.input is not None and route.method in BODY_METHODS


def route_statuses(route: Route) -> list[int]:
    """Every error status the route can answer."""
    statuses = {400, 401, 403, 429, 431, 500, 503, *answer(route).errors}
    if "{" in route.path:
        statuses.add(404)
    if route.method != "GET":
        statuses.add(409)  # concurrent changes (serialization, deadlock, lock) and conflicts
    if has_body(route):
        statuses.update((413, 415))
    if route.idempotent:
        statuses.update((409, 422))
    return sorted(statuses)


def route_responses(route: Route) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of the route's add_api_route: its success model and its errors."""
    responses: dict[int | str, dict[str, Any]] = {
        route.status: success_response(answer(route).model, idempotent=route.idempotent)
    }
    for status in route_statuses(route):
        responses[status] = error_response(status)
    return responses


def operation_extra(route: Route) -> dict[str, Any]:
    """The `openapi_extra=` of the route: security, the body (read by the endpoint itself,
    after authentication) and the Idempotency-Key header."""
    extra: dict[str, Any] = {"security": SECURITY}
    if has_body(route):
        assert route.input is not None
        required = any(f.is_required() for f in route.input.model_fields.values())
        extra["requestBody"] = {
            "required": required,
            "content": {
                "application/json": {"schema": {"$ref": REF.format(model=route.input.__name__)}}
            },
        }
    if route.idempotent:
        key_required = answer(route).idempotency_key_required
        extra["parameters"] = [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": key_required,
                "description": "1..255 visible ASCII characters, unique per operation you "
                "mean; a repeat within 24 h returns the first answer (Idempotent-Replayed: "
                "true)." + (" Required here." if key_required else ""),
                "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                "example": "order-1001-attempt-1",
            }
        ]
    return extra


def body_schemas() -> dict[str, Any]:
    schemas_: dict[str, Any] = {}
    for route in ROUTES:
        if not has_body(route):
            continue
        assert route.input is not None
        schema = route.input.model_json_schema(ref_template=REF)
        schemas_.update(schema.pop("$defs", {}))
        schemas_[route.input.__name__] = schema
    return schemas_


def _without_fastapi_validation_error(document: dict[str, Any]) -> None:
    """FastAPI documents a 422 HTTPValidationError on every operation with parameters; our
    validation errors are 400s in the envelope. Drop it (and its schemas)."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            response = operation.get("responses", {}).get("422")
            if response and "HTTPValidationError" in str(response.get("content")):
                del operation["responses"]["422"]
    components = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        if name not in str(document.get("paths")):
            components.pop(name, None)


def _document_probes(document: dict[str, Any], ref: Any) -> None:
    """/healthz and /readyz (probes.py) answer their own bodies, not the envelope."""
    paths = document.get("paths", {})
    plain = {"X-Request-Id": header_ref("X-Request-Id")}
    health = paths.get("/healthz", {}).get("get")
    if health is not None:
        health["operationId"] = "healthz"
        health["responses"] = {
            "200": {
                "description": "The process is up.",
                "headers": plain,
                "content": {"application/json": {"schema": ref(schemas.Health)}},
            }
        }
    ready = paths.get("/readyz", {}).get("get")
    if ready is not None:
        ready["operationId"] = "readyz"
        body = {"application/json": {"schema": ref(schemas.Readiness)}}
        ready["responses"] = {
            "200": {
                "description": "Ready: migrated and queues known.",
                "headers": plain,
                "content": body,
            },
            "503": {
                "description": "Not ready: the database is unreachable, migrations are pending, "
                "or the queues differ from the code's.",
                "headers": plain,
                "content": body,
            },
        }


STREAM_PATH = "/api/v1/stream"
STREAM_WIRE = (
    "retry: 3000\n\n"
    "id: 1200\nevent: ready\n"
    'data: {"topics":["admin:gateways"],"last_event_id":1200}\n\n'
    "id: 1201\nevent: gateway.health_changed\n"
    'data: {"id":1201,"topic":"admin:gateways","event":"gateway.health_changed",'
    '"at":"2025-01-15T10:30:00.123456+00:00","data":{"state":"down"}}\n\n'
    ": keep-alive\n\n"
)
STREAM_DESCRIPTION = (
    "The event stream (https://html.spec.whatwg.org/multipage/server-sent-events.html); it "
    "stays open until the client leaves or something ends it. `retry:` comes first; then "
    "`event: ready` (data {topics, last_event_id}, or on a resume {topics, resumed_from}); "
    "each live event as `id: <event id>`, `event: <type>`, `data: {id, topic, event, at, "
    "data}`; `: keep-alive` comments in silence. A resume older than the kept window gets "
    "`event: gap` (data {reason, last_event_id, resume_from, message}: refetch, then carry "
    "on). The stream ends with `event: error` (data {reason, message}: slow_consumer, "
    "credentials_expired, unavailable, or a refused re-authorisation) or `event: reconnect` "
    "(server_shutdown); reconnect with Last-Event-ID.\n\nThe schema describes one event as "
    "an SSE parser reads it (OpenAPI 3.2's `itemSchema`, which 3.1 lacks). On the wire:"
    "\n\n```\n" + STREAM_WIRE + "```"
)
STREAM_EVENT: dict[str, Any] = {
    "type": "object",
    "title": "StreamEvent",
    "description": "One event of GET /api/v1/stream, as an EventSource reads it.",
    "required": ["event", "data"],
    "properties": {
        "event": {
            "type": "string",
            "description": "ready, gap, error, reconnect, or a live event's type",
            "examples": ["ready", "payment.succeeded", "alert.firing"],
        },
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "description": "one line of JSON: a live event is {id, topic, event, at, data}",
        },
        "id": {
            "type": "string",
            "pattern": "^[0-9]{1,18}$",
            "description": "the live event id: Last-Event-ID resumes after it",
        },
        "retry": {"type": "integer", "minimum": 0, "description": "reconnect delay, ms"},
    },
    "examples": [
        {
            "id": "1201",
            "event": "gateway.health_changed",
            "data": '{"id":1201,"topic":"admin:gateways","event":"gateway.health_changed",'
            '"at":"2025-01-15T10:30:00.123456+00:00","data":{"state":"down"}}',
        }
    ],
}
STREAM_ERRORS: dict[int, str | None] = {
    400: "Bad topics (none, malformed, more than 20), a bad Last-Event-ID, or both an "
    "Authorization header and access_token.",
    401: None,
    403: "A topic the caller (or the stream token) may not read: `topic_forbidden`, naming "
    "the topic; or the caller's role does not allow it.",
    429: None,
    431: None,
    500: None,
    503: "`too_many_streams` (this server has no room for another stream) or the database "
    "is unavailable; retry shortly.",
}


def _document_stream(document: dict[str, Any]) -> None:
    """GET /api/v1/stream answers an event stream, and its failures in the envelope.

    OpenAPI 3.1 has no way to describe the items of a stream; 3.2 adds `itemSchema` for
    sequential media types such as text/event-stream, each item an event {event, data, id,
    retry} (https://learn.openapis.org/specification/media-types). For 3.0/3.1 documents
    schemathesis reads a text/event-stream `schema` as that per-event schema and checks every
    event of the answer against it
    (https://schemathesis.readthedocs.io/en/stable/guides/server-sent-events/): so `schema`
    here is one event, and the description shows the wire format."""
    operation = document.get("paths", {}).get(STREAM_PATH, {}).get("get")
    if operation is None:
        return
    operation["operationId"] = "live_stream"
    operation["security"] = [*SECURITY, {"streamToken": []}]
    headers: dict[str, Any] = {
        "X-Request-Id": header_ref("X-Request-Id"),
        **rate_headers(required=False),
        "Cache-Control": _header(
            "no-store: proxies and browsers keep nothing", {"type": "string"}, required=True
        ),
    }
    document["components"]["schemas"]["StreamEvent"] = copy.deepcopy(STREAM_EVENT)
    responses: dict[str, Any] = {
        "200": {
            "description": STREAM_DESCRIPTION,
            "headers": headers,
            "content": {"text/event-stream": {"schema": {"$ref": REF.format(model="StreamEvent")}}},
        }
    }
    for status, description in STREAM_ERRORS.items():
        response = error_response(status, description=description)
        response.pop("model")
        example = error_example(status)
        if status == 403:
            example["error"].update(
                code="topic_forbidden",
                message="you may not read topic admin:alerts",
                details=None,
            )
        response["content"] = {"application/json": {"schema": ERROR_REF, "example": example}}
        responses[str(status)] = response
    operation["responses"] = responses


def _add_schemas(found: dict[str, Any], new: dict[str, Any]) -> None:
    """Add component schemas; two different models must never share a name."""
    for name, schema in new.items():
        if name in found and found[name] != schema:
            raise ValueError(f"two different schemas are named {name!r}: rename one")
        found[name] = schema


def _model_schemas(*models: type[BaseModel]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=REF, mode="serialization")
        found.update(schema.pop("$defs", {}))
        found[model.__name__] = schema
    return found


def _restore_examples(document: dict[str, Any]) -> None:
    """FastAPI's encoder drops every null from the document, examples included: set the
    response models' examples and the error examples again, nulls and all."""
    found = document["components"]["schemas"]
    for model in vars(schemas).values():
        if isinstance(model, type) and issubclass(model, BaseModel) and model.__name__ in found:
            extra = model.model_config.get("json_schema_extra")
            if isinstance(extra, dict) and "examples" in extra:
                found[model.__name__]["examples"] = copy.deepcopy(extra["examples"])
    for item in document["paths"].values():
        for operation in item.values():
            for status, response in operation.get("responses", {}).items():
                media = response.get("content", {}).get("application/json", {})
                if media.get("schema") == ERROR_REF and int(status) in ERRORS:
                    media["example"] = error_example(int(status))


def build(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = document.setdefault("components", {})
    found = components.setdefault("schemas", {})
    _add_schemas(found, body_schemas())
    _add_schemas(found, _model_schemas(schemas.Health, schemas.Readiness))
    components["securitySchemes"] = SECURITY_SCHEMES
    components["headers"] = copy.deepcopy(HEADERS)
    _without_fastapi_validation_error(document)
    _document_probes(document, lambda model: {"$ref": REF.format(model=model.__name__)})
    _restore_examples(document)
    _document_stream(document)
    _shared_error_responses(document)
    components["responses"]["MethodNotAllowed"] = {
        "description": "405 method_not_allowed: the path exists, not with this method; "
        "`Allow` lists the methods it takes. Any path may answer it.",
        "headers": {"X-Request-Id": header_ref("X-Request-Id"), "Allow": header_ref("Allow")},
        "content": {
            "application/json": {
                "schema": ERROR_REF,
                "example": {
                    "error": {
                        "code": "method_not_allowed",
                        "message": "Method Not Allowed",
                        "details": None,
                        "request_id": EXAMPLE_REQUEST_ID,
                    }
                },
            }
        },
    }
    return document


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
