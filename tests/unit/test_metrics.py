"""Metric families, label bounds, the database-side figures and the scrape protection."""

import base64
import json
import time
from types import SimpleNamespace

import httpx
import jwt
import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from edge_adapter import apikeys, metrics
from edge_adapter.api.app import create_app
from edge_adapter.auth import AuthError, JwtVerifier
from edge_adapter.settings import Settings


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def test_requests_are_labelled_by_route_template_never_the_raw_path():
    route = SimpleNamespace(path="/api/v1/payments/{payment_id}")
    scope = {"route": route, "method": "GET", "path": "/api/v1/payments/pay_0123456789abcdef0123"}
    labels = {"route": route.path, "method": "GET", "status_class": "4xx"}
    before = sample("lsp_http_requests_total", labels)
    metrics.request_started()
    metrics.observe_request(scope, 404, 0.012)
    assert sample("lsp_http_requests_total", labels) == before + 1
    text = generate_latest(REGISTRY).decode()
    assert "pay_0123456789abcdef0123" not in text
    assert sample("lsp_http_requests_in_flight") == 0
    unmatched = {"route": "unmatched", "method": "GET", "status_class": "4xx"}
    before = sample("lsp_http_requests_total", unmatched)
    metrics.request_started()
    metrics.observe_request({"method": "GET", "path": "/random/probe/123"}, 404, 0.001)
    assert sample("lsp_http_requests_total", unmatched) == before + 1
    assert "/random/probe/123" not in generate_latest(REGISTRY).decode()


def test_a_429_counts_as_a_rate_limit_refusal_by_bucket_kind():
    scope = {"route": SimpleNamespace(path="/api/v1/me"), "method": "GET"}
    key_scope = {**scope, "state": {"api_key": {"api_key_id": "k"}}}
    user = sample("lsp_rate_limit_refusals_total", {"kind": "user"})
    key = sample("lsp_rate_limit_refusals_total", {"kind": "api_key"})
    for s in (scope, key_scope, scope):
        metrics.request_started()
        metrics.observe_request(s, 429, 0.001)
    metrics.request_started()
    metrics.observe_request(scope, 200, 0.001)
    assert sample("lsp_rate_limit_refusals_total", {"kind": "user"}) == user + 2
    assert sample("lsp_rate_limit_refusals_total", {"kind": "api_key"}) == key + 1


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(204, "delivered"), (301, "http_3xx"), (410, "http_4xx"), (503, "http_5xx"), (None, "error")],
)
def test_webhook_deliveries_are_counted_by_outcome(status, outcome):
    before = sample("lsp_webhook_deliveries_total", {"outcome": outcome})
    metrics.webhook_delivery(status, 250)
    assert sample("lsp_webhook_deliveries_total", {"outcome": outcome}) == before + 1
    assert sample("lsp_webhook_delivery_duration_seconds_count", {"outcome": outcome}) >= 1


def test_job_outcomes_retries_and_dead_letters():
    q = "unit_queue"
    metrics.job_finished(q, "succeeded", 0.2)
    metrics.job_finished(q, "failed", 0.1)
    metrics.job_failed(q, dead=False)
    metrics.job_failed(q, dead=True)
    assert sample("lsp_worker_jobs_total", {"queue": q, "outcome": "succeeded"}) == 1
    assert sample("lsp_worker_jobs_total", {"queue": q, "outcome": "failed"}) == 1
    assert sample("lsp_worker_job_retries_total", {"queue": q}) == 1
    assert sample("lsp_worker_dead_letters_total", {"queue": q}) == 1
    assert sample("lsp_worker_job_duration_seconds_bucket", {"queue": q, "le": "0.25"}) == 2


def test_pool_figures_are_read_at_scrape_time():
    class FakePool:
        def __init__(self) -> None:
            self.stats = {"pool_size": 4, "pool_max": 10, "pool_available": 1}
            self.stats["requests_waiting"] = 3

        def get_stats(self) -> dict[str, int]:
            return {**self.stats, "requests_errors": 2}

    pool = FakePool()
    metrics.POOLS.register("unit", pool)
    assert sample("lsp_db_pool_waiting", {"pool": "unit"}) == 3
    assert sample("lsp_db_pool_timeouts_total", {"pool": "unit"}) == 2
    pool.stats = {**pool.stats, "requests_waiting": 0}
    assert sample("lsp_db_pool_waiting", {"pool": "unit"}) == 0
    del metrics.POOLS.pools["unit"]


SNAPSHOT = {
    "queues": {
        "data": [
            {
                "queue": "payment",
                "state": "backlogged",
                "pending": 1500,
                "delayed": 2,
                "processing": 7,
                "failed": 3,
                "oldest_pending_age_s": 42.5,
                "has_live_worker": True,
            }
        ]
    },
    "gateways": {
        "data": [
            {
                "id": "gw-1",
                "provider": "razorpay",
                "environment": "test",
                "status": "active",
                "success_rate": {"1h": 0.97, "24h": None},
                "transactions": {"1h": {"succeeded": 97, "failed": 3}, "24h": {}},
                "latency_ms": {"p50": 200, "p95": 750},
                "credentials": {"key_secret": "ab****yz"},
            }
        ]
    },
    "health": {"data": [{"id": "gw-1", "provider": "razorpay", "state": "degraded"}]},
    "operations": {
        "cron_jobs": [
            {
                "job": "lsp-payment-checks",
                "interval_s": 60,
                "last_start_epoch": 1700000000.5,
                "last_success_epoch": 1700000001.0,
                "last_status": "failed",
            }
        ],
        "api_key_digests": [{"pepper_version": 1, "keys": 5}, {"pepper_version": None, "keys": 1}],
    },
}


def test_database_figures_come_from_the_snapshot_and_vanish_with_it():
    registry = CollectorRegistry()
    figures = metrics.DatabaseFigures()
    registry.register(figures)
    figures.update(SNAPSHOT)

    def value(name: str, labels: dict[str, str]) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("lsp_queue_pending_jobs", {"queue": "payment"}) == 1500
    assert value("lsp_queue_oldest_pending_age_seconds", {"queue": "payment"}) == 42.5
    assert value("lsp_queue_dead_letter_jobs", {"queue": "payment"}) == 3
    assert value("lsp_queue_state", {"queue": "payment", "state": "backlogged"}) == 1
    assert value("lsp_queue_state", {"queue": "payment", "state": "healthy"}) == 0
    gw = {"gateway": "gw-1", "provider": "razorpay"}
    assert value("lsp_gateway_success_ratio", {**gw, "window": "1h"}) == 0.97
    assert value("lsp_gateway_success_ratio", {**gw, "window": "24h"}) is None
    assert value("lsp_gateway_attempts", {**gw, "window": "1h", "outcome": "failed"}) == 3
    assert value("lsp_gateway_latency_seconds", {**gw, "quantile": "0.95"}) == 0.75
    assert value("lsp_gateway_health_state", {**gw, "state": "degraded"}) == 1
    job = {"cron_job": "lsp-payment-checks"}
    assert value("lsp_cron_job_last_success_timestamp_seconds", job) == 1700000001.0
    assert value("lsp_cron_job_last_run_failed", job) == 1
    assert value("lsp_cron_job_interval_seconds", job) == 60
    assert value("lsp_api_key_digests", {"pepper_version": "1"}) == 5
    assert value("lsp_api_key_digests", {"pepper_version": "unknown"}) == 1
    assert value("lsp_db_figures_last_success_timestamp_seconds", {}) >= time.time() - 5
    text = generate_latest(registry).decode()
    assert "ab****yz" not in text  # only numbers leave the snapshot

    figures.update({"queues": {"data": []}})
    assert value("lsp_queue_pending_jobs", {"queue": "payment"}) is None


@pytest.mark.parametrize(
    ("authorization", "client", "token", "expected"),
    [
        (None, "127.0.0.1", None, 200),
        (None, "::1", None, 200),
        (None, "10.0.0.7", None, 403),
        (None, None, None, 403),
        (None, "127.0.0.1", "s3cret", 401),
        ("Bearer wrong", "127.0.0.1", "s3cret", 401),
        ("Basic s3cret", "10.0.0.7", "s3cret", 401),
        ("Bearer s3cret", "10.0.0.7", "s3cret", 200),
    ],
)
def test_scrapes_need_the_token_or_a_loopback_client(authorization, client, token, expected):
    assert metrics.scrape_allowed(authorization, client, token) == expected


async def test_the_api_metrics_route_refuses_remote_clients_without_the_token():
    app = create_app(Settings())
    remote = httpx.ASGITransport(app=app, client=("10.1.2.3", 4321))
    async with httpx.AsyncClient(transport=remote, base_url="http://api") as client:
        refused = await client.get("/metrics")
    assert refused.status_code == 403
    assert "lsp_http_requests_total" not in refused.text

    guarded = create_app(Settings(metrics_token="scrape-token"))
    remote = httpx.ASGITransport(app=guarded, client=("10.1.2.3", 4321))
    async with httpx.AsyncClient(transport=remote, base_url="http://api") as client:
        assert (await client.get("/metrics")).status_code == 401
        ok = await client.get("/metrics", headers={"Authorization": "Bearer scrape-token"})
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("text/plain")
    assert "# TYPE lsp_http_requests_total counter" in ok.text
    assert 'lsp_db_pool_size{pool="api"}' in ok.text


async def test_jwt_refusals_are_counted_by_reason_and_keys_by_kid():
    secret = "unit-legacy-secret-that-is-long-enough-for-hs256"
    shared = base64.urlsafe_b64encode(b"shared-secret-two-that-is-long-enough").rstrip(b"=")
    inline = json.dumps(
        {"keys": [{"kty": "oct", "kid": "k2", "alg": "HS256", "k": shared.decode()}]}
    )
    verifier = JwtVerifier(Settings(jwt_secret=secret, jwt_keys=inline))
    now = int(time.time())
    claims = {"role": "service_role", "iat": now, "exp": now + 60}
    k2 = jwt.encode(
        claims, b"shared-secret-two-that-is-long-enough", "HS256", headers={"kid": "k2"}
    )
    legacy = jwt.encode(claims, secret, "HS256")
    before_k2 = sample("lsp_jwt_verified_total", {"alg": "HS256", "kid": "k2"})
    before_legacy = sample("lsp_jwt_verified_total", {"alg": "HS256", "kid": "legacy"})
    await verifier.verify(f"Bearer {k2}")
    await verifier.verify(f"Bearer {legacy}")
    assert sample("lsp_jwt_verified_total", {"alg": "HS256", "kid": "k2"}) == before_k2 + 1
    assert sample("lsp_jwt_verified_total", {"alg": "HS256", "kid": "legacy"}) == before_legacy + 1

    retired = JwtVerifier(Settings(jwt_secret="", jwt_keys=inline))
    refused = sample("lsp_auth_refusals_total", {"credential": "jwt", "reason": "unknown_key"})
    with pytest.raises(AuthError) as exc:
        await retired.verify(f"Bearer {legacy}")  # the legacy secret is retired
    assert exc.value.reason == "unknown_key"
    after = sample("lsp_auth_refusals_total", {"credential": "jwt", "reason": "unknown_key"})
    assert after == refused + 1
    wrong = jwt.encode(
        claims, b"not-the-shared-secret-at-all-nope!", "HS256", headers={"kid": "k2"}
    )
    with pytest.raises(AuthError) as exc:
        await retired.verify(f"Bearer {wrong}")
    assert exc.value.reason == "bad_signature"


def test_other_peppers_parse_from_json_and_bad_shapes_are_refused():
    assert apikeys.Peppers.parse_others(None) == {}
    assert apikeys.Peppers.parse_others('{"1": "old", "3": "newer"}') == {1: "old", 3: "newer"}
    for bad in ('["x"]', '{"one": "x"}', '{"1": ""}', '{"1": 5}'):
        with pytest.raises(ValueError):
            apikeys.Peppers.parse_others(bad)
    ring = apikeys.Peppers("current", 2, {1: "old"})
    assert ring.version_of("current") == 2
    assert ring.version_of("old") == 1
    assert ring.version_of("unknown") is None
    assert ring.rotating()
    assert not apikeys.Peppers("current").rotating()
