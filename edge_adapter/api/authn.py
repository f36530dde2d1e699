"""Who is calling (a Supabase JWT or a merchant API key), then the rate limit for them: one
GCRA statement per request, keyed by API key or by user. Who may do what is Postgres's
decision, never this module's."""

import psycopg
from fastapi import Request

from .. import queries
from ..apikeys import GATE_REFUSALS, ApiKeyVerifier, KeyGate, looks_like_key
from ..auth import AuthError, Caller, JwtVerifier, bearer_token
from ..db import Database
from ..errors import ApiError
from ..settings import Settings


class Authenticator:
    """Who is calling (a Supabase JWT or a merchant API key), then the rate limit for them:
    one GCRA statement per request, keyed by API key or by user.

    A key this process has seen before is admitted by the gate statement sent in the same
    round trip as the call (`request.state.key_gate`); paths that send no call of their own
    (a 400 before any call, an action) settle the gate on its own first, so a bad or limited
    key is still a 401 or 429 before anything else."""

    def __init__(
        self, db: Database, settings: Settings, jwts: JwtVerifier, keys: ApiKeyVerifier
    ) -> None:
        self.db = db
        self.settings = settings
        self.jwts = jwts
        self.keys = keys

    async def __call__(self, request: Request) -> Caller:
        header = request.headers.get("authorization")
        token = header.partition(" ")[2].strip() if header else ""
        if token and looks_like_key(token):
            bearer_token(header)  # the scheme must still be Bearer
            gate, known = self.keys.gate(token, self.settings.rate_limit_enabled)
            request.state.key_gate = gate
            if known is None:
                await self.settle(request)  # first sighting here: admitted on its own
                known = request.state.api_key
            else:
                request.state.api_key = known
            request.state.user_id = f"api_key:{known['api_key_id']}"
            return self.keys.caller(known)
        caller = await self.jwts.verify(header)
        request.state.user_id = caller.user_id
        if caller.role == "service_role":
            return caller  # trusted servers are not rate limited
        await self._limit(request, f"user:{caller.user_id}", caller.user_id)
        return caller

    @staticmethod
    def take_gate(request: Request) -> KeyGate | None:
        """The request's pending key gate, handed out once."""
        gate = getattr(request.state, "key_gate", None)
        request.state.key_gate = None
        return gate

    def gate_passed(self, request: Request, gate: KeyGate) -> None:
        request.state.api_key = self.keys.admitted(gate)
        answer = gate.answer()
        if answer["remaining"] is not None:  # None when the limiter is switched off
            self._apply(
                request, True, answer["remaining"], 0, answer["reset_ms"], answer["per_min"]
            )

    def gate_refused(self, request: Request, exc: psycopg.Error) -> Exception:
        refusal = self.keys.refusal(exc)
        if isinstance(refusal, AuthError):
            request.state.api_key = None  # unknown to usage analytics, as a bad key always is
            return refusal
        request.state.api_key = refusal  # a 429 counts in the key's usage
        return self._rate_limited(
            request, refusal["retry_after_ms"], refusal["reset_ms"], refusal["limit"]
        )

    async def settle(self, request: Request) -> None:
        """Run a pending key gate on its own (raises the 401 or 429)."""
        gate = self.take_gate(request)
        if gate is None:
            return
        try:
            gate.row = await queries.run_gate(self.db, gate.query, gate.params)
        except psycopg.Error as exc:
            if exc.sqlstate in GATE_REFUSALS:
                raise self.gate_refused(request, exc) from None
            raise
        self.gate_passed(request, gate)

    async def _limit(self, request: Request, bucket: str, user_id: str | None) -> None:
        if not self.settings.rate_limit_enabled:
            return
        figures = await queries.take_user_rate_limit(
            self.db, user_id, bucket, self.settings.rate_limit_burst_fraction
        )
        self._apply(request, *figures)

    @classmethod
    def _apply(
        cls,
        request: Request,
        allowed: bool,
        remaining: int,
        retry_ms: int,
        reset_ms: int,
        limit: int,
    ) -> None:
        """RateLimit-* headers on the response; a 429 when not allowed."""
        if not allowed:
            raise cls._rate_limited(request, retry_ms, reset_ms, limit)
        request.state.rate_headers = _rate_headers(limit, remaining, reset_ms)

    @staticmethod
    def _rate_limited(request: Request, retry_ms: int, reset_ms: int, limit: int) -> ApiError:
        headers = request.state.rate_headers = _rate_headers(limit, 0, reset_ms)
        return ApiError(
            429,
            "rate_limited",
            f"too many requests: the limit is {limit} per minute",
            {"retry_after_ms": retry_ms},
            {**headers, "retry-after": str(max(1, -(-retry_ms // 1000)))},
        )


def _rate_headers(limit: int, remaining: int, reset_ms: int) -> dict[str, str]:
    return {
        "ratelimit-limit": str(limit),
        "ratelimit-remaining": str(remaining),
        "ratelimit-reset": str(max(1, -(-reset_ms // 1000))),  # whole seconds, rounded up
    }
