"""Live events over SSE, end to end: the topic authorisation matrix on the SSE path (the
Realtime path is pgTAP 030), stream tokens, a long stream resumed across forced disconnects
with Last-Event-ID (0 lost, 0 duplicated, in order), the gap past the kept window, a slow
client cut off while others keep receiving, heartbeats, re-authorisation, one database
connection for all streams, and a clean SIGTERM.

Soak size: LSP_TEST_STREAM_EVENTS (default 2000) events with LSP_TEST_STREAM_DISCONNECTS
(default 20) forced disconnects."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import TEST_JWT_SECRET

from .conftest import ROOT, Api, bearer, free_port, hs_token

EVENTS = int(os.environ.get("LSP_TEST_STREAM_EVENTS", "2000"))
DISCONNECTS = int(os.environ.get("LSP_TEST_STREAM_DISCONNECTS", "20"))
STREAM = "/api/v1/stream"


# -- an SSE client -----------------------------------------------------------------------------
@dataclass
class Sse:
    event: str | None = None
    id: int | None = None
    data: Any = None
    comment: str | None = None


class Stream:
    """One open SSE response, read block by block (WHATWG event-stream format)."""

    def __init__(
        self, base_url: str, params: dict[str, str], headers: dict[str, str], timeout: float = 15
    ) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(timeout, connect=5))
        self._cm = self.client.stream("GET", STREAM, params=params, headers=headers)
        self.response = self._cm.__enter__()
        self._lines = self.response.iter_lines()

    def next(self) -> Sse | None:
        """The next event or comment; None at the end of the stream."""
        block = Sse()
        seen = False
        for line in self._lines:
            if line == "":
                if seen and (block.event or block.comment is not None or block.data is not None):
                    return block
                block, seen = Sse(), False
                continue
            seen = True
            if line.startswith(":"):
                block.comment = line[1:].strip()
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "id":
                block.id = int(value)
            elif name == "event":
                block.event = value
            elif name == "data":
                block.data = json.loads(value)
        return None

    def until(self, event: str, limit: int = 1000, within_s: float = 30) -> Sse:
        """The next `event` (heartbeats would keep a plain read alive forever)."""
        deadline = time.monotonic() + within_s
        for _ in range(limit):
            assert time.monotonic() < deadline, f"no {event} within {within_s} s"
            got = self.next()
            assert got is not None, f"the stream ended before {event}"
            if got.event == event:
                return got
        raise AssertionError(f"no {event} in {limit} blocks")

    def close(self) -> None:
        self._cm.__exit__(None, None, None)
        self.client.close()

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_api(
    authenticator_url: str, jwks_url: str, log_path: Path, **settings: str
) -> tuple[subprocess.Popen[bytes], Api]:
    """An API process of its own (uvicorn, as deployed) with stream settings for a test."""
    port = free_port()
    env = {
        **os.environ,
        "LSP_DATABASE_URL": authenticator_url,
        "LSP_JWT_SECRET": TEST_JWT_SECRET,
        "LSP_JWKS_URL": jwks_url,
        "LSP_POOL_TIMEOUT_S": "3",
        "LSP_RATE_LIMIT_ENABLED": "false",
        **{f"LSP_{k.upper()}": v for k, v in settings.items()},
    }
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "edge_adapter.api:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the API did not start:\n{log_path.read_text()}")
        time.sleep(0.1)
    return proc, Api(base, log_path)


def stop_api(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def stream_api(authenticator_url, jwks_url, tmp_path_factory) -> Iterator[Api]:
    """Short heartbeats and re-authorisation, a small per-client buffer, a pool of 3."""
    proc, api = start_api(
        authenticator_url,
        jwks_url,
        tmp_path_factory.mktemp("stream") / "api.log",
        stream_heartbeat_s="1",
        stream_reauth_s="1",
        stream_buffer_events="200",
        stream_read_batch="50",
        stream_send_timeout_s="20",
        stream_max_per_caller="30",
        pool_max_size="3",
    )
    yield api
    stop_api(proc)


def publish(conn: psycopg.Connection, topic: str, event: str, payloads: list[dict]) -> None:
    """What a trigger or job does: private.publish in one transaction."""
    with conn.transaction():
        conn.execute(
            "select private.publish(%s, %s, p) from jsonb_array_elements(%s::jsonb) as p",
            (topic, event, json.dumps(payloads)),
        )


def head(conn: psycopg.Connection) -> int:
    return conn.execute("select (private.live_position() ->> 'head')::bigint").fetchone()[0]


class Shop:
    """A merchant with an owner (JWT) and its topics."""

    def __init__(self, world) -> None:
        self.owner = world.user("owner")
        self.id = world.merchant(self.owner)
        self.headers = bearer(hs_token(self.owner))
        self.payments = f"merchant:{self.id}:payments"
        self.alerts = f"merchant:{self.id}:alerts"
        self.notifications = f"merchant:{self.id}:notifications"
        self.mine = f"merchant:{self.id}:notifications:{self.owner}"  # the owner's own
        self.test_payments = f"merchant:{self.id}:payments:test"
        self.live_payments = f"merchant:{self.id}:payments:live"
        self.test_alerts = f"merchant:{self.id}:alerts:test"


# -- the authorisation matrix --------------------------------------------------------------------
def test_who_may_read_which_topic_over_sse(api, world, pg):
    a, b = Shop(world), Shop(world)
    key = api.client.post(
        "/api/v1/merchant/credentials",
        headers=a.headers,
        json={"merchant_id": a.id, "name": "stream key"},
    )
    assert key.status_code == 201, key.text
    callers = {
        "admin": bearer(hs_token(world.admin())),
        "member_a": a.headers,
        "member_b": b.headers,
        "api_key_a": bearer(key.json()["key"]),
        "anon": {},
    }
    topics = [
        "admin:payments",
        "admin:gateways",
        "admin:queues",
        "admin:alerts",
        a.payments,
        a.alerts,
        a.notifications,
        a.mine,
        a.test_payments,
        a.live_payments,
        a.test_alerts,
        b.payments,
        b.alerts,
        b.notifications,
    ]
    allowed = {
        "admin": set(topics),
        "member_a": {a.payments, a.alerts, a.notifications, a.mine}
        | {a.test_payments, a.live_payments, a.test_alerts},
        # a test key: its own mode's topics and merchant-wide notifications only
        "api_key_a": {a.test_payments, a.test_alerts, a.notifications},
        "member_b": {b.payments, b.alerts, b.notifications},
        "anon": set(),
    }
    for caller, headers in callers.items():
        for topic in topics:
            with Stream(api.base_url, {"topics": topic}, headers) as s:
                status = s.response.status_code
                if topic in allowed[caller]:
                    assert status == 200, (caller, topic, s.response.read())
                    assert s.response.headers["content-type"].startswith("text/event-stream")
                    assert s.response.headers["cache-control"] == "no-store"
                    assert s.until("ready").data["topics"] == [topic]
                elif caller == "anon":
                    assert status == 401, (caller, topic)
                else:
                    body = json.loads(s.response.read())
                    assert status == 403, (caller, topic, body)
                    assert body["error"]["code"] == "topic_forbidden"
                    assert topic in body["error"]["message"]  # the refusal names the topic


def test_a_key_streams_its_own_mode_and_a_user_only_its_own_notifications(api, world, pg):
    """A test key's stream carries test payments only, never a live one (customer data of
    the other mode); a notification for one user reaches that user's topic, not the
    merchant-wide one every member and key reads."""
    a = Shop(world)
    key = api.client.post(
        "/api/v1/merchant/credentials", headers=a.headers, json={"merchant_id": a.id, "name": "k"}
    )
    assert key.status_code == 201, key.text
    key_headers = bearer(key.json()["key"])
    live_id, test_id = ("pay_" + uuid.uuid4().hex[:20] for _ in range(2))
    with (
        Stream(api.base_url, {"topics": a.test_payments}, key_headers) as payments,
        Stream(api.base_url, {"topics": a.notifications}, key_headers) as shared,
        Stream(api.base_url, {"topics": a.mine}, a.headers) as mine,
    ):
        for s in (payments, shared, mine):
            s.until("ready")
        for payment_id, mode in ((live_id, "live"), (test_id, "test")):
            pg.execute(
                "insert into public.payments (id, merchant_id, mode, amount, currency, method)"
                " values (%s, %s, %s, 4200, 'INR', 'upi')",
                (payment_id, a.id, mode),
            )
        for user_id in (a.owner, None):
            pg.execute(
                "insert into public.notifications (merchant_id, user_id, kind, title)"
                " values (%s, %s, 'api_key.rotated', 'a key was regenerated')",
                (a.id, user_id),
            )
        first = payments.until("payment.created").data["data"]
        assert (first["id"], first["mode"]) == (test_id, "test")  # the live one never came
        assert mine.until("notification.created").data["data"]["user_id"] == str(a.owner)
        assert shared.until("notification.created").data["data"]["user_id"] is None


def test_one_forbidden_topic_refuses_the_whole_stream_and_bad_requests_are_400(api, world):
    a = Shop(world)
    with Stream(api.base_url, {"topics": f"{a.payments},admin:alerts"}, a.headers) as s:
        assert s.response.status_code == 403
        assert "admin:alerts" in json.loads(s.response.read())["error"]["message"]
    for params in (
        {},
        {"topics": "Admin Alerts"},
        {"topics": ",".join(f"merchant:{uuid.uuid4()}:payments" for _ in range(21))},
        {"topics": a.payments, "last_event_id": "-1"},
        {"topics": a.payments, "last_event_id": "abc"},
    ):
        with Stream(api.base_url, params, a.headers) as s:
            assert s.response.status_code == 400, params


# -- stream tokens ------------------------------------------------------------------------------
def test_a_stream_token_opens_an_eventsource_and_never_reaches_a_log(api, world, pg):
    a = Shop(world)
    minted = api.client.post(
        "/api/v1/stream/tokens", headers=a.headers, json={"topics": [a.payments]}
    )
    assert minted.status_code == 201, minted.text
    assert minted.headers["cache-control"] == "no-store"
    token = minted.json()["token"]
    with Stream(api.base_url, {"access_token": token}, {}) as s:  # no header at all
        assert s.response.status_code == 200
        ready = s.until("ready")
        assert ready.data["topics"] == [a.payments]
        publish(pg, a.payments, "payment.test", [{"n": 1}])
        got = s.until("payment.test")
        assert got.data["data"] == {"n": 1} and got.data["topic"] == a.payments
    # The token is reusable until it expires (EventSource reconnects with the same URL).
    with Stream(api.base_url, {"access_token": token, "topics": a.payments}, {}) as s:
        assert s.response.status_code == 200
    with Stream(api.base_url, {"access_token": token, "topics": a.alerts}, {}) as s:
        assert s.response.status_code == 403  # not a topic the token was minted for
    with Stream(api.base_url, {"access_token": token}, a.headers) as s:
        assert s.response.status_code == 400  # one credential, not two
    with Stream(api.base_url, {"access_token": "sst_" + "x" * 43}, {}) as s:
        assert s.response.status_code == 401
        assert json.loads(s.response.read())["error"]["details"]["reason"] == (
            "invalid_stream_token"
        )
    pg.execute(
        "update private.stream_tokens set expires_at = now() - interval '1 second'"
        " where digest = extensions.digest(%s, 'sha256')",
        (token,),
    )
    with Stream(api.base_url, {"access_token": token}, {}) as s:
        assert s.response.status_code == 401  # expired
    forbidden = api.client.post(
        "/api/v1/stream/tokens", headers=a.headers, json={"topics": ["admin:alerts"]}
    )
    assert forbidden.status_code == 403 and "admin:alerts" in forbidden.json()["error"]["message"]
    assert api.client.post("/api/v1/stream/tokens", json={"topics": [a.payments]}).status_code == (
        401
    )
    time.sleep(0.3)  # the request log is written after the response
    assert token not in api.logs()


# -- resume without loss -----------------------------------------------------------------------
def test_a_long_stream_resumes_across_disconnects_without_loss_or_repeats(
    stream_api, world, pg, super_url
):
    a = Shop(world)
    start = head(pg)
    done = threading.Event()
    failure: list[BaseException] = []

    def publisher() -> None:
        try:
            with psycopg.connect(super_url, autocommit=True) as conn:
                for first in range(1, EVENTS + 1, 20):
                    batch = [{"n": n} for n in range(first, min(first + 20, EVENTS + 1))]
                    publish(conn, a.payments, "payment.test", batch)
                    time.sleep(0.002)
        except BaseException as exc:
            failure.append(exc)
        finally:
            done.set()

    received: list[int] = []
    ids: list[int] = []
    last_id = start
    forced = 0
    every = max(1, EVENTS // (DISCONNECTS + 1))
    thread = threading.Thread(target=publisher, daemon=True)
    thread.start()
    deadline = time.monotonic() + 90
    while len(received) < EVENTS:
        assert time.monotonic() < deadline, f"stalled at {len(received)} of {EVENTS}"
        assert not failure, failure
        this_connection = 0
        resume = {**a.headers, "Last-Event-ID": str(last_id)}
        with Stream(stream_api.base_url, {"topics": a.payments}, resume) as s:
            assert s.response.status_code == 200
            while len(received) < EVENTS:
                assert time.monotonic() < deadline, f"stalled at {len(received)} of {EVENTS}"
                got = s.next()
                if got is None:
                    break  # the server ended it (e.g. slow_consumer): resume
                if got.id is not None:
                    last_id = got.id
                if got.event == "payment.test":
                    received.append(got.data["data"]["n"])
                    ids.append(got.id)
                    this_connection += 1
                    if forced < DISCONNECTS and this_connection >= every:
                        forced += 1
                        break  # hang up mid-stream
                elif got.event in ("gap", "error"):
                    if got.data.get("reason") != "slow_consumer":
                        pytest.fail(f"unexpected {got.event}: {got.data}")
    thread.join(timeout=30)
    assert not failure, failure
    assert forced == DISCONNECTS
    assert received == list(range(1, EVENTS + 1)), "0 lost, 0 duplicated, in order"
    assert ids == sorted(set(ids)), "ids only go up"


def test_a_resume_from_before_the_kept_window_gets_a_gap(stream_api, world, pg):
    a = Shop(world)
    before = head(pg)
    publish(pg, a.payments, "payment.test", [{"n": 1}, {"n": 2}])
    deadline = time.monotonic() + 10
    while head(pg) < before + 2:  # numbered by a hub or pg_cron's tick
        assert time.monotonic() < deadline
        time.sleep(0.05)
    pg.execute(
        "update private.live_events set created_at = now() - interval '25 hours'"
        " where id <= (select max(id) from private.live_events where topic = %s)",
        (a.payments,),
    )
    pg.execute("select private.live_retention()")
    with Stream(
        stream_api.base_url, {"topics": a.payments}, {**a.headers, "Last-Event-ID": str(before)}
    ) as s:
        gap = s.until("gap")
        assert gap.data["reason"] == "expired" and gap.data["last_event_id"] == before
        assert gap.id == gap.data["resume_from"] >= before + 2  # carry on from here
        publish(pg, a.payments, "payment.test", [{"n": 3}])
        assert s.until("payment.test").data["data"] == {"n": 3}
    with Stream(
        stream_api.base_url, {"topics": a.payments}, {**a.headers, "Last-Event-ID": "999999999999"}
    ) as s:
        assert s.until("gap").data["reason"] == "unknown_id"


# -- flow control ---------------------------------------------------------------------------------
def test_a_slow_client_is_cut_off_while_others_keep_receiving(stream_api, world, pg):
    a = Shop(world)
    total = 2500
    filler = "x" * 3000  # ~3 KB an event: the slow client's socket fills quickly
    # The slow client: a tiny receive window, reads the headers and then nothing.
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = stream_api.base_url.removeprefix("http://").split(":")
    slow.connect((host, int(port)))
    token = a.headers["Authorization"].split()[1]
    slow.sendall(
        f"GET {STREAM}?topics={a.payments} HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {token}\r\n\r\n".encode()
    )
    slow.settimeout(10)
    assert b"200" in slow.recv(256)
    fast = Stream(stream_api.base_url, {"topics": a.payments}, a.headers)
    fast.until("ready")
    got: list[int] = []

    def read_fast() -> None:
        while len(got) < total:
            event = fast.next()
            assert event is not None, "the fast client was cut off"
            assert event.event != "error", event.data
            if event.event == "payment.test":
                got.append(event.data["data"]["n"])

    reader = threading.Thread(target=read_fast, daemon=True)
    reader.start()
    for first in range(1, total + 1, 25):
        batch = [{"n": n, "pad": filler} for n in range(first, first + 25)]
        publish(pg, a.payments, "payment.test", batch)
        time.sleep(0.005)
    reader.join(timeout=60)
    fast.close()
    assert got == list(range(1, total + 1)), "the other client kept receiving everything"
    # Now the slow client reads what is left: a reason, then the end of the stream.
    slow.settimeout(30)
    tail = b""
    while True:
        chunk = slow.recv(65536)
        if not chunk:
            break
        tail = (tail + chunk)[-8192:]
    slow.close()
    assert b"event: error" in tail and b"slow_consumer" in tail, tail[-500:]
    assert "live stream client too slow" in stream_api.logs()


def test_idle_streams_get_heartbeats_and_lose_topics_they_may_no_longer_read(stream_api, world, pg):
    a = Shop(world)
    viewer = world.user("viewer")
    pg.execute(
        "insert into public.merchant_members (merchant_id, user_id, role)"
        " values (%s, %s, 'viewer')",
        (a.id, viewer),
    )
    with Stream(stream_api.base_url, {"topics": a.payments}, bearer(hs_token(viewer))) as s:
        s.until("ready")
        beat = s.next()
        assert beat is not None and beat.comment == "keep-alive"  # within stream_heartbeat_s
        pg.execute(
            "delete from public.merchant_members where merchant_id = %s and user_id = %s",
            (a.id, viewer),
        )
        ended = s.until("error", limit=20)  # within stream_reauth_s
        assert ended.data["reason"] == "topic_forbidden"
        assert s.next() is None


def test_many_streams_share_one_connection(stream_api, world, pg):
    """The server's pool holds 3 connections; 30 streams all receive the same event, so no
    stream holds a connection of its own (one listening connection serves them all)."""
    a = Shop(world)
    streams = [Stream(stream_api.base_url, {"topics": a.payments}, a.headers) for _ in range(30)]
    try:
        for s in streams:
            s.until("ready")
        publish(pg, a.payments, "payment.test", [{"n": 42}])
        for s in streams:
            assert s.until("payment.test").data["data"] == {"n": 42}
        hubs = pg.execute(
            "select count(*) from pg_stat_activity where usename = 'authenticator'"
            " and query like '%private.live_read%'"
        ).fetchone()[0]
        assert hubs <= 3  # the session API, this one and the SIGTERM test's at most
        assert sse_connections(stream_api) == 30
        # A 31st stream of the same caller is refused: one caller cannot take every slot.
        with Stream(stream_api.base_url, {"topics": a.payments}, a.headers) as extra:
            assert extra.response.status_code == 429
            assert json.loads(extra.response.read())["error"]["code"] == "too_many_streams"
        other = Shop(world)
        with Stream(stream_api.base_url, {"topics": other.payments}, other.headers) as fine:
            assert fine.until("ready")
        time.sleep(6)  # streams that stay open for a while
    finally:
        for s in streams:
            s.close()
    deadline = time.monotonic() + 10
    while sse_connections(stream_api) != 0:
        assert time.monotonic() < deadline, "closed streams still counted as open"
        time.sleep(0.1)
    # A stream's latency is the time to its headers, not how long the client stayed.
    slowest = max_request_seconds(stream_api, "/api/v1/stream")
    assert slowest is not None and slowest <= 2.5


def sse_connections(api: Api) -> float:
    text = httpx.get(f"{api.base_url}/metrics", timeout=5).text
    line = next(x for x in text.splitlines() if x.startswith("lsp_sse_connections"))
    return float(line.split()[-1])


def max_request_seconds(api: Api, route: str) -> float | None:
    """The upper bound of the highest latency bucket a GET of `route` has fallen in."""
    text = httpx.get(f"{api.base_url}/metrics", timeout=5).text
    bounds = []
    for line in text.splitlines():
        bucket = line.startswith("lsp_http_request_duration_seconds_bucket")
        if bucket and f'route="{route}"' in line:
            le = line.split('le="')[1].split('"')[0]
            count = float(line.split()[-1])
            bounds.append((float("inf") if le == "+Inf" else float(le), count))
    if not bounds:
        return None
    total = max(c for _, c in bounds)
    return min(b for b, c in bounds if c >= total)


def test_sigterm_ends_every_stream_and_the_server_stops(
    authenticator_url, jwks_url, world, tmp_path
):
    proc, api = start_api(authenticator_url, jwks_url, tmp_path / "api.log")
    a = Shop(world)
    try:
        s = Stream(api.base_url, {"topics": a.payments}, a.headers)
        s.until("ready")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        ended = s.until("reconnect")
        assert ended.data["reason"] == "server_shutdown"
        assert s.next() is None
        s.close()
        proc.wait(timeout=10)
        assert time.monotonic() - started < 10
        # uvicorn re-raises the signal once it has shut down cleanly (so -SIGTERM).
        assert proc.returncode in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in api.logs()
    finally:
        stop_api(proc)
