"""Plain ASGI middleware (cheaper than Starlette's BaseHTTPMiddleware).

RequestContext: the request id, response headers (security headers, no-store caching on
the API, rate-limit headers), a JSON 500 for anything unhandled, usage rollups for API-key
traffic, Prometheus request metrics (by route template) and one JSON log line per
request.

Admission: limits before any work: plain http redirected to HTTPS when configured, headers
above LSP_MAX_HEADER_BYTES in all refused with 431 (the h11 parser also stops buffering a
header block beyond it), a body above LSP_MAX_BODY_BYTES refused with 413 from its
Content-Length or while it streams.
"""

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import jsonlog, metrics
from ..errors import ApiError, error_response
from ..settings import Settings
from ..usage import UsageRecorder

logger = logging.getLogger("edge_adapter.api")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# A JSON API needs no content at all; the docs pages load their own scripts and styles.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src blob:; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
# The operator console (edge_adapter/console, served by api/console.py): its own scripts,
# styles and calls only; no inline script or style, no eval, no plugins, no framing.
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
CONSOLE_PREFIX = "/console"
HSTS = "max-age=63072000; includeSubDomains"


def content_security_policy(path: str) -> str:
    if path in DOCS_PATHS:
        return DOCS_CSP
    if path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/"):
        return CONSOLE_CSP
    return API_CSP


def security_headers(path: str, settings: Settings) -> dict[str, str]:
    headers = {
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
        "content-security-policy": content_security_policy(path),
    }
    if settings.force_https:
        headers["strict-transport-security"] = HSTS
    return headers


class RequestContext:
    def __init__(self, app: ASGIApp, usage: UsageRecorder, settings: Settings) -> None:
        self.app = app
        self.usage = usage
        self.settings = settings

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
        metrics.request_started()
        status = 500
        response_started = False
        first_byte_s: float | None = None  # an event stream's latency: until its headers

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started, first_byte_s
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                if any(
                    name.lower() == b"content-type" and value.startswith(b"text/event-stream")
                    for name, value in message.get("headers", [])
                ):
                    first_byte_s = time.perf_counter()
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                for name, value in security_headers(path, self.settings).items():
                    headers.setdefault(name, value)
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
            # A stream lasts as long as the client stays: its latency is the time to its
            # headers, so streams do not skew the latency histogram or the usage rollups.
            duration_ms = ((first_byte_s or time.perf_counter()) - started) * 1000
            metrics.observe_request(scope, status, duration_ms / 1000)
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


class Admission:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.max_body = settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.settings.force_https and scope.get("scheme") == "http":
            await self._to_https(scope, receive, send)
            return
        header_bytes = sum(len(name) + len(value) for name, value in scope["headers"])
        if header_bytes > self.settings.max_header_bytes:
            err = ApiError(
                431,
                "headers_too_large",
                f"the request headers are larger than {self.settings.max_header_bytes} bytes",
                {"max_bytes": self.settings.max_header_bytes},
                {"connection": "close"},
            )
            await error_response(err, scope.get("state", {}).get("request_id"))(
                scope, receive, send
            )
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await self._refuse(scope, receive, send, declared.isdigit())
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise self._too_large()
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except ApiError as exc:  # raised while streaming, outside the app's handlers
            if started or exc.status != 413:
                raise
            await error_response(exc, scope.get("state", {}).get("request_id"))(
                scope, receive, send
            )

    def _too_large(self) -> ApiError:
        return ApiError(
            413,
            "payload_too_large",
            f"the request body is larger than {self.max_body} bytes",
            {"max_bytes": self.max_body},
            {"connection": "close"},
        )

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, too_large: bool) -> None:
        err = (
            self._too_large()
            if too_large
            else ApiError(400, "invalid_request", "Content-Length is not a number")
        )
        request_id = scope.get("state", {}).get("request_id")
        await error_response(err, request_id)(scope, receive, send)

    async def _to_https(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Plain http behind the trusted proxy: 308 to the configured public URL (never to
        the Host header), same path and query."""
        query = scope.get("query_string", b"").decode("latin-1")
        target = self.settings.public_base_url.rstrip("/") + scope["path"]
        target += f"?{query}" if query else ""
        err = ApiError(
            308, "https_required", "use HTTPS", {"location": target}, {"location": target}
        )
        await error_response(err, scope.get("state", {}).get("request_id"))(scope, receive, send)
