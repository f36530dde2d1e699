"""JWT signing-key rotation without downtime (Supabase's procedure: standby key published,
picked up, made current, the old one revoked once its tokens expired) under continuous
requests: no unexpected 401, and the revoked key stops verifying."""

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import TEST_JWT_SECRET

from .conftest import ROOT, bearer, free_port


class ApiProcess:
    def __init__(self, proc: subprocess.Popen[bytes], base: str, log: Path) -> None:
        self.proc, self.base, self.log = proc, base, log
        self.client = httpx.Client(base_url=base, timeout=10)

    def stop(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)


def start_api(authenticator_url: str, tmp: Path, name: str, **env: str) -> ApiProcess:
    """An API process as deployed (uvicorn), with its own settings."""
    port = free_port()
    log = tmp / f"{name}.log"
    full_env = {
        **os.environ,
        "LSP_DATABASE_URL": authenticator_url,
        "LSP_JWT_SECRET": TEST_JWT_SECRET,
        "LSP_RATE_LIMIT_ENABLED": "false",
        "LSP_LAST_USED_FLUSH_S": "0.3",
        **env,
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "edge_adapter.api:app", "--port", str(port)],
            cwd=ROOT,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return ApiProcess(proc, base, log)
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the API did not start:\n{log.read_text()}")
        time.sleep(0.1)


class Jwks:
    """Supabase Auth's JWKS endpoint and signer: keys by kid, one current."""

    def __init__(self) -> None:
        self.private: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.published: list[str] = []
        self.current = ""
        self.lock = threading.Lock()
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with jwks.lock:
                    keys = []
                    for kid in jwks.published:
                        jwk = json.loads(
                            jwt.algorithms.ECAlgorithm.to_jwk(jwks.private[kid].public_key())
                        )
                        keys.append({**jwk, "kid": kid, "use": "sig", "alg": "ES256"})
                body = json.dumps({"keys": keys}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/auth/v1/.well-known/jwks.json"

    def create_standby(self, kid: str) -> None:
        with self.lock:
            self.private[kid] = ec.generate_private_key(ec.SECP256R1())
            self.published.append(kid)

    def rotate_to(self, kid: str) -> None:
        with self.lock:
            self.current = kid

    def revoke(self, kid: str) -> None:
        with self.lock:
            self.published.remove(kid)

    def token(self, sub: str, lifetime_s: int, kid: str | None = None) -> str:
        now = int(time.time())
        kid = kid or self.current
        claims = {"sub": sub, "role": "authenticated", "aud": "authenticated"}
        claims |= {"iat": now, "exp": now + lifetime_s}
        return jwt.encode(claims, self.private[kid], "ES256", headers={"kid": kid})


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    j = Jwks()
    yield j
    j.server.shutdown()


def scrape(api: ApiProcess, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(api.client.get("/metrics").text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def wait_for(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_signing_keys_rotate_under_continuous_requests_without_a_401(
    authenticator_url, world, jwks, tmp_path
):
    lifetime = 3  # access-token lifetime in this test (Supabase's default is an hour)
    jwks.create_standby("k1")
    jwks.rotate_to("k1")
    api = start_api(
        authenticator_url,
        tmp_path,
        "api",
        LSP_JWKS_URL=jwks.url,
        LSP_JWKS_REFRESH_S="1",
        LSP_JWKS_MIN_REFRESH_S="0.5",
    )
    uid = world.user()
    statuses: list[tuple[str, int]] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=api.base, timeout=10) as http:
            while not stop.is_set():
                kid = jwks.current
                # A fresh token per request, as clients refreshing sessions do.
                status = http.get(
                    "/api/v1/me", headers=bearer(jwks.token(uid, lifetime))
                ).status_code
                statuses.append((kid, status))
                time.sleep(0.02)

    worker = threading.Thread(target=client)
    worker.start()
    try:
        time.sleep(1)
        jwks.create_standby("k2")  # 1. standby, published
        assert wait_for(lambda: scrape(api, "lsp_jwks_keys") == 2), "the API picked it up"
        jwks.rotate_to("k2")  # 2. rotate: Auth signs with k2, k1 still trusted
        time.sleep(lifetime + 1)  # 3. every k1 token has expired (+ margin)
        jwks.revoke("k1")  # 4. revoke
        assert wait_for(lambda: scrape(api, "lsp_jwks_keys") == 1)
        time.sleep(1)
    finally:
        stop.set()
        worker.join(timeout=15)
    try:
        assert len(statuses) > 50
        refused = [s for s in statuses if s[1] != 200]
        assert refused == [], refused[:5]
        assert {kid for kid, _ in statuses} == {"k1", "k2"}
        assert scrape(api, "lsp_jwt_verified_total", alg="ES256", kid="k1") > 0
        assert scrape(api, "lsp_jwt_verified_total", alg="ES256", kid="k2") > 0
        # The revoked key no longer verifies, even for a token that has not expired.
        stale = api.client.get("/api/v1/me", headers=bearer(jwks.token(uid, 60, kid="k1")))
        assert stale.status_code == 401
        assert stale.json()["error"]["details"]["reason"] == "unknown_key"
    finally:
        api.stop()


def test_a_token_from_a_key_made_current_before_our_refresh_still_verifies(
    authenticator_url, world, jwks, tmp_path
):
    """Rotated before the periodic refresh: the unknown kid makes the API fetch at once."""
    jwks.create_standby("a")
    jwks.rotate_to("a")
    api = start_api(
        authenticator_url,
        tmp_path,
        "api2",
        LSP_JWKS_URL=jwks.url,
        LSP_JWKS_REFRESH_S="300",
        LSP_JWKS_MIN_REFRESH_S="1",
    )
    try:
        uid = world.user()
        assert api.client.get("/api/v1/me", headers=bearer(jwks.token(uid, 60))).status_code == 200
        time.sleep(1.1)  # longer ago than LSP_JWKS_MIN_REFRESH_S
        jwks.create_standby("b")
        jwks.rotate_to("b")
        fresh = api.client.get("/api/v1/me", headers=bearer(jwks.token(uid, 60)))
        assert fresh.status_code == 200, fresh.text
        # An unknown kid cannot make the API fetch more than once per LSP_JWKS_MIN_REFRESH_S.
        fetches = scrape(api, "lsp_jwks_refreshes_total", outcome="ok")
        for n in range(5):
            forged = jwt.encode(
                {
                    "sub": uid,
                    "role": "authenticated",
                    "aud": "authenticated",
                    "exp": int(time.time()) + 60,
                },
                jwks.private["b"],
                "ES256",
                headers={"kid": f"made-up-{n}"},
            )
            answer = api.client.get("/api/v1/me", headers=bearer(forged))
            assert answer.json()["error"]["details"]["reason"] == "unknown_key"
        assert scrape(api, "lsp_jwks_refreshes_total", outcome="ok") <= fetches + 1
    finally:
        api.stop()
