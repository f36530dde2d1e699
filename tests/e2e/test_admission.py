"""Limits before work, and the headers every answer carries: authentication before the body
is read, 413 for bodies over the limit (declared or streamed), a bounded header block, no
redirect built from the Host header, 405 with Allow, CORS for the dashboard's origin only,
security headers, HTTPS behind a trusted proxy, and production refusing development
secrets."""

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from .conftest import DASHBOARD_ORIGIN, ROOT, bearer, hs_token, running_api

ONE_MB = 1024 * 1024


def raw_exchange(base_url: str, head: bytes, body_part: bytes = b"", wait_s: float = 5) -> bytes:
    """Send a request head (and part of a body) on a raw socket and read what comes back
    without sending the rest."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait_s) as sock:
        sock.sendall(head + body_part)
        chunks = []
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b"}" in chunk:
                break
        return b"".join(chunks)


def test_without_a_token_the_body_is_never_read(api):
    # A 900 KB body is declared; only 10 bytes are sent. The 401 comes back at once.
    head = (
        b"POST /api/v1/payments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 900000\r\n\r\n"
    )
    answer = raw_exchange(api.base_url, head, b'{"amount":')
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]


def test_a_malformed_body_without_a_token_is_a_401(api):
    response = api.client.post(
        "/api/v1/payments", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_a_body_over_the_limit_is_a_413_declared_or_streamed(api, world):
    owner = world.user("owner")
    world.merchant(owner)
    headers = {**bearer(hs_token(owner)), "content-type": "application/json"}
    declared = api.client.post(
        "/api/v1/merchant/credentials", headers=headers, content=b" " * (ONE_MB + 1)
    )
    assert declared.status_code == 413, declared.text
    assert declared.json()["error"]["details"] == {"max_bytes": ONE_MB}

    def chunks():  # no Content-Length: chunked, refused once past the limit
        for _ in range(40):
            yield b" " * 65536

    streamed = api.client.post("/api/v1/merchant/credentials", headers=headers, content=chunks())
    assert streamed.status_code == 413, streamed.text
    assert api.client.get("/healthz").status_code == 200
    # Just under the limit is read and judged on its content.
    fits = api.client.post(
        "/api/v1/merchant/credentials",
        headers=headers,
        content=b'{"name": "k"}' + b" " * (ONE_MB - 20),
    )
    assert fits.status_code == 201, fits.text


def test_a_bad_content_length_or_media_type_is_refused(api, world):
    owner = world.user("owner")
    world.merchant(owner)
    answer = raw_exchange(
        api.base_url,
        b"POST /api/v1/merchant/credentials HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: Bearer {hs_token(owner)}\r\n".encode()
        + b"Content-Length: 12abc\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    form = api.client.post(
        "/api/v1/merchant/credentials",
        headers={**bearer(hs_token(owner)), "content-type": "application/x-www-form-urlencoded"},
        content=b"name=k",
    )
    assert form.status_code == 415 and form.json()["error"]["code"] == "unsupported_media_type"


def test_oversized_headers_are_refused(api):
    response = api.client.get("/api/v1/me", headers={"x-big": "a" * (40 * 1024)})
    assert response.status_code == 431, response.text
    assert response.json()["error"]["code"] == "headers_too_large"
    many = api.client.get("/api/v1/me", headers={f"x-h{n}": "a" * 100 for n in range(400)})
    assert many.status_code == 431
    # A 10 MB header never gets buffered whole: the parser gives up on the connection.
    with pytest.raises(httpx.HTTPError):
        huge = api.client.get("/api/v1/me", headers={"x-big": "a" * (10 * ONE_MB)})
        assert huge.status_code in (400, 431)
        raise httpx.HTTPError("answered")  # an answer is fine too, as long as it refused
    assert api.client.get("/healthz").status_code == 200


def test_no_redirect_is_built_from_the_host_header(api):
    response = api.client.get(
        "/api/v1/me/", headers={"host": "evil.example"}, follow_redirects=False
    )
    assert response.status_code == 404, response.text
    assert "location" not in response.headers


def test_405_names_the_allowed_methods(api):
    response = api.client.patch("/api/v1/payments")
    assert response.status_code == 405
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_every_answer_carries_security_headers_and_no_server_header(api):
    for response in (
        api.client.get("/healthz"),
        api.client.get("/api/v1/me"),  # 401
        api.client.get("/nope"),  # 404
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "server" not in response.headers
        assert "strict-transport-security" not in response.headers  # not behind TLS here
    docs = api.client.get("/docs")
    assert "script-src 'self'" in docs.headers["content-security-policy"]


def test_cors_answers_the_dashboard_origin_only(api, world):
    preflight = api.client.options(
        "/api/v1/payments",
        headers={
            "origin": DASHBOARD_ORIGIN,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type, idempotency-key",
        },
    )
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == DASHBOARD_ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "idempotency-key" in preflight.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in preflight.headers
    stranger = api.client.options(
        "/api/v1/payments",
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert stranger.status_code == 400
    assert "access-control-allow-origin" not in stranger.headers
    admin = world.admin()
    simple = api.client.get(
        "/api/v1/me", headers={**bearer(hs_token(admin)), "origin": DASHBOARD_ORIGIN}
    )
    assert simple.headers["access-control-allow-origin"] == DASHBOARD_ORIGIN
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
    other = api.client.get(
        "/api/v1/me", headers={**bearer(hs_token(admin)), "origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in other.headers


def test_behind_a_trusted_proxy_http_is_redirected_to_the_public_url_with_hsts(
    authenticator_url, jwks_url, fake_providers_server, tmp_path
):
    with running_api(
        authenticator_url,
        jwks_url,
        fake_providers_server.base,
        tmp_path / "api.log",
        LSP_FORCE_HTTPS="true",
        LSP_TRUSTED_PROXIES="127.0.0.1",
        LSP_PUBLIC_BASE_URL="https://pay.example",
    ) as proxied:
        plain = proxied.client.get(
            "/api/v1/payments?limit=5",
            headers={"x-forwarded-proto": "http", "host": "evil.example"},
            follow_redirects=False,
        )
        assert plain.status_code == 308
        assert plain.headers["location"] == "https://pay.example/api/v1/payments?limit=5"
        secure = proxied.client.get("/healthz", headers={"x-forwarded-proto": "https"})
        assert secure.status_code == 200
        assert secure.headers["strict-transport-security"].startswith("max-age=")


@pytest.mark.parametrize("module", ["edge_adapter.api", "edge_adapter.worker"])
def test_production_refuses_development_secrets(module, authenticator_url):
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("LSP_") or k == "LSP_TEST_PGDATA"
    }
    env.update(LSP_DATABASE_URL=authenticator_url, LSP_PORT="0")
    refused = subprocess.run(
        [sys.executable, "-m", module],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0, output
    assert "refusing to start in production" in output
    assert "LSP_JWT_SECRET" in output and "LSP_API_KEY_PEPPER" in output
    assert "super-secret-jwt-token" not in output  # names, never values


def test_every_process_logs_its_mode(api):
    assert '"msg": "api starting in development mode"' in api.logs()


def test_slow_clients_are_bounded_by_keep_alive(api):
    # An idle keep-alive connection is closed by the server after LSP_KEEP_ALIVE_S (5 s).
    with httpx.Client(base_url=api.base_url) as client:
        assert client.get("/healthz").status_code == 200
        host, port = api.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.recv(65536)
        started = time.monotonic()
        while sock.recv(65536):
            pass
        assert time.monotonic() - started < 9
