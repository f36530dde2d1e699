"""Caller identification: Supabase JWTs (HS256 project secret, or asymmetric keys via JWKS).

The adapter only establishes *who* is calling; what they may do is decided in Postgres.
"""

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import jwt

from .settings import Settings

ASYMMETRIC_ALGORITHMS = {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA"}
# Roles a token may carry into the database. anon tokens are refused: every REST route
# needs a signed-in user or a server using the service key.
ALLOWED_ROLES = {"authenticated", "service_role"}


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
        self._jwks = (
            jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300, timeout=5)
            if settings.jwks_url
            else None
        )

    async def verify(self, authorization: str | None) -> Caller:
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
        if alg == "HS256":
            key: Any = self._secret
        elif alg in ASYMMETRIC_ALGORITHMS and self._jwks is not None:
            try:
                signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
            except jwt.PyJWKClientError:
                raise AuthError("unknown_key", "the signing key is not in the JWKS") from None
            key = signing_key.key
        else:
            raise AuthError("unsupported_algorithm", f"tokens signed with {alg!r} are not accepted")

        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "role"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token_expired", "the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("token_not_yet_valid", "the token is not valid yet (nbf/iat)") from None
        except jwt.InvalidSignatureError:
            raise AuthError("bad_signature", "the token's signature does not verify") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError("missing_claim", f"the token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidIssuerError:
            raise AuthError("wrong_issuer", "the token was issued by someone else") from None
        except jwt.InvalidTokenError:
            raise AuthError("invalid_token", "the token is not valid") from None

        role = claims.get("role")
        if role not in ALLOWED_ROLES:
            raise AuthError("unsupported_role", f"tokens for role {role!r} cannot use this API")
        self._check_audience(claims, role)
        if role == "authenticated" and not claims.get("sub"):
            raise AuthError("missing_claim", "the token lacks the 'sub' claim")
        return Caller(role=role, claims=claims)

    def _check_audience(self, claims: dict[str, Any], role: str) -> None:
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else list(aud or [])
        # User tokens must name our audience; Supabase's service key has no aud at all.
        if (audiences or role == "authenticated") and self._audience not in audiences:
            raise AuthError("wrong_audience", "the token is meant for another audience")


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise AuthError("missing_token", "send Authorization: Bearer <token>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("malformed_token", "use the Bearer scheme: Authorization: Bearer <token>")
    return token.strip()
