"""Merchant API keys: format, generation, verification and batched last-used stamps.

Format: lsp_<mode>_<24 base62 chars: ~142 random bits><6 base62 chars: CRC-32 checksum>.
The checksum rejects typos before any lookup. At rest only HMAC-SHA256(pepper, key) exists,
with the pepper held by the adapter, never in the database.

Pepper rotation: every digest carries the version of the pepper it was made under
(api_keys.pepper_version). The adapter knows a current pepper (LSP_API_KEY_PEPPER, version
LSP_API_KEY_PEPPER_VERSION) and may know others (LSP_API_KEY_OTHER_PEPPERS, a JSON object
version -> pepper). With others configured the gate tries the key's digest under each
(private.api_key_gate_rotating, in the same single statement) and re-digests a key found
under an older pepper with the current one. Rotation: (1) deploy the new pepper as an
*other* one everywhere; (2) make it current (the old one becomes other); (3) once no usable
key's digest uses the old version (metric lsp_api_key_digests), remove it. Keys made or first
admitted by a process are labelled with its current version in the flush batches.
"""

import hashlib
import hmac
import json
import logging
import re
import secrets
import time
import zlib
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from . import jsonlog, metrics, queries
from .auth import AuthError, Caller
from .db import Database, Gate

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
    return hmac.digest(pepper.encode(), key.encode(), hashlib.sha256)


# Digests this process made with generate(), to label with their pepper version in the next
# flush: pepper -> version comes from the ApiKeyVerifier's ring (only peppers it knows).
_made: list[tuple[bytes, str]] = []
MADE_MAX = 10_000


def generate(mode: str, pepper: str) -> NewKey:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LEN))
    head = f"lsp_{mode}_{body}"
    key = head + _checksum(head)
    new = NewKey(key, f"lsp_{mode}_{body[:4]}", key[-4:], digest(key, pepper))
    if len(_made) < MADE_MAX:
        _made.append((new.digest, pepper))
    return new


@dataclass(frozen=True)
class Peppers:
    """The current pepper and its version, and the other peppers this process accepts."""

    current: str
    version: int = 1
    others: dict[int, str] | None = None

    @classmethod
    def parse_others(cls, text: str | None) -> dict[int, str]:
        """LSP_API_KEY_OTHER_PEPPERS: a JSON object {"<version>": "<pepper>"}."""
        if not text or not text.strip():
            return {}
        raw = json.loads(text)
        if not isinstance(raw, dict) or not all(
            isinstance(v, str) and v and str(k).isdigit() for k, v in raw.items()
        ):
            raise ValueError('LSP_API_KEY_OTHER_PEPPERS must be {"<version>": "<pepper>", ...}')
        return {int(k): v for k, v in raw.items()}

    def version_of(self, pepper: str) -> int | None:
        if hmac.compare_digest(pepper.encode(), self.current.encode()):
            return self.version
        for version, other in (self.others or {}).items():
            if hmac.compare_digest(pepper.encode(), other.encode()):
                return version
        return None

    def rotating(self) -> bool:
        return bool(self.others)


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


# SQLSTATEs the API-key gate refuses with (PostgREST's PTxxx convention for HTTP statuses).
GATE_REFUSALS = {"PT401", "PT429"}


def refused(status: str) -> AuthError:
    """The 401 for a key the database says cannot be used."""
    if status in ("revoked", "expired"):
        return AuthError(f"{status}_key", f"this API key is {status}")
    if status == "unknown_key":
        return AuthError("unknown_key", "no such API key")
    return AuthError("merchant_inactive", f"this API key's merchant is {status[9:]}")


@dataclass
class KeyGate(Gate):
    """The gate for one key (its digest), in the call's batch or on its own."""

    digest: bytes = b""

    def answer(self) -> dict[str, Any]:
        """The gate's json answer: the key (api_key_id, merchant_id, mode) and the limiter's
        figures (per_min, remaining, reset_ms; the last two null with the limiter off)."""
        assert self.row is not None, "the gate has not run"
        return self.row[0]


class ApiKeyVerifier:
    """Admits API keys through the database gate (service_role) and stamps last use and
    rate-limit breaches in batches.

    Every request with a key runs `private.api_key_gate`: its status and rate limit are the
    database's decision each time. Once a process has seen a key admitted, the gate travels
    in the same round trip as the call; what is remembered between requests is only what
    never changes for a key (its id, merchant and mode), keyed by the key's digest (never the
    key itself)."""

    KNOWN_SIZE = 10_000

    def __init__(
        self,
        db: Database,
        pepper: str,
        burst_fraction: float = 0.1,
        peppers: Peppers | None = None,
    ) -> None:
        self.db = db
        self.pepper = pepper
        self.burst_fraction = burst_fraction
        if peppers is None:  # the version and other peppers come from the environment
            from .settings import get_settings

            settings = get_settings()
            peppers = Peppers(
                pepper,
                settings.api_key_pepper_version,
                Peppers.parse_others(
                    settings.api_key_other_peppers.get_secret_value()
                    if settings.api_key_other_peppers
                    else None
                ),
            )
        self.peppers = peppers
        self._last_used: dict[str, float] = {}
        self._known: OrderedDict[bytes, dict[str, Any]] = OrderedDict()
        self._breaches: Counter[tuple[str, datetime]] = Counter()
        self._labels: set[bytes] = set()  # digests admitted under the current pepper

    def gate(self, key: str, limit: bool) -> tuple[KeyGate, dict[str, Any] | None]:
        """The gate for a key, and the key's identity if this process has seen it admitted
        before. The format and checksum are checked before any database work; a digest this
        process has already seen admitted belongs to a key that passed them."""
        digest_ = digest(key, self.pepper)
        known = self._known.get(digest_)
        if known is None:
            try:
                check_format(key)
            except AuthError as exc:
                metrics.auth_refused("api_key", exc.reason)
                raise
        if self.peppers.rotating():
            others = sorted((self.peppers.others or {}).items(), reverse=True)
            params = queries.api_key_gate_rotating_params(
                [digest_, *(digest(key, p) for _, p in others)],
                [self.peppers.version, *(v for v, _ in others)],
                self.burst_fraction,
                limit,
            )
            return KeyGate(queries.API_KEY_GATE_ROTATING, params, digest=digest_), known
        params = queries.api_key_gate_params(digest_, self.burst_fraction, limit)
        return KeyGate(queries.API_KEY_GATE, params, digest=digest_), known

    def admitted(self, gate: KeyGate) -> dict[str, Any]:
        """The key's identity (from the gate's answer the first time); its use stamped."""
        info = self._known.get(gate.digest)
        if info is None:
            answer = gate.answer()
            info = {k: answer[k] for k in ("api_key_id", "merchant_id", "mode")}
            self._known[gate.digest] = info
            if len(self._known) > self.KNOWN_SIZE:
                self._known.popitem(last=False)
            self._note_pepper(gate.digest, answer)
        self.used(info)
        return info

    def _note_pepper(self, digest_: bytes, answer: dict[str, Any]) -> None:
        """First admission in this process: label the digest with the current version when
        it matched under the current pepper (or was re-digested to it); count the rest."""
        matched = answer.get("pepper_version", self.peppers.version)
        if answer.get("redigested"):
            metrics.API_KEY_REDIGESTS.labels(str(matched)).inc()
        elif matched != self.peppers.version:
            metrics.API_KEY_PEPPER_MATCHES.labels(str(matched)).inc()
            return  # a newer pepper made it; the process that re-digested it labelled it
        self._labels.add(digest_)

    def used(self, info: dict[str, Any]) -> None:
        """An active key was presented (admitted or rate limited): stamp it, in a batch."""
        self._last_used[info["api_key_id"]] = time.time()

    def refusal(self, exc: psycopg.Error) -> AuthError | dict[str, Any]:
        """What a gate refusal means: a 401, or (PT429) the key and the limiter's figures,
        counted as a breach (the gate's own count was rolled back with its raise)."""
        detail = exc.diag.message_detail or ""
        if exc.sqlstate == "PT401":
            refusal = refused(detail)
            metrics.auth_refused("api_key", refusal.reason)
            return refusal
        figures = json.loads(detail)
        self.used(figures)
        minute = datetime.now(UTC).replace(second=0, microsecond=0)
        self._breaches[(f"key:{figures['api_key_id']}", minute)] += 1
        return figures

    @staticmethod
    def caller(info: dict[str, Any]) -> Caller:
        claims = {
            "role": "authenticated",
            "aud": "authenticated",
            "merchant_id": info["merchant_id"],
            "api_key_id": info["api_key_id"],
            "key_mode": info["mode"],
        }
        return Caller(role="authenticated", claims=claims)

    async def flush(self) -> None:
        await self._flush_breaches()
        await self._flush_labels()
        if not self._last_used:
            return
        batch, self._last_used = self._last_used, {}
        try:
            await queries.touch_api_keys(
                self.db, list(batch), [datetime.fromtimestamp(t, UTC) for t in batch.values()]
            )
        except Exception as exc:  # keep the stamps for the next round
            for key_id, used in batch.items():
                self._last_used.setdefault(key_id, used)
            jsonlog.log(logger, logging.WARNING, "last-used flush failed", error=type(exc).__name__)

    async def _flush_labels(self) -> None:
        """Pepper-version labels for digests made (generate) or admitted by this process."""
        while _made:
            made, pepper = _made.pop()
            if self.peppers.version_of(pepper) == self.peppers.version:
                self._labels.add(made)
        if not self._labels:
            return
        batch, self._labels = self._labels, set()
        try:
            await queries.label_api_key_peppers(self.db, list(batch), self.peppers.version)
        except Exception as exc:  # keep them for the next round
            self._labels.update(batch)
            jsonlog.log(
                logger, logging.WARNING, "pepper label flush failed", error=type(exc).__name__
            )

    async def _flush_breaches(self) -> None:
        if not self._breaches:
            return
        batch, self._breaches = self._breaches, Counter()
        try:
            await queries.add_rate_limit_breaches(
                self.db, [b for b, _ in batch], [m for _, m in batch], list(batch.values())
            )
        except Exception as exc:  # keep them for the next round
            self._breaches.update(batch)
            jsonlog.log(
                logger, logging.WARNING, "breach count flush failed", error=type(exc).__name__
            )
