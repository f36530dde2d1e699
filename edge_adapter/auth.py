"""Caller identification: Supabase JWTs (HS256 project secret, or asymmetric keys via JWKS).

The adapter only establishes *who* is calling; what they may do is decided in Postgres, which
reads the claims we hand it (`request.jwt.claims`). So every claim the database or this module
reads is type-checked here, and a token is a 401 with a stable `reason`, never a 500 or a
database error:

- `role`: a string from ALLOWED_ROLES (`invalid_claim` if not a string, `unsupported_role`);
- `sub`: a UUID string for `authenticated` tokens, and a UUID whenever present, because
  `auth.uid()` casts it to uuid (`missing_claim`, `invalid_claim`);
- `aud`: a string or a list of strings (RFC 7519 section 4.1.3,
  https://www.rfc-editor.org/rfc/rfc7519#section-4.1.3), which must name our audience for user
  tokens (`invalid_claim`, `wrong_audience`);
- `exp` (required), `nbf`, `iat`: JSON numbers, i.e. NumericDate (RFC 7519 section 2,
  https://www.rfc-editor.org/rfc/rfc7519#section-2), never strings or booleans (`invalid_claim`);
- `email`: a string if present (`invalid_claim`);
- `api_key_id`, `merchant_id`, `key_mode` are set only by the adapter for API-key callers
  (`ApiKeyVerifier.caller`); the database trusts them, so a JWT carrying any of them is refused
  (`reserved_claim`);
- with `jwt_max_lifetime_s` set, `exp - iat` may not exceed it, and `iat` is required
  (`token_lifetime_too_long`).

Signing keys (`KeyRing`) rotate without downtime, following Supabase's signing-key procedure
(https://supabase.com/docs/guides/auth/signing-keys): a new key is created as *standby* and
published in the JWKS before Auth signs with it, then made current (the old one is then
"previously used" and still trusted), and the old one is revoked (removed from the JWKS) once
every token it signed has expired. Verification picks the key by the token's `kid` among the
keys trusted now: the JWKS (`LSP_JWKS_URL`, fetched every `LSP_JWKS_REFRESH_S` and at once,
at most every `LSP_JWKS_MIN_REFRESH_S`, when a token names a kid we do not have, so a key
made current before our refresh still verifies) and inline keys (`LSP_JWT_KEYS`, a JWKS
document: `oct` keys are HS256 shared secrets). HS256 tokens whose kid no key has fall back
to the legacy project secret `LSP_JWT_SECRET` (empty = retired). A failed fetch keeps the
keys we had. A key removed from the JWKS stops verifying at the next fetch.
"""

import asyncio
import json
import logging
import math
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from . import jsonlog, metrics
from .settings import Settings

logger = logging.getLogger("edge_adapter.auth")

ASYMMETRIC_ALGORITHMS = {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA"}
# Roles a token may carry into the database. anon tokens are refused: every REST route
# needs a signed-in user or a server using the service key.
ALLOWED_ROLES = {"authenticated", "service_role"}
# Claims only the adapter sets (for API-key callers, see apikeys.ApiKeyVerifier.caller).
RESERVED_CLAIMS = ("api_key_id", "merchant_id", "key_mode")
NUMERIC_DATE_CLAIMS = ("exp", "nbf", "iat")
# What Postgres's uuid input would accept as the canonical text form; nothing looser reaches it.
UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


class AuthError(Exception):
    """A 401: `reason` is a stable code clients can branch on."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Caller:
    role: str
    claims: dict[str, Any]

    @property
    def user_id(self) -> str | None:
        sub = self.claims.get("sub")
        return str(sub) if sub else None


def parse_jwks(document: Any) -> dict[str, jwt.PyJWK]:
    """The usable keys of a JWKS document ({"keys": [...]}) by kid; keys without a kid, for
    another use than signatures, or that PyJWT cannot load are skipped."""
    keys: dict[str, jwt.PyJWK] = {}
    entries = document.get("keys") if isinstance(document, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig":
            continue
        try:
            keys[entry["kid"]] = jwt.PyJWK(entry)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue
    return keys


class KeyRing:
    """The signing keys trusted now, by kid (see the module docstring)."""

    def __init__(
        self,
        jwks_url: str | None,
        inline: str | None,
        refresh_s: float = 300.0,
        min_refresh_s: float = 10.0,
    ) -> None:
        self.jwks_url = jwks_url
        self.refresh_s = refresh_s
        self.min_refresh_s = min_refresh_s
        self.inline = parse_jwks(json.loads(inline)) if inline and inline.strip() else {}
        self.fetched: dict[str, jwt.PyJWK] = {}
        self.fetched_at = 0.0  # last successful fetch
        self.tried_at = -math.inf  # last attempt
        self._lock = asyncio.Lock()
        metrics.JWKS_KEYS.set(len(self.inline))

    @property
    def has_asymmetric(self) -> bool:
        return self.jwks_url is not None or any(
            k.algorithm_name in ASYMMETRIC_ALGORITHMS for k in self.inline.values()
        )

    async def find(self, kid: str) -> jwt.PyJWK | None:
        if kid in self.inline:
            return self.inline[kid]
        if self.jwks_url is None:
            return None
        now = time.monotonic()
        if now - self.fetched_at >= self.refresh_s or (
            kid not in self.fetched and now - self.tried_at >= self.min_refresh_s
        ):
            await self.refresh(force=kid not in self.fetched)
        return self.fetched.get(kid)

    async def refresh(self, force: bool = False) -> None:
        """Fetch the JWKS (one fetch at a time; waiters reuse its result)."""
        started = time.monotonic()
        async with self._lock:
            if self.tried_at >= started or (
                not force and time.monotonic() - self.fetched_at < self.refresh_s
            ):
                return  # someone fetched while we waited
            self.tried_at = time.monotonic()
            try:
                async with httpx.AsyncClient(timeout=5, follow_redirects=False) as http:
                    response = await http.get(self.jwks_url or "")
                    response.raise_for_status()
                    keys = parse_jwks(response.json())
            except (httpx.HTTPError, ValueError) as exc:
                metrics.JWKS_REFRESHES.labels("error").inc()
                jsonlog.log(logger, logging.WARNING, "JWKS fetch failed", error=type(exc).__name__)
                return  # keep the keys we had
            metrics.JWKS_REFRESHES.labels("ok").inc()
            if set(keys) != set(self.fetched):
                jsonlog.log(
                    logger,
                    logging.INFO,
                    "JWKS keys changed",
                    added=sorted(set(keys) - set(self.fetched)),
                    removed=sorted(set(self.fetched) - set(keys)),
                )
            self.fetched = keys
            self.fetched_at = time.monotonic()
            metrics.JWKS_KEYS.set(len(self.inline) + len(keys))


class JwtVerifier:
    """Verifies bearer JWTs. A token that verified is remembered (as PostgREST's JWT cache
    does) until it expires or for CACHE_TTL_S at most, so a dashboard polling with the same
    token is not re-verified on every request; the expiry is still checked on every use."""

    CACHE_TTL_S = 60.0
    CACHE_SIZE = 4096

    def __init__(self, settings: Settings) -> None:
        self._cache: OrderedDict[str, tuple[Caller, float]] = OrderedDict()
        self._secret = settings.jwt_secret.get_secret_value()
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._leeway = settings.jwt_leeway_s
        # Until settings.py declares the field, a Settings without it means "no maximum".
        self._max_lifetime: int | None = getattr(settings, "jwt_max_lifetime_s", None)
        self._keys = KeyRing(
            settings.jwks_url,
            settings.jwt_keys.get_secret_value() if getattr(settings, "jwt_keys", None) else None,
            getattr(settings, "jwks_refresh_s", 300.0),
            getattr(settings, "jwks_min_refresh_s", 10.0),
        )

    async def verify(self, authorization: str | None) -> Caller:
        try:
            return await self._verify_cached(authorization)
        except AuthError as exc:
            metrics.auth_refused("jwt", exc.reason)
            raise

    async def _verify_cached(self, authorization: str | None) -> Caller:
        token = bearer_token(authorization)
        cached = self._cache.get(token)
        if cached is not None:
            caller, good_until = cached
            if time.time() < good_until:
                return caller
            del self._cache[token]  # expired or stale: verify again (and report why)
        caller = await self._verify(token)
        exp = float(caller.claims["exp"]) + self._leeway
        self._cache[token] = (caller, min(exp, time.time() + self.CACHE_TTL_S))
        if len(self._cache) > self.CACHE_SIZE:
            self._cache.popitem(last=False)
        return caller

    async def _verify(self, token: str) -> Caller:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise AuthError("malformed_token", "the bearer token is not a JWT") from None
        alg = header.get("alg")
        kid = header.get("kid")
        if alg != "HS256" and not (alg in ASYMMETRIC_ALGORITHMS and self._keys.has_asymmetric):
            raise AuthError("unsupported_algorithm", f"tokens signed with {alg!r} are not accepted")
        if kid is not None and not isinstance(kid, str):
            raise AuthError("malformed_token", "the token's 'kid' header is not a string")
        found = await self._keys.find(kid) if kid else None
        if found is not None and found.algorithm_name == alg:
            key: Any = found.key
            key_label = kid
        elif alg == "HS256" and self._secret:
            key, key_label = self._secret, "legacy"  # the project's legacy JWT secret
        else:
            raise AuthError("unknown_key", "the signing key is not one we trust")

        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                issuer=self._issuer,
                leeway=self._leeway,
                # aud, sub and the times are checked below with strict types and stable
                # reasons (PyJWT would take "123" or true as a time, and call a list malformed).
                options={
                    "require": ["exp", "role"],
                    "verify_aud": False,
                    "verify_sub": False,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise AuthError("bad_signature", "the token's signature does not verify") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError("missing_claim", f"the token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidIssuerError:
            raise AuthError("wrong_issuer", "the token was issued by someone else") from None
        except jwt.InvalidTokenError:
            raise AuthError("invalid_token", "the token is not valid") from None

        role = self._check_claims(claims)
        self._check_times(claims)
        metrics.JWT_VERIFIED.labels(alg, key_label).inc()
        return Caller(role=role, claims=claims)

    def _check_times(self, claims: dict[str, Any]) -> None:
        """PyJWT's rules, on claims already known to be numbers: expired when exp <= now -
        leeway; not yet valid when nbf or iat > now + leeway."""
        now = time.time()
        if claims["exp"] <= now - self._leeway:
            raise AuthError("token_expired", "the token has expired")
        if any(claims.get(name, now) > now + self._leeway for name in ("nbf", "iat")):
            raise AuthError("token_not_yet_valid", "the token is not valid yet (nbf/iat)")
        self._check_lifetime(claims)

    def _check_claims(self, claims: dict[str, Any]) -> str:
        """Strict types for every claim the adapter or the database reads; the caller's role."""
        for name in RESERVED_CLAIMS:
            if name in claims:
                raise AuthError("reserved_claim", f"the {name!r} claim cannot be set by a token")
        role = claims.get("role")
        if not isinstance(role, str):
            raise AuthError("invalid_claim", "the 'role' claim must be a string")
        if role not in ALLOWED_ROLES:
            raise AuthError("unsupported_role", f"tokens for role {role!r} cannot use this API")
        for name in NUMERIC_DATE_CLAIMS:
            if name in claims and not is_numeric_date(claims[name]):
                raise AuthError("invalid_claim", f"the {name!r} claim must be a number")
        sub = claims.get("sub")
        if role == "authenticated" and not sub:
            raise AuthError("missing_claim", "the token lacks the 'sub' claim")
        if "sub" in claims and not (isinstance(sub, str) and UUID_TEXT.fullmatch(sub)):
            raise AuthError("invalid_claim", "the 'sub' claim must be a user id (a UUID)")
        if "email" in claims and not isinstance(claims["email"], str):
            raise AuthError("invalid_claim", "the 'email' claim must be a string")
        self._check_audience(claims, role)
        return role

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        if self._max_lifetime is None:
            return
        if "iat" not in claims:
            raise AuthError(
                "token_lifetime_too_long", "the token has no 'iat', so its lifetime is unknown"
            )
        if claims["exp"] - claims["iat"] > self._max_lifetime:
            raise AuthError(
                "token_lifetime_too_long",
                f"the token is valid for longer than {self._max_lifetime} s",
            )

    def _check_audience(self, claims: dict[str, Any], role: str) -> None:
        aud = claims.get("aud")
        if aud is None:
            audiences: list[str] = []
        elif isinstance(aud, str):
            audiences = [aud]
        elif isinstance(aud, list) and all(isinstance(a, str) for a in aud):
            audiences = aud
        else:
            raise AuthError("invalid_claim", "the 'aud' claim must be a string or strings")
        # User tokens must name our audience; Supabase's service key has no aud at all.
        if (audiences or role == "authenticated") and self._audience not in audiences:
            raise AuthError("wrong_audience", "the token is meant for another audience")


def is_numeric_date(value: object) -> bool:
    """A JSON number (not a boolean, not a string), finite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise AuthError("missing_token", "send Authorization: Bearer <token>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("malformed_token", "use the Bearer scheme: Authorization: Bearer <token>")
    return token.strip()
