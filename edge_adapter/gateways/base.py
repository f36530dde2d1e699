"""One interface for every provider's credential check.

A provider module exposes `async def check(http, base_url, credentials) -> Outcome`:
it makes the provider's documented check call and says what the answer means. `run_check`
wraps it with a bounded timeout, latency measurement and the error classes operators see:
auth_failed, unreachable, timeout, rate_limited, unexpected_response.
"""

import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

import httpx

ERROR_CLASSES = ("auth_failed", "unreachable", "timeout", "rate_limited", "unexpected_response")


@dataclass
class Outcome:
    ok: bool
    http_status: int | None = None
    error_class: str | None = None
    message: str | None = None


@dataclass
class CheckResult(Outcome):
    latency_ms: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Check = Callable[[httpx.AsyncClient, str, dict[str, str]], Awaitable[Outcome]]


def by_status(response: httpx.Response, ok_statuses: tuple[int, ...] = (200,)) -> Outcome:
    """The usual mapping of an HTTP answer to an outcome."""
    status = response.status_code
    if status in ok_statuses:
        return Outcome(True, status)
    if status in (401, 403):
        return Outcome(False, status, "auth_failed", "the provider rejected the credentials")
    if status == 429:
        return Outcome(False, status, "rate_limited", "the provider is rate limiting us")
    return Outcome(False, status, "unexpected_response", f"unexpected HTTP {status}")


async def run_check(
    check: Check, base_url: str, credentials: dict[str, str], timeout_s: float
) -> CheckResult:
    started = time.perf_counter()
    try:
        # No redirects: a check that gets redirected is not talking to the provider's API.
        async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as http:
            outcome = await check(http, base_url.rstrip("/"), credentials)
    except httpx.TimeoutException:
        outcome = Outcome(False, None, "timeout", f"no answer within {timeout_s:g} s")
    except (httpx.ConnectError, httpx.NetworkError, httpx.RemoteProtocolError):
        outcome = Outcome(False, None, "unreachable", "could not connect to the provider")
    except (ValueError, KeyError, TypeError):
        outcome = Outcome(
            False, None, "unexpected_response", "the provider's answer was not understood"
        )
    latency = int((time.perf_counter() - started) * 1000)
    return CheckResult(**asdict(outcome), latency_ms=latency)
