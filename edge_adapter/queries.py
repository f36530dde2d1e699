"""Every SQL statement the API side runs outside the route table's RPC calls, by name.

Each runs as service_role (trusted server code: the caller was authorised by the RPC that
came first, or there is no caller), in its own transaction, with bound parameters. The
worker's statements are in `edge_adapter/worker/queries.py`.
"""

from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from .db import Database


async def migration_version(db: Database) -> str | None:
    """Newest applied migration (raises if the database is down)."""
    rows = await db.service_execute("select private.migration_version()")
    return rows[0][0] if rows else None


async def queue_names(db: Database) -> list[str]:
    """The queues the database knows (public.queue_controls, the one list)."""
    rows = await db.service_execute(
        "select queue_name from public.queue_controls order by queue_name"
    )
    return [r[0] for r in rows]


# -- API keys and the limiter ------------------------------------------------------------------
API_KEY_GATE = "select private.api_key_gate(%s::bytea, %s::numeric, %s::boolean)"


def api_key_gate_params(digest: bytes, burst_fraction: float, limit: bool) -> tuple[Any, ...]:
    """Parameters of API_KEY_GATE for one key digest; it travels in the call's pipeline."""
    return (digest, float(burst_fraction), bool(limit))


# While the adapter knows more than one pepper: the gate tries each of the key's digests.
API_KEY_GATE_ROTATING = (
    "select private.api_key_gate_rotating(%s::bytea[], %s::smallint[], %s::numeric, %s::boolean)"
)


def api_key_gate_rotating_params(
    digests: list[bytes], versions: list[int], burst_fraction: float, limit: bool
) -> tuple[Any, ...]:
    """Parameters of API_KEY_GATE_ROTATING: the digests under the current pepper first."""
    return (digests, versions, float(burst_fraction), bool(limit))


async def label_api_key_peppers(db: Database, digests: list[bytes], version: int) -> None:
    """Record the pepper version of keys this process made or admitted under its pepper."""
    await db.service_execute(
        "select private.label_api_key_peppers(%s::bytea[], %s::smallint)", (digests, version)
    )


async def run_gate(db: Database, query: str, params: tuple[Any, ...]) -> tuple[Any, ...]:
    rows = await db.service_execute(query, params)
    return rows[0]


async def take_user_rate_limit(
    db: Database, user_id: str | None, bucket: str, burst_fraction: float
) -> tuple[bool, int, int, int, int]:
    """One GCRA step for a signed-in user: (allowed, remaining, retry_after_ms, reset_ms,
    per_min)."""
    rows = await db.service_execute(
        "select r.allowed, r.remaining, r.retry_after_ms, r.reset_ms, l.per_min"
        " from (select private.rate_limit_for(null, %s::uuid) as per_min) as l,"
        " lateral private.rate_limit_take(%s, l.per_min,"
        " private.gcra_burst(l.per_min, %s::numeric)) as r",
        (user_id, bucket, burst_fraction),
    )
    return rows[0]


async def touch_api_keys(db: Database, key_ids: list[str], used_at: list[datetime]) -> None:
    await db.service_execute(
        "select private.touch_api_keys(%s::uuid[], %s::timestamptz[])", (key_ids, used_at)
    )


async def add_rate_limit_breaches(
    db: Database, buckets: list[str], minutes: list[datetime], counts: list[int]
) -> None:
    await db.service_execute(
        "select private.add_rate_limit_breaches(%s::text[], %s::timestamptz[], %s::int[])",
        (buckets, minutes, counts),
    )


async def api_key_mode(db: Database, key_id: str) -> str | None:
    rows = await db.service_execute("select mode from public.api_keys where id = %s", (key_id,))
    return rows[0][0] if rows else None


async def record_api_usage(db: Database, rows: list[dict[str, Any]]) -> None:
    await db.service_execute("select private.record_api_usage(%s)", (Jsonb(rows),))


# -- gateways ----------------------------------------------------------------------------------
async def catalogue_urls(db: Database, provider: str) -> dict[str, str]:
    rows = await db.service_execute(
        "select base_urls from public.gateway_providers where provider = %s", (provider,)
    )
    return rows[0][0]


async def gateway_credentials(db: Database, gateway_id: str) -> dict[str, Any] | None:
    """{provider, environment, credentials} from Vault, or None (archived / no secret)."""
    rows = await db.service_execute("select private.gateway_credentials(%s)", (gateway_id,))
    return rows[0][0] if rows else None


# -- webhooks ----------------------------------------------------------------------------------
async def webhook_delivery_job(db: Database, delivery_id: int) -> dict[str, Any] | None:
    """What one delivery needs: endpoint, event, signing secrets, attempts so far."""
    rows = await db.service_execute("select private.webhook_delivery_job(%s)", (delivery_id,))
    return rows[0][0] if rows else None


async def record_webhook_attempt(
    db: Database,
    delivery_id: int,
    attempt: dict[str, Any],
    retry_in_s: int | None,
    disable_after_s: int,
) -> None:
    await db.service_execute(
        "select private.record_webhook_attempt(%s, %s, %s, %s)",
        (delivery_id, Jsonb(attempt), retry_in_s, disable_after_s),
    )


# -- provider webhooks -------------------------------------------------------------------------
async def gateway_webhook_credentials(
    db: Database, gateway_id: str, provider: str
) -> dict[str, Any] | None:
    """{gateway_id, provider, credentials: [current, previous...]} or None."""
    rows = await db.service_execute(
        "select private.gateway_webhook_credentials(%s, %s)", (gateway_id, provider)
    )
    return rows[0][0] if rows else None


async def record_provider_event(
    db: Database,
    gateway_id: str,
    provider: str,
    event: dict[str, Any] | None,
    headers: dict[str, str],
    body: str,
    rejection: str | None,
) -> dict[str, Any]:
    """Store a verified event once (and enqueue it), or a rejected one with its reason."""
    rows = await db.service_execute(
        "select private.record_provider_event(%s, %s, %s, %s, %s, %s)",
        (
            gateway_id,
            provider,
            Jsonb(event) if event is not None else None,
            Jsonb(headers),
            body,
            rejection,
        ),
    )
    return rows[0][0]


# -- live events (api/stream.py) ---------------------------------------------------------------
# The hub's own connection (service_role for its whole session, LISTENing): numbering and
# reading in one round trip, the sequencer's transaction committed before the read.
_LIVE_SEQUENCE = "select private.live_sequence()"
_LIVE_READ = "select id, topic, event, data from private.live_read(%s, %s)"


async def live_hub_setup(conn: psycopg.AsyncConnection) -> dict[str, Any]:
    """Make the hub's connection service_role, LISTEN on the live channel; the position."""
    await conn.execute(
        "select set_config('role', 'service_role', false),"
        " set_config('request.jwt.claims', '{\"role\": \"service_role\"}', false)"
    )
    position: dict[str, Any] = (
        await (await conn.execute("select private.live_position()")).fetchone()
    )[0]  # type: ignore[index]
    await conn.execute(sql.SQL("listen {}").format(sql.Identifier(position["channel"])))
    return position


async def live_pump(
    conn: psycopg.AsyncConnection, after: int, limit: int
) -> list[tuple[int, str, str, str]]:
    """Number waiting events (committed), then the events after `after`, in order."""
    async with conn.pipeline():
        await conn.execute("begin", prepare=False)
        await conn.execute(_LIVE_SEQUENCE)
        await conn.execute("commit", prepare=False)
        cur = await conn.execute(_LIVE_READ, (after, limit))
    return await cur.fetchall()


async def live_sequence_only(conn: psycopg.AsyncConnection) -> int:
    """Number waiting events; the head afterwards."""
    await conn.execute(_LIVE_SEQUENCE)
    row = await (
        await conn.execute("select (private.live_position() ->> 'head')::bigint")
    ).fetchone()
    return int(row[0]) if row else 0


async def live_position(db: Database) -> dict[str, Any]:
    """{head, pruned_through, channel}."""
    rows = await db.service_execute("select private.live_position()")
    return rows[0][0]


async def live_backfill(
    db: Database, after: int, through: int, topics: list[str], limit: int
) -> list[tuple[int, str, str, str]]:
    """Events on `topics` with after < id <= through, in order (a resume)."""
    rows = await db.service_execute(
        "select id, topic, event, data from private.live_backfill(%s, %s, %s::text[], %s)",
        (after, through, topics, limit),
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


async def redeem_stream_token(db: Database, digest: bytes) -> dict[str, Any] | None:
    """{role, claims, topics, expires_at} of an unexpired stream token, by its SHA-256."""
    rows = await db.service_execute("select private.redeem_stream_token(%s)", (digest,))
    return rows[0][0] if rows else None
