"""Merchant API keys: format, generation, verification and batched last-used stamps.

Format: lsp_<mode>_<24 base62 chars: ~142 random bits><6 base62 chars: CRC-32 checksum>.
The checksum rejects typos before any lookup. At rest only HMAC-SHA256(pepper, key) exists,
with the pepper held by the adapter, never in the database.
"""

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import jsonlog
from .auth import AuthError, Caller
from .db import Database

logger = logging.getLogger("edge_adapter.apikeys")
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BODY_LEN = 24
KEY_RE = re.compile(r"^lsp_(test|live)_([0-9A-Za-z]{30})$")


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def _checksum(head: str) -> str:
    return _base62(zlib.crc32(head.encode()), 6)


@dataclass(frozen=True)
class NewKey:
    key: str
    prefix: str
    last4: str
    digest: bytes


def digest(key: str, pepper: str) -> bytes:
    return hmac.new(pepper.encode(), key.encode(), hashlib.sha256).digest()


def generate(mode: str, pepper: str) -> NewKey:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LEN))
    head = f"lsp_{mode}_{body}"
    key = head + _checksum(head)
    return NewKey(key, f"lsp_{mode}_{body[:4]}", key[-4:], digest(key, pepper))


def looks_like_key(token: str) -> bool:
    return token.startswith("lsp_")


def check_format(key: str) -> None:
    """Shape and checksum, before any database work."""
    match = KEY_RE.match(key)
    if not match:
        raise AuthError("malformed_key", "that is not a LightSpeedPay API key")
    head, check = key[:-6], key[-6:]
    if not hmac.compare_digest(_checksum(head), check):
        raise AuthError("invalid_checksum", "the API key has a typo (checksum mismatch)")


class ApiKeyVerifier:
    """Verifies keys through the database (service_role) and stamps last use in batches."""

    def __init__(
        self, db: Database, pepper: str, flush_interval_s: float = 5.0, burst_fraction: float = 0.1
    ) -> None:
        self.db = db
        self.pepper = pepper
        self.burst_fraction = burst_fraction
        self.flush_interval_s = flush_interval_s
        self._last_used: dict[str, datetime] = {}

    async def verify(self, key: str, limit: bool = True) -> tuple[Caller, dict[str, Any]]:
        """The caller for a key, and (limit=True) the rate-limit decision made in the same
        statement: info["rate"] = {allowed, remaining, retry_after_ms, reset_ms, limit}."""
        check_format(key)
        hashed = digest(key, self.pepper)
        if limit:
            rows = await self.db.service_execute(
                "select api_key_id::text, merchant_id::text, mode, status, per_min, allowed,"
                " remaining, retry_after_ms, reset_ms"
                " from private.authenticate_and_limit(%s, %s::numeric)",
                (hashed, self.burst_fraction),
            )
            if not rows:
                raise AuthError("unknown_key", "no such API key")
            key_id, merchant_id, mode, status, per_min, allowed, remaining, retry, reset = rows[0]
            info: dict[str, Any] = {
                "api_key_id": key_id,
                "merchant_id": merchant_id,
                "mode": mode,
                "status": status,
                "rate_limit_per_min": per_min,
            }
            if status == "active":
                info["rate"] = {
                    "allowed": allowed,
                    "remaining": remaining,
                    "retry_after_ms": retry,
                    "reset_ms": reset,
                    "limit": per_min,
                }
        else:
            rows = await self.db.service_execute(
                "select private.authenticate_api_key(%s)", (hashed,)
            )
            info = rows[0][0] if rows else None
            if info is None:
                raise AuthError("unknown_key", "no such API key")
        status = info["status"]
        if status != "active":
            if status in ("revoked", "expired"):
                raise AuthError(f"{status}_key", f"this API key is {status}")
            raise AuthError("merchant_inactive", f"this API key's merchant is {status[9:]}")
        self._last_used[info["api_key_id"]] = datetime.now(UTC)
        claims = {
            "role": "authenticated",
            "aud": "authenticated",
            "merchant_id": info["merchant_id"],
            "api_key_id": info["api_key_id"],
            "key_mode": info["mode"],
        }
        return Caller(role="authenticated", claims=claims), info

    async def flush(self) -> None:
        if not self._last_used:
            return
        batch, self._last_used = self._last_used, {}
        try:
            await self.db.service_execute(
                "select private.touch_api_keys(%s::uuid[], %s::timestamptz[])",
                (list(batch), list(batch.values())),
            )
        except Exception as exc:  # keep the stamps for the next round
            for key_id, used in batch.items():
                self._last_used.setdefault(key_id, used)
            jsonlog.log(logger, logging.WARNING, "last-used flush failed", error=type(exc).__name__)

    async def run_flusher(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            await self.flush()
