"""Database access. Every client request runs as the caller, exactly as PostgREST does it:

    begin [read only];
    select set_config('role', <role>, true),
           set_config('request.jwt.claims', <claims json>, true),
           set_config('request.headers', <headers json>, true), ...;
    select public.<rpc>(p_a => $1, p_b => $2);
    commit;

so an RPC behaves the same from supabase-js and from this REST API.
"""

import json
import logging
import select
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from . import jsonlog
from .settings import Settings

logger = logging.getLogger("edge_adapter.db")

DB_ROLES = {"anon", "authenticated", "service_role"}
# The fixed statements of a call's pipeline (see Database.call_rpc).
_BEGIN, _BEGIN_READ_ONLY = "begin", "begin read only"
_COMMIT, _ROLLBACK = "commit", "rollback"
_SET_SERVICE_ROLE = "set local role service_role"
_SETTINGS = (
    "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true),"
    " set_config('request.headers', %s, true), set_config('request.method', %s, true),"
    " set_config('request.path', %s, true)"
)
# What an RPC asked of the response, PostgREST's way: headers as a JSON array of one-key
# objects, the status as text.
_RESPONSE = (
    "select current_setting('response.headers', true), current_setting('response.status', true)"
)


@dataclass
class Gate:
    """A statement that admits a call (the API-key gate): it runs as service_role in its own
    transaction ahead of the call, in the same round trip, and if it raises the call never
    runs. `row` holds its answer once the batch has run."""

    query: str
    params: tuple[Any, ...] = ()
    row: tuple[Any, ...] | None = None


@dataclass
class RpcResult:
    """An RPC's value and what it set for the HTTP response (response.status,
    response.headers), as PostgREST honours them."""

    value: Any
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _response_guc(row: tuple[Any, ...] | None) -> tuple[int | None, dict[str, str]]:
    """Parse response.headers ('[{"Name": "value"}, ...]') and response.status; anything
    malformed is ignored (an RPC bug must not break the response)."""
    headers: dict[str, str] = {}
    status: int | None = None
    if row is None:
        return status, headers
    raw_headers, raw_status = row
    if raw_headers:
        try:
            for item in json.loads(raw_headers):
                for name, value in item.items():
                    headers[str(name)] = str(value)
        except (ValueError, AttributeError, TypeError):
            headers = {}
    if raw_status and raw_status.isdigit() and 100 <= int(raw_status) <= 599:
        status = int(raw_status)
    return status, headers


def _adapt(value: Any) -> Any:
    """JSON objects become jsonb; lists of scalars stay Postgres arrays."""
    if isinstance(value, dict) or (
        isinstance(value, list) and any(isinstance(v, dict | list) for v in value)
    ):
        return Jsonb(value)
    return value


async def _still_open(conn: psycopg.AsyncConnection) -> None:
    """Pool check without a round trip. An idle connection has nothing to read, so a readable
    socket means the server closed it or sent a FATAL (a restart, a terminated backend): drop
    it instead of handing it to a request."""
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        await conn.close()  # closed, so the pool discards it rather than lending it again
        raise psycopg.OperationalError("the server closed this connection")


def _log_notice(notice: psycopg.errors.Diagnostic) -> None:
    """Server notices and warnings reach our logs: none is expected on a hot path, and one
    sent mid-batch costs a flush and a wakeup per request."""
    jsonlog.log(
        logger,
        logging.WARNING,
        "database notice",
        severity=notice.severity_nonlocalized,
        sqlstate=notice.sqlstate,
        message=notice.message_primary,
    )


async def _configure(conn: psycopg.AsyncConnection) -> None:
    conn.add_notice_handler(_log_notice)


async def _service_session(conn: psycopg.AsyncConnection) -> None:
    await _configure(conn)
    await conn.execute(
        "select set_config('role', 'service_role', false),"
        " set_config('request.jwt.claims', '{\"role\": \"service_role\"}', false)"
    )


class Database:
    """A connection pool. `service_session=True` makes every connection service_role for
    its whole session (the worker): `service_execute` is then one round trip."""

    def __init__(
        self, settings: Settings, *, min_size: int | None = None, service_session: bool = False
    ) -> None:
        self._settings = settings
        self.service_session = service_session
        self.pool = AsyncConnectionPool(
            settings.database_url.get_secret_value(),
            min_size=settings.pool_min_size if min_size is None else min_size,
            max_size=settings.pool_max_size,
            timeout=settings.pool_timeout_s,
            open=False,
            # A connection that died with a database restart is dropped before it is lent.
            check=_still_open,
            configure=_service_session if service_session else _configure,
            # Autocommit: transactions are explicit (call_rpc sends its own BEGIN ... COMMIT).
            kwargs={"autocommit": True, "row_factory": tuple_row},
            reconnect_timeout=0,
        )
        # The API's trusted lookups (API keys, rate limits, batches) use a small pool whose
        # sessions are service_role already: one round trip per statement.
        self._service: Database | None = (
            None if service_session else Database(settings, min_size=1, service_session=True)
        )

    async def open(self) -> None:
        await self.pool.open(wait=False)
        if self._service:
            await self._service.open()

    async def close(self) -> None:
        if self._service:
            await self._service.close()
        await self.pool.close()

    @asynccontextmanager
    async def as_caller(
        self,
        role: str,
        claims: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
        *,
        read_only: bool = False,
        method: str = "POST",
        path: str = "",
    ) -> AsyncIterator[psycopg.AsyncConnection]:
        """One transaction running as `role` with the caller's claims and headers set."""
        if role not in DB_ROLES:
            raise ValueError(f"refusing to run as database role {role!r}")
        async with self.pool.connection() as conn, conn.transaction():
            if read_only:
                await conn.execute("set transaction read only")
            await conn.execute(
                "select set_config('role', %s, true),"
                " set_config('request.jwt.claims', %s, true),"
                " set_config('request.headers', %s, true),"
                " set_config('request.method', %s, true),"
                " set_config('request.path', %s, true)",
                (role, json.dumps(dict(claims)), json.dumps(dict(headers or {})), method, path),
            )
            yield conn

    async def call_rpc(
        self,
        role: str,
        claims: Mapping[str, Any],
        function: str,
        args: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
        *,
        read_only: bool = False,
        method: str = "POST",
        path: str = "",
        dry_run: bool = False,
        raw: bool = False,
        gate: Gate | None = None,
    ) -> "RpcResult":
        """Call public.<function> with named arguments, as the caller.
        dry_run: run it (validation, role checks, writes) and roll everything back.
        raw: the value is the JSON text as Postgres rendered it (no parse and re-serialise).
        gate: a statement that must admit the call first (committed on its own).

        One round trip in pipeline mode: [begin; set role; gate; commit;] begin; the caller's
        settings; the call; the response GUCs; commit. Every value travels as a bound
        parameter, never in the SQL text (Postgres logs a failed statement's text).
        Nothing is prepared: psycopg answers any ROLLBACK by deallocating every prepared
        statement, which inside a pipeline can race the statements queued after it."""
        if role not in DB_ROLES:
            raise ValueError(f"refusing to run as database role {role!r}")
        call = sql.SQL("select {}.{}({}){}").format(
            sql.Identifier("public"),
            sql.Identifier(function),
            sql.SQL(", ").join(
                sql.SQL("{} => {}").format(sql.Identifier(name), sql.Placeholder(name))
                for name in args
            ),
            sql.SQL("::text" if raw else ""),
        )
        params = {k: _adapt(v) for k, v in args.items()}
        settings = (role, json.dumps(dict(claims)), json.dumps(dict(headers or {})), method, path)
        if dry_run and gate is not None:
            raise ValueError("settle the gate before a dry run")
        async with self.pool.connection() as conn:
            try:
                async with conn.pipeline():
                    gate_cur = None
                    if gate is not None:
                        # The gate is its own transaction: what it spends stays spent whatever
                        # the call does; if it raises, nothing after it runs.
                        await conn.execute(_BEGIN, prepare=False)
                        await conn.execute(_SET_SERVICE_ROLE, prepare=False)
                        gate_cur = await conn.execute(gate.query, gate.params, prepare=False)
                        await conn.execute(_COMMIT, prepare=False)
                    await conn.execute(_BEGIN_READ_ONLY if read_only else _BEGIN, prepare=False)
                    await conn.execute(_SETTINGS, settings, prepare=False)
                    call_cur = await conn.execute(call, params, prepare=False)
                    response_cur = await conn.execute(_RESPONSE, prepare=False)
                    await conn.execute(_ROLLBACK if dry_run else _COMMIT, prepare=False)
            except psycopg.Error:
                if not conn.closed and not conn.broken:
                    await conn.execute(_ROLLBACK)
                raise
            if gate_cur is not None:
                gate.row = await gate_cur.fetchone()
            row = await call_cur.fetchone()
            response = await response_cur.fetchone()
        return RpcResult(row[0] if row else None, *_response_guc(response))

    async def service_execute(
        self, query: str | sql.Composable, params: tuple[Any, ...] = ()
    ) -> list[tuple[Any, ...]]:
        """One statement as service_role, in its own transaction; returns all rows."""
        if self._service is not None:
            return await self._service.service_execute(query, params)
        async with self.pool.connection() as conn:
            cur = await conn.execute(query, params)
            return await cur.fetchall() if cur.description else []

    def as_service(self, *, read_only: bool = False):  # type: ignore[no-untyped-def]
        """A transaction as service_role: what the worker and trusted server code use."""
        return self.as_caller("service_role", {"role": "service_role"}, read_only=read_only)
