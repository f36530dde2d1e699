"""What every fake provider shares: fault modes, request counts, and helpers for parsing
requests the way the real APIs take them."""

import asyncio
import base64
import secrets
from collections import Counter
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from .credentials import FAKE_CREDENTIALS

# provider -> {"mode": ok|error|hang|rate_limit, "latency_ms": int}
modes: dict[str, dict[str, Any]] = {}
calls: Counter[str] = Counter()


def reset() -> None:
    modes.clear()
    calls.clear()


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
