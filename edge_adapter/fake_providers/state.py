"""What every fake provider shares: fault modes, request counts, and helpers for parsing
requests the way the real APIs take them."""

import asyncio
import base64
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from .credentials import FAKE_CREDENTIALS

# provider -> {"mode": ok|error|hang|rate_limit, "latency_ms": int}
modes: dict[str, dict[str, Any]] = {}
calls: Counter[str] = Counter()


def reset() -> None:
    modes.clear()
    calls.clear()
    reset_payments()


def good(provider: str, **given: str) -> bool:
    """The given credential fields match the fake's valid ones (constant-time)."""
    expected = FAKE_CREDENTIALS[provider]
    return all(
        secrets.compare_digest(given.get(k, ""), v) for k, v in expected.items() if k in given
    )


async def behaviour(provider: str) -> Response | None:
    """Apply the configured latency / failure mode; None means answer normally."""
    calls[provider] += 1
    mode = modes.get(provider, {})
    if mode.get("latency_ms"):
        await asyncio.sleep(mode["latency_ms"] / 1000)
    match mode.get("mode", "ok"):
        case "hang":
            await asyncio.sleep(3600)
        case "error":
            return JSONResponse({"error": "service unavailable"}, status_code=503)
        case "rate_limit":
            return JSONResponse({"error": "too many requests"}, 429, {"retry-after": "1"})
    return None


async def form(request: Request) -> dict[str, str]:
    """application/x-www-form-urlencoded body, parsed without extra dependencies."""
    return {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}


def basic_auth(request: Request) -> tuple[str, str]:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        user, _, password = base64.b64decode(value).decode().partition(":")
    except ValueError:
        return "", ""
    return user, password


# -- payments ------------------------------------------------------------------------------
# What the fake providers have done, so tests can prove "charged once": every order or
# payment a provider module creates is kept here, keyed by (provider, its own id), and each
# capture is counted per our payment id (which every client sends in the provider's
# free-form fields: notes, udf, metadata).
orders: dict[tuple[str, str], dict[str, Any]] = {}
refunds: dict[tuple[str, str], dict[str, Any]] = {}
captures: Counter[str] = Counter()  # our payment id -> successful captures
# provider -> the URL its webhooks go to (a real provider's dashboard setting); a request
# that names its own notify URL (where the real API has one) overrides it.
webhook_targets: dict[str, str] = {}
# provider -> fn(order, outcome) completing a hosted page or a pending payment: it updates
# the order, counts the capture and sends the provider's webhook (see complete_order). It
# raises Refused when the object can no longer be paid (cancelled, expired, terminated).
completers: dict[str, Callable[[dict[str, Any], str], Awaitable[None]]] = {}
sent_webhooks: list[dict[str, Any]] = []


class Refused(Exception):
    """The hosted page refuses the customer: what they try to pay was cancelled or expired.
    Nothing is captured; /_hosted/.../complete answers 409 with the message."""


def cancelled(provider: str) -> None:
    """Count one cancel / expire call that reached `provider` (GET /_calls shows
    `<provider>.cancel`), on top of the provider's total."""
    calls[f"{provider}.cancel"] += 1


def reset_payments() -> None:
    orders.clear()
    refunds.clear()
    captures.clear()
    webhook_targets.clear()
    sent_webhooks.clear()


def capture(payment_id: str | None) -> None:
    """Count one successful capture for our payment id."""
    if payment_id:
        captures[payment_id] += 1


async def after_commit(provider: str) -> Response | None:
    """Fault modes that strike *after* the provider has acted (the order exists, the
    charge may be captured): `error_after_commit` answers 500, `hang_after_commit` never
    answers. They make the ambiguous outcomes a client must resolve by looking up."""
    match modes.get(provider, {}).get("mode"):
        case "error_after_commit":
            return JSONResponse({"error": "internal error"}, status_code=500)
        case "hang_after_commit":
            await asyncio.sleep(3600)
    return None


async def send_webhook(
    provider: str, body: bytes, headers: dict[str, str], url: str | None = None
) -> int | None:
    """POST a provider webhook (already signed by the caller) to its target; returns the
    receiver's status, or None when no target is set or it cannot be reached. Every send is
    kept in `sent_webhooks` so tests can replay one."""
    target = url or webhook_targets.get(provider)
    record = {"provider": provider, "url": target, "body": body.decode(), "headers": headers}
    sent_webhooks.append(record)
    if not target:
        return None
    try:
        response = await _client().post(target, content=body, headers=headers)
    except httpx.HTTPError:
        record["status"] = None
        return None
    record["status"] = response.status_code
    return response.status_code


_clients: dict[int, httpx.AsyncClient] = {}


def _client() -> httpx.AsyncClient:
    """One keep-alive client per event loop for outbound webhooks (making a client per send
    costs milliseconds of CPU: an SSL context each)."""
    loop = id(asyncio.get_running_loop())
    client = _clients.get(loop)
    if client is None or client.is_closed:
        client = _clients[loop] = httpx.AsyncClient(timeout=5)
    return client


def later(coro: Awaitable[Any]) -> None:
    """Run a coroutine in the background (asynchronous completion, webhooks after the
    answer), keeping a reference so it is not garbage collected mid-flight."""
    task = asyncio.ensure_future(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)


_background: set[asyncio.Future[Any]] = set()
