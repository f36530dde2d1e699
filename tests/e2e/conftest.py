"""The API started as a user would (uvicorn in its own process), spoken to over real HTTP.

A JWKS endpoint stands in for Supabase Auth's (the identity provider is outside our
system): a real HTTP server on 127.0.0.1 publishing an RSA key the tests sign with.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import TEST_JWT_SECRET

ROOT = Path(__file__).resolve().parents[2]
JWKS_KID = "test-key-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def jwks_url(rsa_key: rsa.RSAPrivateKey) -> Iterator[str]:
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    public_jwk.update(kid=JWKS_KID, use="sig", alg="RS256")
    body = json.dumps({"keys": [public_jwk]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/auth/v1/.well-known/jwks.json":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/auth/v1/.well-known/jwks.json"
    server.shutdown()


class Api:
    def __init__(self, base_url: str, log_path: Path) -> None:
        self.base_url = base_url
        self.log_path = log_path
        self.client = httpx.Client(base_url=base_url, timeout=10)

    def logs(self) -> str:
        return self.log_path.read_text()


class FakeProviders:
    def __init__(self, base: str) -> None:
        self.base = base
        self.client = httpx.Client(base_url=base, timeout=5)

    def mode(self, provider: str, mode: str = "ok", latency_ms: int = 0) -> None:
        self.client.post(
            "/_control", json={"provider": provider, "mode": mode, "latency_ms": latency_ms}
        ).raise_for_status()

    def reset(self) -> None:
        self.client.post("/_reset").raise_for_status()

    def calls(self) -> dict[str, int]:
        return self.client.get("/_calls").json()


@pytest.fixture(scope="session")
def fake_providers_server(tmp_path_factory) -> Iterator[FakeProviders]:
    """The fake provider server (edge_adapter/fake_providers) in its own process."""
    port = free_port()
    log = (tmp_path_factory.mktemp("fake") / "fake.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge_adapter.fake_providers", "--port", str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{base}/_calls", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("the fake provider server did not start")
            time.sleep(0.1)
    yield FakeProviders(base)
    proc.kill()  # hang-mode requests would hold a graceful shutdown open
    proc.wait(timeout=10)


@pytest.fixture
def fake_providers(fake_providers_server: FakeProviders) -> Iterator[FakeProviders]:
    fake_providers_server.reset()
    yield fake_providers_server
    fake_providers_server.reset()


DASHBOARD_ORIGIN = "http://dashboard.test:3000"


@contextmanager
def running_api(
    authenticator_url: str, jwks_url: str, fake_base: str, log_path: Path, **extra_env: str
) -> Iterator[Api]:
    """The API as `python -m edge_adapter.api` in its own process, with the test settings
    (and extra_env on top); stopped on exit."""
    from edge_adapter.fake_providers import overrides

    port = free_port()
    env = {
        **os.environ,
        "LSP_ENV": "development",
        "LSP_DATABASE_URL": authenticator_url,
        "LSP_JWT_SECRET": TEST_JWT_SECRET,
        "LSP_JWKS_URL": jwks_url,
        "LSP_POOL_TIMEOUT_S": "2",
        "LSP_PROVIDER_BASE_URLS": overrides(fake_base),
        "LSP_GATEWAY_CHECK_TIMEOUT_S": "2",
        "LSP_LAST_USED_FLUSH_S": "0.3",
        "LSP_WEBHOOK_ALLOW_LOOPBACK": "true",
        "LSP_WEBHOOK_TIMEOUT_S": "3",
        "LSP_CORS_ORIGINS": DASHBOARD_ORIGIN,
        **extra_env,
    }
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge_adapter.api", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code in (200, 308):
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the API did not start:\n{log_path.read_text()}")
        time.sleep(0.1)
    try:
        yield Api(base, log_path)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def api(
    authenticator_url: str, jwks_url: str, fake_providers_server: FakeProviders, tmp_path_factory
) -> Iterator[Api]:
    log_path = tmp_path_factory.mktemp("api") / "api.log"
    with running_api(authenticator_url, jwks_url, fake_providers_server.base, log_path) as api:
        yield api


def hs_token(sub: str | None, *, role: str = "authenticated", **overrides: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {"role": role, "iat": now, "exp": now + 600}
    if role == "authenticated":
        claims["aud"] = "authenticated"
    if sub:
        claims["sub"] = sub
    claims.update(overrides)
    secret = claims.pop("_secret", TEST_JWT_SECRET)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, "HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_request_id() -> str:
    return f"test-{uuid.uuid4()}"


class Receiver:
    """A merchant's webhook receiver: a real HTTP server on 127.0.0.1 that records every
    request and answers from a script (status, delay, extra headers) or with 200."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.script: list[tuple[int, float, dict[str, str]]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                with receiver.lock:
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": body,
                            "at": time.monotonic(),
                        }
                    )
                    status, delay, extra = (
                        receiver.script.pop(0) if receiver.script else (200, 0.0, {})
                    )
                time.sleep(delay)
                try:
                    self.send_response(status)
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"

    def ids(self) -> list[str]:
        with self.lock:
            return [r["headers"].get("webhook-id") for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
