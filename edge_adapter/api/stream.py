"""Live events over Server-Sent Events: `GET /api/v1/stream?topics=a,b`.

One process, one database connection for every stream (the Hub): it LISTENs on the channel
`private.live_sequence` NOTIFYs (ids only), numbers committed events itself every
`stream_poll_s` while streams are open and every `stream_idle_poll_s` otherwise (numbering
is also what broadcasts them to Realtime; the publishing transactions never NOTIFY), reads
the new rows once and fans them out to each subscriber's bounded buffer. A stream never
holds a database connection; it borrows the pool only to authorise, to resume and to
re-authorise.

The wire format is the WHATWG HTML "Server-sent events" one
(https://html.spec.whatwg.org/multipage/server-sent-events.html): `retry:` first, then
`id: <live event id>` / `event: <type>` / `data: <JSON>` blocks, and a `: keep-alive`
comment every `stream_heartbeat_s` of silence. An EventSource reconnects by itself after
the stream ends and sends the last id it saw as the `Last-Event-ID` header; a new
EventSource can pass it as `?last_event_id=`. A resume replays the missed events of the
stream's topics from the outbox, in order, without loss or repeats; one older than the kept
window (24 h) gets `event: gap` (refetch, then carry on from its id). EventSource cannot send
headers, so `POST /api/v1/stream/tokens` mints a 60 s token for `?access_token=`; the
token is never logged (the request log has no query string, uvicorn's access log is off).

A client that cannot keep up (its buffer of `stream_buffer_events` is full) is sent
`event: error` with reason `slow_consumer` and disconnected, instead of growing memory; it
reconnects and resumes. SIGTERM ends every stream with `event: reconnect` so the server can
stop at once and clients resume elsewhere.

Who may read a topic is decided by the database only: `public.live_authorize` run as the
caller (`private.can_read_topic`, the same function Realtime's RLS policy uses), before the
stream starts and again every `stream_reauth_s`.
"""

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import signal
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import psycopg
from fastapi import FastAPI, Header, Query, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from .. import jsonlog, metrics, queries
from ..auth import AuthError, Caller
from ..db import DB_ROLES, Database
from ..errors import ApiError, from_database
from ..settings import Settings
from .authn import Authenticator

logger = logging.getLogger("edge_adapter.stream")

MAX_TOPICS = 20
TOPIC = re.compile(r"^[a-z0-9:_-]{1,200}$")
FORWARDED_HEADERS = ("user-agent", "x-forwarded-for", "x-client-info")
BACKFILL_PAGE = 1000


def sse(event: str, data: Any, event_id: int | None = None) -> bytes:
    """One SSE block. Data is one line of JSON (the spec splits data on newlines)."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {text}\n\n".encode()


@dataclass(slots=True)
class LiveEvent:
    id: int
    topic: str
    chunk: bytes  # rendered once, shared by every subscriber


@dataclass(eq=False)
class Subscriber:
    """One stream's bounded buffer. The hub offers events; the stream takes them."""

    topics: frozenset[str]
    limit: int
    start: int = 0  # events after this id come from the hub
    buffer: deque[LiveEvent] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    overflowed: bool = False

    def offer(self, event: LiveEvent) -> None:
        if self.overflowed:
            return
        if len(self.buffer) >= self.limit:
            self.overflowed = True
            self.buffer.clear()  # what it missed is in the outbox: it resumes from there
        else:
            self.buffer.append(event)
        self.wake.set()


class Hub:
    """The process's one listening connection and its subscribers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cursor: int | None = None  # the last event id dispatched
        self.subscribers: set[Subscriber] = set()
        self.streams_by_caller: dict[str, int] = {}  # open streams per caller (the cap)
        self._by_topic: dict[str, set[Subscriber]] = {}
        self.closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._kick = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="live-hub")

    def begin_shutdown(self) -> None:
        """Every stream ends now (SIGTERM): the server need not wait for clients."""
        self.closing.set()
        for sub in self.subscribers:
            sub.wake.set()

    async def stop(self) -> None:
        self.begin_shutdown()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def ready(self, within_s: float) -> int:
        """The current position, once the hub has one (503 if the database is away)."""
        try:
            async with asyncio.timeout(within_s):
                await self._ready.wait()
        except TimeoutError:
            raise ApiError(503, "database_unavailable", "live events are unavailable") from None
        assert self.cursor is not None
        return self.cursor

    def subscribe(self, topics: Iterable[str]) -> Subscriber:
        assert self.cursor is not None, "subscribe after ready()"
        sub = Subscriber(frozenset(topics), self.settings.stream_buffer_events, self.cursor)
        self.subscribers.add(sub)
        for topic in sub.topics:
            self._by_topic.setdefault(topic, set()).add(sub)
        self._kick.set()  # leave idle pacing now
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        for topic in sub.topics:
            group = self._by_topic.get(topic)
            if group is not None:
                group.discard(sub)
                if not group:
                    del self._by_topic[topic]

    def dispatch(self, rows: list[tuple[int, str, str, str]]) -> None:
        for event_id, topic, event, data in rows:
            group = self._by_topic.get(topic)
            if group:
                live = LiveEvent(event_id, topic, sse(event, data, event_id))
                for sub in group:
                    sub.offer(live)
            self.cursor = event_id

    async def _run(self) -> None:
        delay = 0.2
        while not self.closing.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.settings.database_url.get_secret_value(), autocommit=True
                ) as conn:
                    delay = 0.2
                    conn.add_notice_handler(_log_notice)
                    await self._serve(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: keep trying, resume from cursor
                jsonlog.log(
                    logger,
                    logging.WARNING,
                    "live hub lost its database connection",
                    error=type(exc).__name__,
                    retry_in_s=delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _serve(self, conn: psycopg.AsyncConnection) -> None:
        position = await queries.live_hub_setup(conn)
        if self.cursor is None:
            self.cursor = int(position["head"])
        self._ready.set()
        batch = self.settings.stream_read_batch
        while not self.closing.is_set():
            self._kick.clear()
            if self.subscribers:
                while True:  # drain: numbered events after the cursor, in pages
                    rows = await queries.live_pump(conn, self.cursor, batch)
                    self.dispatch(rows)
                    if len(rows) < batch:
                        break
            else:  # nobody listening here: keep the inbox moving, skip the reading
                numbered = await queries.live_sequence_only(conn)
                if not self.subscribers:  # one who arrived meanwhile starts at the old cursor
                    self.cursor = max(self.cursor, numbered)
            if self._kick.is_set():
                continue
            busy = bool(self.subscribers)
            timeout = self.settings.stream_poll_s if busy else self.settings.stream_idle_poll_s
            await self._wait(conn, timeout)

    async def _wait(self, conn: psycopg.AsyncConnection, wait_s: float) -> None:
        """Until a NOTIFY (another process numbered events), a new subscriber, or wait_s."""
        kick = asyncio.ensure_future(self._kick.wait())
        notify = asyncio.ensure_future(_one_notify(conn, wait_s))
        try:
            await asyncio.wait({kick, notify}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            kick.cancel()
            if not notify.done():
                notify.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await notify
            elif notify.exception() is not None:
                raise notify.exception()  # type: ignore[misc]


def _log_notice(notice: psycopg.errors.Diagnostic) -> None:
    """A warning from numbering (a broadcast to Realtime that failed) reaches our logs."""
    jsonlog.log(
        logger,
        logging.WARNING,
        "database notice",
        severity=notice.severity_nonlocalized,
        sqlstate=notice.sqlstate,
        message=notice.message_primary,
    )


async def _one_notify(conn: psycopg.AsyncConnection, wait_s: float) -> None:
    async for _ in conn.notifies(timeout=wait_s, stop_after=1):
        break


def parse_topics(raw: str | None) -> list[str]:
    topics: list[str] = []
    for part in (raw or "").split(","):
        topic = part.strip()
        if not topic:
            continue
        if not TOPIC.match(topic):
            raise ApiError(400, "invalid_request", f"not a topic name: {topic[:200]!r}")
        if topic not in topics:
            topics.append(topic)
    if len(topics) > MAX_TOPICS:
        raise ApiError(400, "invalid_request", f"at most {MAX_TOPICS} topics per stream")
    return topics


def parse_last_event_id(*values: str | None) -> int | None:
    """The first value given (the header before the query); ids are what we sent."""
    for value in values:
        if value is None or value == "":
            continue
        if not value.isdigit() or len(value) > 18:
            raise ApiError(400, "invalid_request", "Last-Event-ID must be an event id we sent")
        return int(value)
    return None


class LiveStream(Response):
    """The streaming response: it sends its own headers and body, sees the client's
    disconnect and drives flow control itself."""

    media_type = "text/event-stream"

    def __init__(
        self,
        hub: Hub,
        db: Database,
        settings: Settings,
        topics: list[str],
        last_event_id: int | None,
        reauthorize: Callable[[], Awaitable[None]],
        expires_at: float | None,
        caller_id: str,
    ) -> None:
        self.hub = hub
        self.caller_id = caller_id
        self.db = db
        self.settings = settings
        self.topics = topics
        self.last_event_id = last_event_id
        self.reauthorize = reauthorize
        self.expires_at = expires_at
        self.disconnected = False
        self.sub: Subscriber | None = None
        self.sent_through = 0  # the highest event id this client has been sent
        self.status_code = 200
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        listener = asyncio.create_task(self._watch_disconnect(receive))
        metrics.sse_opened()
        counts = self.hub.streams_by_caller
        counts[self.caller_id] = counts.get(self.caller_id, 0) + 1
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-store"),
                        (b"x-accel-buffering", b"no"),  # proxies must not buffer a stream
                    ],
                }
            )
            await self._write(send, f"retry: {self.settings.stream_retry_ms}\n\n".encode())
            try:
                self.sub = await self._catch_up(send)
            except (psycopg.Error, ApiError) as exc:
                jsonlog.log(
                    logger, logging.WARNING, "live stream resume failed", error=type(exc).__name__
                )
                reason = {"reason": "unavailable", "message": "retry shortly"}
                await self._write(send, sse("error", reason), final=True)
                return
            reason = await self._live(send, self.sub)
            await self._write(send, reason, final=True)
        except _ClientGone:
            pass
        except _ClientStuck:
            jsonlog.log(logger, logging.WARNING, "live stream client stopped reading: dropped")
            return  # uvicorn closes the connection: the response never completed
        finally:
            metrics.sse_closed()
            counts[self.caller_id] -= 1
            if not counts[self.caller_id]:
                del counts[self.caller_id]
            if self.sub is not None:
                self.hub.unsubscribe(self.sub)
            listener.cancel()

    async def _watch_disconnect(self, receive: Receive) -> None:
        while True:
            message: Message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                if self.sub is not None:
                    self.sub.wake.set()
                return

    async def _write(self, send: Send, chunk: bytes, *, final: bool = False) -> None:
        if self.disconnected:
            raise _ClientGone
        try:
            async with asyncio.timeout(self.settings.stream_send_timeout_s):
                await send({"type": "http.response.body", "body": chunk, "more_body": not final})
        except TimeoutError:
            raise _ClientStuck from None

    async def _catch_up(self, send: Send) -> Subscriber | None:
        """Replay what a resuming client missed, then join the live feed at the hub's
        position: backfill to there, subscribe, backfill the few events that arrived
        meanwhile. Nothing is lost and nothing is sent twice."""
        head = await self.hub.ready(self.settings.pool_timeout_s)
        ready = {"topics": self.topics}
        if self.last_event_id is None:
            sub = self.hub.subscribe(self.topics)
            self.sent_through = sub.start
            await self._write(send, sse("ready", {**ready, "last_event_id": sub.start}, sub.start))
            return sub
        position = await queries.live_position(self.db)
        last = self.last_event_id
        if last < int(position["pruned_through"]) or last > max(int(position["head"]), head):
            sub = self.hub.subscribe(self.topics)
            gap = {
                "reason": "expired" if last < int(position["pruned_through"]) else "unknown_id",
                "last_event_id": last,
                "resume_from": sub.start,
                "message": "events after your last id are no longer kept: refetch, then carry on"
                if last < int(position["pruned_through"])
                else "no event with that id was ever sent: refetch, then carry on",
            }
            self.sent_through = sub.start
            await self._write(send, sse("ready", ready))
            await self._write(send, sse("gap", gap, sub.start))
            return sub
        self.sent_through = last
        await self._write(send, sse("ready", {**ready, "resumed_from": last}))
        await self._backfill(send, head)
        sub = self.hub.subscribe(self.topics)
        # This process may lag the client's last id (it came from another process): the
        # live loop skips whatever it was sent already.
        await self._backfill(send, sub.start)
        return sub

    async def _backfill(self, send: Send, through: int) -> None:
        """The stream's events after what it was sent, up to `through`, from the outbox."""
        while self.sent_through < through:
            rows = await queries.live_backfill(
                self.db, self.sent_through, through, self.topics, BACKFILL_PAGE
            )
            if rows:
                await self._write(send, b"".join(sse(e, d, i) for i, _, e, d in rows))
            if len(rows) < BACKFILL_PAGE:
                self.sent_through = through
                return
            self.sent_through = rows[-1][0]

    async def _live(self, send: Send, sub: Subscriber) -> bytes:
        """Stream until something ends it; returns the last block to send."""
        settings = self.settings
        last_write = time.monotonic()
        next_check = time.monotonic() + settings.stream_reauth_s
        while True:
            if self.disconnected:
                raise _ClientGone
            if self.hub.closing.is_set():
                return b"retry: 1000\n\n" + sse("reconnect", {"reason": "server_shutdown"})
            if sub.overflowed:
                jsonlog.log(
                    logger,
                    logging.WARNING,
                    "live stream client too slow: disconnected",
                    buffer_events=sub.limit,
                )
                return sse(
                    "error",
                    {
                        "reason": "slow_consumer",
                        "message": f"more than {sub.limit} events waited for you: reconnect "
                        "with Last-Event-ID to resume",
                    },
                )
            if sub.buffer:
                chunks = []
                while sub.buffer and len(chunks) < 256:
                    event = sub.buffer.popleft()
                    if event.id > self.sent_through:  # never twice, never backwards
                        chunks.append(event.chunk)
                        self.sent_through = event.id
                if not chunks:
                    continue
                await self._write(send, b"".join(chunks))
                last_write = time.monotonic()
                continue
            now = time.monotonic()
            if self.expires_at is not None and time.time() >= self.expires_at:
                return sse("error", {"reason": "credentials_expired", "message": "sign in again"})
            if now >= next_check:
                try:
                    await self.reauthorize()
                except ApiError as exc:
                    return sse("error", {"reason": exc.code, "message": exc.message})
                next_check = now + settings.stream_reauth_s
            if now - last_write >= settings.stream_heartbeat_s:
                await self._write(send, b": keep-alive\n\n")
                last_write = now
                continue
            sub.wake.clear()
            if sub.buffer or sub.overflowed or self.hub.closing.is_set() or self.disconnected:
                continue
            wait = min(last_write + settings.stream_heartbeat_s, next_check) - now
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(wait, 0.01)):
                    await sub.wake.wait()


class _ClientGone(Exception):
    """The client hung up."""


class _ClientStuck(Exception):
    """The client stopped reading: a write did not complete in stream_send_timeout_s."""


def install(app: FastAPI, db: Database, auth: Authenticator, settings: Settings) -> Hub:
    """The stream route, and the hub started and stopped with the app (and told of SIGTERM
    before uvicorn starts waiting for open connections to close)."""
    hub = Hub(settings)
    app.state.live_hub = hub
    original = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with original(application) as state:
            _chain_shutdown_signals(hub)
            await hub.start()
            try:
                yield state
            finally:
                await hub.stop()

    app.router.lifespan_context = lifespan

    async def stream(
        request: Request,
        topics: Annotated[
            str | None,
            Query(max_length=4200, description="comma-separated topic names"),
        ] = None,
        last_event_id: Annotated[
            str | None, Query(max_length=20, description="resume after this event id")
        ] = None,
        access_token: Annotated[
            str | None,
            Query(max_length=200, description="a stream token (POST /api/v1/stream/tokens)"),
        ] = None,
        last_event_id_header: Annotated[str | None, Header(alias="last-event-id")] = None,
    ) -> LiveStream:
        wanted = parse_topics(topics)
        resume = parse_last_event_id(last_event_id_header, last_event_id)
        expires_at: float | None = None
        if access_token is not None:
            if request.headers.get("authorization"):
                raise ApiError(
                    400, "invalid_request", "send an Authorization header or access_token, not both"
                )
            caller, granted = await _redeem(db, access_token)
            for topic in wanted:
                if topic not in granted:
                    raise ApiError(
                        403, "topic_forbidden", f"this stream token is not for topic {topic}"
                    )
            wanted = wanted or granted
        else:
            caller = await auth(request)
            await auth.settle(request)  # an API key's gate runs before the stream starts
        if not wanted:
            raise ApiError(400, "invalid_request", "name the topics: ?topics=a,b")
        exp = caller.claims.get("exp")  # a stream outlives its token, not its caller's JWT
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            expires_at = float(exp)
        if len(hub.subscribers) >= settings.stream_max_clients:
            raise ApiError(503, "too_many_streams", "this server has no room for another stream")
        caller_id = stream_owner(caller)
        if hub.streams_by_caller.get(caller_id, 0) >= settings.stream_max_per_caller:
            raise ApiError(
                429,
                "too_many_streams",
                f"you have {settings.stream_max_per_caller} streams open here: close one, or "
                "read several topics on one stream (?topics=a,b)",
            )
        headers = {h: request.headers[h] for h in FORWARDED_HEADERS if h in request.headers}
        headers["x-request-id"] = request.state.request_id

        async def reauthorize() -> None:
            """Authorization is the database's answer, as the caller, every time."""
            try:
                await db.call_rpc(
                    caller.role,
                    caller.claims,
                    "live_authorize",
                    {"p_topics": wanted},
                    headers,
                    read_only=True,
                    method="GET",
                    path=request.url.path,
                )
            except psycopg.Error as exc:
                raise from_database(exc) from None

        await reauthorize()
        return LiveStream(hub, db, settings, wanted, resume, reauthorize, expires_at, caller_id)

    app.add_api_route(
        "/api/v1/stream",
        stream,
        methods=["GET"],
        summary="Live events (Server-Sent Events) on topics the caller may read; resumable "
        "with Last-Event-ID",
        tags=["live"],
        responses={
            200: {"content": {"text/event-stream": {}}, "description": "the event stream"},
            400: {"description": "bad topics or Last-Event-ID"},
            401: {"description": "missing or invalid credentials"},
            403: {"description": "a topic the caller may not read (named in the message)"},
        },
    )
    return hub


def stream_owner(caller: Caller) -> str:
    """Whose stream this is, for the per-caller cap: the API key, else the user, else the
    role (service_role)."""
    claims = caller.claims
    return str(claims.get("api_key_id") or claims.get("sub") or caller.role)


async def _redeem(db: Database, token: str) -> tuple[Caller, list[str]]:
    """The caller and topics a stream token was minted for (only its SHA-256 is stored)."""
    info = await queries.redeem_stream_token(db, hashlib.sha256(token.encode()).digest())
    if info is None or info["role"] not in DB_ROLES:
        raise AuthError("invalid_stream_token", "the stream token is unknown or expired")
    return Caller(role=info["role"], claims=info["claims"]), list(info["topics"])


def _chain_shutdown_signals(hub: Hub) -> None:
    """uvicorn waits for open connections before the app's shutdown runs, and a stream never
    closes by itself: end the streams as soon as the signal arrives, then let uvicorn's own
    handler do the rest."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            previous = signal.getsignal(sig)
        except ValueError:
            return
        if not callable(previous):
            continue

        def handler(signum: int, frame: Any, previous: Callable[..., Any] = previous) -> None:
            loop.call_soon_threadsafe(hub.begin_shutdown)
            previous(signum, frame)

        try:
            signal.signal(sig, handler)
        except ValueError:  # not the main thread (an embedded server): nothing to chain
            return
