"""Deliver one webhook attempt: sign, send to the checked address, record what happened."""

import json
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from .signing import signature_header
from .ssrf import BlockedDestination, resolve_safely

MAX_BODY = 4096


@dataclass
class Attempt:
    started_at: str
    status_code: int | None
    latency_ms: int
    response_body: str | None
    error: str | None
    retry_after_s: int | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def event_body(event: dict[str, Any]) -> str:
    return json.dumps(
        {"type": event["type"], "timestamp": event["created_at"], "data": event["payload"]},
        separators=(",", ":"),
    )


def _retry_after(response: httpx.Response) -> int | None:
    value = response.headers.get("retry-after", "")
    return int(value) if value.isdigit() else None


_clients: OrderedDict[str, httpx.AsyncClient] = OrderedDict()


def _client_for(hostname: str, timeout_s: float) -> httpx.AsyncClient:
    """One keep-alive client per destination host name, so a TLS connection set up for one
    name (and its certificate) is never reused for another name on the same address."""
    client = _clients.get(hostname)
    if client is None:
        client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)
        _clients[hostname] = client
        if len(_clients) > 256:
            _clients.popitem(last=False)  # the evicted client's sockets close when collected
    else:
        _clients.move_to_end(hostname)
    return client


async def deliver(
    url: str,
    event: dict[str, Any],
    secrets: list[str],
    *,
    timeout_s: float,
    allow_loopback: bool,
) -> Attempt:
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    body = event_body(event)
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": "LightSpeedPay-Webhooks/1",
        "webhook-id": event["id"],
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(event["id"], timestamp, body, secrets),
    }

    def done(status: int | None, text: str | None, error: str | None, retry: int | None = None):
        latency = int((time.perf_counter() - t0) * 1000)
        clipped = text.encode()[:MAX_BODY].decode(errors="ignore") if text else None
        return Attempt(started.isoformat(), status, latency, clipped, error, retry)

    try:
        pinned, host, extensions = await resolve_safely(url, allow_loopback)
        http = _client_for(urlsplit(url).hostname or "", timeout_s)
        response = await http.post(
            pinned, content=body, headers={**headers, **host}, extensions=extensions
        )
        text = response.text
    except BlockedDestination as exc:
        return done(None, None, f"refused: {exc}")
    except httpx.TimeoutException:
        return done(None, None, f"timed out after {timeout_s:g} s")
    except httpx.HTTPError as exc:
        return done(None, None, f"connection failed: {type(exc).__name__}")
    error = None
    if 300 <= response.status_code < 400:
        error = "redirects are not followed"
    return done(response.status_code, text, error, _retry_after(response))
