"""The request context: one plain ASGI middleware (cheaper than Starlette's
BaseHTTPMiddleware) for the request id, no-store caching on the API, rate-limit headers, a
JSON 500 for anything unhandled, usage rollups for API-key traffic, Prometheus request
metrics (by route template) and one JSON log line per request."""

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import jsonlog, metrics
from ..errors import ApiError, error_response
from ..usage import UsageRecorder

logger = logging.getLogger("edge_adapter.api")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContext:
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
        metrics.request_started()
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
