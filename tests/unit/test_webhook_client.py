"""The webhook client against a real receiver on 127.0.0.1: where it connects, what it sends,
and what it keeps of the answer. Name resolution is replaced to point names at loopback, and
every connection the client attempts is recorded: nothing may leave this machine."""

import asyncio
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from standardwebhooks import Webhook

from edge_adapter.webhooks import ssrf
from edge_adapter.webhooks.delivery import MAX_BODY, close_sessions, deliver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
EVENT = {
    "id": "evt_2b7f0d6a",
    "type": "payment.succeeded",
    "created_at": "2026-11-26T10:00:00+00:00",
    "payload": {"amount": 100},
}


class Receiver(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    answer: ClassVar[tuple[int, dict[str, str], bytes]] = (200, {}, b"ok")
    delay: ClassVar[float] = 0.0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        Receiver.seen.append(({k.lower(): v for k, v in self.headers.items()}, body))
        time.sleep(Receiver.delay)
        status, headers, content = Receiver.answer
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the timeout test): nothing to answer

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.seen = []
    Receiver.answer = (200, {}, b"ok")
    Receiver.delay = 0.0
    yield server.server_address[1]
    server.shutdown()


# Every address the client tried to connect to (the socket layer, below any policy).
CONNECTS: list[str] = []


@pytest.fixture(autouse=True)
def nothing_leaves_this_machine():
    CONNECTS.clear()
    yield
    assert all(a in ("127.0.0.1", "::1") for a in CONNECTS), CONNECTS


def send(url: str, allow_loopback: bool, dns: str | None = None, timeout_s: float = 2):
    async def go():
        loop = asyncio.get_running_loop()
        sock_connect = loop.sock_connect

        async def recorded(sock, address):
            CONNECTS.append(address[0])
            if address[0] not in ("127.0.0.1", "::1"):
                raise OSError("the test forbids leaving this machine")
            return await sock_connect(sock, address)

        loop.sock_connect = recorded
        if dns is not None:

            async def getaddrinfo(host, port, **kwargs):
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (dns, port))]

            loop.getaddrinfo = getaddrinfo
        try:
            return await deliver(
                url, EVENT, [SECRET], timeout_s=timeout_s, allow_loopback=allow_loopback
            )
        finally:
            await close_sessions()

    return asyncio.run(go())


def test_a_signed_delivery_keeps_the_name_and_connects_to_the_checked_address(receiver):
    attempt = send(f"http://hooks.example.com:{receiver}/in?x=1", True, dns="127.0.0.1")
    assert (attempt.delivered, attempt.status_code, attempt.response_body) == (True, 200, "ok")
    headers, body = Receiver.seen[0]
    assert headers["host"] == f"hooks.example.com:{receiver}"
    assert Webhook(SECRET).verify(body, headers)["data"] == {"amount": 100}


def test_a_name_resolving_to_loopback_is_refused_without_the_dev_setting(receiver):
    attempt = send(f"http://hooks.example.com:{receiver}/in", False, dns="127.0.0.1")
    assert attempt.status_code is None and attempt.error.startswith("refused"), attempt
    assert Receiver.seen == []
    attempt = send(f"http://localhost:{receiver}/in", False)
    assert attempt.error.startswith("refused") and Receiver.seen == []


def test_redirects_are_recorded_not_followed(receiver):
    Receiver.answer = (302, {"location": f"http://127.0.0.1:{receiver}/elsewhere"}, b"")
    attempt = send(f"http://127.0.0.1:{receiver}/in", True)
    assert (attempt.delivered, attempt.status_code) == (False, 302)
    assert attempt.error == "redirects are not followed" and len(Receiver.seen) == 1


def test_retry_after_is_read_and_the_body_is_clipped(receiver):
    Receiver.answer = (429, {"retry-after": "120"}, b"x" * (3 * MAX_BODY))
    attempt = send(f"http://127.0.0.1:{receiver}/in", True)
    assert (attempt.status_code, attempt.retry_after_s) == (429, 120)
    assert attempt.response_body == "x" * MAX_BODY


def test_unreachable_and_unresolvable_destinations_are_errors_not_exceptions():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    attempt = send(f"http://127.0.0.1:{closed_port}/in", True)
    assert attempt.status_code is None and attempt.error.startswith("connection failed")
    attempt = send("http://no-such-host.invalid/in", False)
    assert attempt.error == "refused: no-such-host.invalid does not resolve"


def test_a_slow_receiver_times_out(receiver):
    Receiver.delay = 1.0
    attempt = send(f"http://127.0.0.1:{receiver}/in", True, timeout_s=0.3)
    assert (attempt.status_code, attempt.error) == (None, "timed out after 0.3 s")
    assert 250 <= attempt.latency_ms < 1000


FULL_WIDTH_LOOPBACK = "\uff11\uff12\uff17.\uff10.\uff10.\uff11"


@pytest.mark.parametrize(
    "host",
    [
        FULL_WIDTH_LOOPBACK,  # the finding: yarl maps it to 127.0.0.1, a literal
        "127\u30020\u30020\u30021",
        "\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54",  # full-width localhost
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f.1",
        "0177.0.0.1",
        "127.0.0.1.",
        "[::ffff:127.0.0.1]",
        "[::127.0.0.1]",
        "0.0.0.0",  # connect() to 0.0.0.0 reaches this machine's listeners
    ],
)
def test_loopback_in_any_spelling_is_refused_without_the_dev_setting(receiver, host):
    attempt = send(f"http://{host}:{receiver}/in", False)
    assert attempt.status_code is None and attempt.error.startswith("refused"), attempt
    assert Receiver.seen == [] and CONNECTS == []


def test_the_full_width_spelling_is_plain_loopback_with_the_dev_setting(receiver):
    attempt = send(f"http://{FULL_WIDTH_LOOPBACK}:{receiver}/in", True)
    assert (attempt.delivered, attempt.status_code) == (True, 200), attempt
    assert Receiver.seen[0][0]["host"] == f"127.0.0.1:{receiver}"
    assert CONNECTS == ["127.0.0.1"]


def test_the_dev_setting_admits_plain_loopback_but_never_private_ranges(receiver):
    attempt = send(f"http://127.0.0.1:{receiver}/in", True)
    assert (attempt.delivered, CONNECTS) == (True, ["127.0.0.1"])
    CONNECTS.clear()
    for url in (
        f"http://10.0.0.1:{receiver}/in",
        f"http://192.168.1.1:{receiver}/in",
        f"http://169.254.169.254:{receiver}/latest/meta-data",
        f"http://[::ffff:10.0.0.1]:{receiver}/in",
        f"http://[fd00::1]:{receiver}/in",
        f"http://0.0.0.0:{receiver}/in",
        f"http://2130706433:{receiver}/in",  # loopback, but not as a dotted quad
    ):
        attempt = send(url, True)
        assert attempt.error.startswith("refused"), (url, attempt)
    assert len(Receiver.seen) == 1 and CONNECTS == []
    attempt = send(f"http://hooks.example.com:{receiver}/in", True, dns="10.0.0.7")
    assert attempt.error.startswith("refused") and CONNECTS == []


def test_the_socket_guard_holds_when_the_resolver_lets_loopback_through(receiver, monkeypatch):
    async def unchecked(self, host, port=0, family=socket.AF_INET):
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 6,
                "flags": 0,
            }
        ]

    monkeypatch.setattr(ssrf.SafeResolver, "resolve", unchecked)
    attempt = send(f"http://hooks.example.com:{receiver}/in", False)
    assert attempt.error == f"refused: {ssrf.BlockedConnection.TEXT}", attempt
    assert Receiver.seen == [] and CONNECTS == []
    attempt = send(f"http://hooks.example.com:{receiver}/in", True)  # the dev setting: allowed
    assert attempt.delivered and CONNECTS == ["127.0.0.1"]
