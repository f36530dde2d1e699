"""Prometheus metrics: one registry (prometheus-client's default, with its process and Python
collectors), the metric families the API and the worker export, and small helpers the
request path and the job loop call.

Naming follows Prometheus conventions (https://prometheus.io/docs/practices/naming/): a
`lsp_` prefix, base units (`_seconds`, `_bytes`), `_total` for counters. Label values are
bounded: route templates (the matched route's path, `/api/v1/payments/{payment_id}`, never
the raw path), methods, status classes, queue names, providers, error classes, gateway ids
(platform configuration, tens at most). Never a merchant, payment, user or key id.

Where figures are served:

- the API: `GET /metrics` (`edge_adapter/api/metrics_route.py`);
- the worker: `--metrics-port` / `LSP_WORKER_METRICS_PORT` (`serve_worker_metrics`), which
  also exports the database-side figures (queues, gateways, pg_cron jobs, API-key digests by
  pepper version) refreshed from the admin RPCs every `LSP_METRICS_DB_INTERVAL_S`.

Both answer only a bearer `LSP_METRICS_TOKEN` when it is set; without one, only clients on
the loopback interface (development, or a scraper on the same host).
"""

import asyncio
import hmac
import ipaddress
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from . import jsonlog

logger = logging.getLogger("edge_adapter.metrics")

# Request latency: 5 ms .. 10 s (an API call is one or two database round trips).
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Jobs run up to their visibility timeout (30 s by default) and provider calls up to 10 s.
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
OUTBOUND_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 15.0)

# -- API ------------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "lsp_http_requests_total",
    "HTTP requests answered, by route template, method and status class (2xx..5xx).",
    ["route", "method", "status_class"],
)
HTTP_DURATION = Histogram(
    "lsp_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response (an event stream: to its "
    "headers), by route template and method.",
    ["route", "method"],
    buckets=HTTP_BUCKETS,
)
HTTP_IN_FLIGHT = Gauge(
    "lsp_http_requests_in_flight", "Requests being handled now.", multiprocess_mode="livesum"
)
AUTH_REFUSALS = Counter(
    "lsp_auth_refusals_total",
    "401s by credential (jwt, api_key) and reason (the error's details.reason).",
    ["credential", "reason"],
)
RATE_LIMIT_REFUSALS = Counter(
    "lsp_rate_limit_refusals_total",
    "429s from the rate limiter, by bucket kind (api_key, user).",
    ["kind"],
)
SSE_CONNECTIONS = Gauge(
    "lsp_sse_connections",
    "Open server-sent-event streams (GET /api/v1/stream), summed over the API's processes.",
    multiprocess_mode="livesum",
)
JWT_VERIFIED = Counter(
    "lsp_jwt_verified_total",
    "Tokens that verified, by algorithm and key id (kid; 'legacy' for the HS256 project "
    "secret): a retired key's series stops growing.",
    ["alg", "kid"],
)
JWKS_REFRESHES = Counter(
    "lsp_jwks_refreshes_total", "JWKS fetches, by outcome (ok, error).", ["outcome"]
)
JWKS_KEYS = Gauge(
    "lsp_jwks_keys",
    "Signing keys trusted now (the JWKS plus LSP_JWT_KEYS).",
    multiprocess_mode="max",
)
API_KEY_PEPPER_MATCHES = Counter(
    "lsp_api_key_pepper_matches_total",
    "API keys found under a pepper other than the current one, by that pepper's version.",
    ["pepper_version"],
)
API_KEY_REDIGESTS = Counter(
    "lsp_api_key_redigests_total",
    "API-key digests rewritten under the current pepper on use, by the version they left.",
    ["from_version"],
)

# -- worker ---------------------------------------------------------------------------------
JOBS = Counter(
    "lsp_worker_jobs_total",
    "Job attempts finished, by queue and outcome (succeeded, failed, timed_out).",
    ["queue", "outcome"],
)
JOB_DURATION = Histogram(
    "lsp_worker_job_duration_seconds",
    "Handler run time of one job attempt, by queue.",
    ["queue"],
    buckets=JOB_BUCKETS,
)
JOBS_IN_FLIGHT = Gauge(
    "lsp_worker_jobs_in_flight",
    "Jobs running now, by queue.",
    ["queue"],
    multiprocess_mode="livesum",
)
JOB_RETRIES = Counter(
    "lsp_worker_job_retries_total", "Failed attempts scheduled to run again, by queue.", ["queue"]
)
DEAD_LETTERS = Counter(
    "lsp_worker_dead_letters_total",
    "Jobs moved to their dead-letter queue after their last attempt, by queue.",
    ["queue"],
)
HEARTBEAT = Gauge(
    "lsp_worker_last_heartbeat_timestamp_seconds",
    "When this worker last recorded its heartbeat in the database (Unix time).",
    multiprocess_mode="max",
)
WEBHOOK_DELIVERIES = Counter(
    "lsp_webhook_deliveries_total",
    "Merchant webhook delivery attempts, by outcome (delivered, http_3xx, http_4xx, "
    "http_5xx, error: no HTTP answer).",
    ["outcome"],
)
WEBHOOK_DURATION = Histogram(
    "lsp_webhook_delivery_duration_seconds",
    "Time of one delivery attempt, by outcome.",
    ["outcome"],
    buckets=OUTBOUND_BUCKETS,
)
GATEWAY_CHECKS = Counter(
    "lsp_gateway_checks_total",
    "Provider credential checks, by provider, kind (probe, test) and result (ok or the "
    "error class).",
    ["provider", "kind", "result"],
)
GATEWAY_CHECK_DURATION = Histogram(
    "lsp_gateway_check_duration_seconds",
    "Latency of a provider credential check, by provider and kind.",
    ["provider", "kind"],
    buckets=OUTBOUND_BUCKETS,
)
PAYMENT_ATTEMPTS = Counter(
    "lsp_payment_attempt_results_total",
    "Provider answers to payment attempts, by result status and what the worker did next "
    "(none, cascade, retry).",
    ["status", "next"],
)
PAYMENT_PROVIDER_DURATION = Histogram(
    "lsp_payment_provider_call_duration_seconds",
    "Latency of a provider payment call as recorded on the attempt, by result status.",
    ["status"],
    buckets=OUTBOUND_BUCKETS,
)
ALERT_EVALUATOR_LAST_RUN = Gauge(
    "lsp_alert_evaluator_last_run_timestamp_seconds",
    "When the product alert evaluator last finished a pass (Unix time). For the evaluator to "
    "set if it runs in this process; a pg_cron evaluator shows in lsp_cron_job_* instead.",
    multiprocess_mode="max",
)


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


def route_template(scope: dict[str, Any]) -> str:
    """The matched route's template; requests no route matched share one label."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def request_started() -> None:
    HTTP_IN_FLIGHT.inc()


def observe_request(scope: dict[str, Any], status: int, duration_s: float) -> None:
    """The API middleware's call at the end of a request."""
    HTTP_IN_FLIGHT.dec()
    route, method = route_template(scope), scope.get("method", "OTHER")
    HTTP_REQUESTS.labels(route, method, status_class(status)).inc()
    HTTP_DURATION.labels(route, method).observe(duration_s)
    if status == 429:
        kind = "api_key" if scope.get("state", {}).get("api_key") else "user"
        RATE_LIMIT_REFUSALS.labels(kind).inc()


def auth_refused(credential: str, reason: str) -> None:
    AUTH_REFUSALS.labels(credential, reason).inc()


def sse_opened() -> None:
    SSE_CONNECTIONS.inc()


def sse_closed() -> None:
    SSE_CONNECTIONS.dec()


def job_finished(queue: str, outcome: str, duration_s: float) -> None:
    JOBS.labels(queue, outcome).inc()
    JOB_DURATION.labels(queue).observe(duration_s)


def job_failed(queue: str, dead: bool) -> None:
    (DEAD_LETTERS if dead else JOB_RETRIES).labels(queue).inc()


def webhook_delivery(status_code: int | None, latency_ms: int) -> None:
    if status_code is None:
        outcome = "error"
    elif 200 <= status_code < 300:
        outcome = "delivered"
    else:
        outcome = status_class(status_code)
        outcome = f"http_{outcome}" if outcome != "other" else "error"
    WEBHOOK_DELIVERIES.labels(outcome).inc()
    WEBHOOK_DURATION.labels(outcome).observe(latency_ms / 1000)


def gateway_check(provider: str, kind: str, error_class: str | None, latency_ms: int) -> None:
    GATEWAY_CHECKS.labels(provider, kind, error_class or "ok").inc()
    GATEWAY_CHECK_DURATION.labels(provider, kind).observe(latency_ms / 1000)


def payment_attempt(status: str, next_step: str, latency_ms: int) -> None:
    PAYMENT_ATTEMPTS.labels(status, next_step).inc()
    if latency_ms:
        PAYMENT_PROVIDER_DURATION.labels(status).observe(latency_ms / 1000)


# -- connection pools -------------------------------------------------------------------------
class PoolCollector(Collector):
    """psycopg_pool figures read at scrape time (`get_stats()`, which does not reset them:
    https://www.psycopg.org/psycopg3/docs/advanced/pool.html#pool-stats). requests_errors
    counts requests that failed to get a connection: timeouts and a full queue."""

    def __init__(self) -> None:
        self.pools: dict[str, Any] = {}

    def register(self, name: str, pool: Any) -> None:
        self.pools[name] = pool

    def collect(self) -> Iterator[Metric]:
        gauges = {
            "pool_size": ("lsp_db_pool_size", "Connections open in the pool."),
            "pool_max": ("lsp_db_pool_max_size", "The pool's maximum size."),
            "pool_available": ("lsp_db_pool_available", "Idle connections ready to lend."),
            "requests_waiting": ("lsp_db_pool_waiting", "Requests queued for a connection."),
        }
        counters = {
            "requests_errors": (
                "lsp_db_pool_timeouts",
                "Requests that got no connection (timed out or queue full).",
            ),
            "connections_lost": ("lsp_db_pool_connections_lost", "Connections found broken."),
            "requests_num": ("lsp_db_pool_requests", "Connection requests served."),
        }
        families: dict[str, Any] = {}
        for key, (name, doc) in gauges.items():
            families[key] = GaugeMetricFamily(name, doc, labels=["pool"])
        for key, (name, doc) in counters.items():
            families[key] = CounterMetricFamily(name, doc, labels=["pool"])
        for pool_name, pool in list(self.pools.items()):
            stats = pool.get_stats()
            for key, family in families.items():
                family.add_metric([pool_name], float(stats.get(key, 0)))
        yield from families.values()


POOLS = PoolCollector()
REGISTRY.register(POOLS)


# -- database-side figures ------------------------------------------------------------------
@dataclass(eq=False)  # hashable by identity: registries keep collectors in dicts
class DatabaseFigures(Collector):
    """Figures only Postgres knows, from the admin RPCs (service_role): queue depth and age,
    gateway success rates and health, pg_cron job runs, API-key digests by pepper version.
    Refreshed by a background task; collect() serves the last snapshot, so a scrape never
    waits on the database and a queue or gateway that is gone leaves no stale series."""

    snapshot: dict[str, Any] = field(default_factory=dict)
    refreshed_at: float = 0.0
    failures: int = 0

    def update(self, snapshot: dict[str, Any]) -> None:
        self.snapshot = snapshot
        self.refreshed_at = time.time()

    def collect(self) -> Iterator[Metric]:
        yield from _figure_families(self.snapshot)
        last = GaugeMetricFamily(
            "lsp_db_figures_last_success_timestamp_seconds",
            "When the database-side figures were last read (Unix time; 0 = never).",
        )
        last.add_metric([], self.refreshed_at)
        yield last
        fails = CounterMetricFamily(
            "lsp_db_figures_failures", "Failed reads of the database-side figures."
        )
        fails.add_metric([], float(self.failures))
        yield fails


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


QUEUE_STATES = ("healthy", "backlogged", "stalled", "paused")
HEALTH_STATES = ("unknown", "healthy", "degraded", "down")


def _figure_families(snapshot: dict[str, Any]) -> Iterable[Metric]:
    """Metric families from {queues: admin_list_queues, gateways: admin_list_gateways,
    health: admin_gateway_health, operations: admin_operations_snapshot}."""
    q_fields = {
        "pending": ("lsp_queue_pending_jobs", "Jobs ready to run now."),
        "delayed": ("lsp_queue_delayed_jobs", "Jobs scheduled for later (never read yet)."),
        "processing": ("lsp_queue_processing_jobs", "Jobs read by a worker and not finished."),
        "failed": ("lsp_queue_dead_letter_jobs", "Jobs in the queue's dead-letter queue."),
        "oldest_pending_age_s": (
            "lsp_queue_oldest_pending_age_seconds",
            "Age of the oldest job ready to run (0 when none).",
        ),
    }
    qf = {k: GaugeMetricFamily(n, d, labels=["queue"]) for k, (n, d) in q_fields.items()}
    q_state = GaugeMetricFamily(
        "lsp_queue_state",
        "1 for the queue's current state, 0 for the others.",
        labels=["queue", "state"],
    )
    q_worker = GaugeMetricFamily(
        "lsp_queue_live_worker",
        "1 when a worker seen in the last 15 s consumes the queue.",
        labels=["queue"],
    )
    for q in (snapshot.get("queues") or {}).get("data", []):
        name = str(q.get("queue"))
        for key, family in qf.items():
            value = _num(q.get(key))
            if value is not None:
                family.add_metric([name], value)
        for state in QUEUE_STATES:
            q_state.add_metric([name, state], 1.0 if q.get("state") == state else 0.0)
        q_worker.add_metric([name], 1.0 if q.get("has_live_worker") else 0.0)
    yield from qf.values()
    yield q_state
    yield q_worker

    g_labels = ["gateway", "provider"]
    g_info = GaugeMetricFamily(
        "lsp_gateway_info",
        "1 per gateway: its provider, environment and status (join on gateway).",
        labels=["gateway", "provider", "environment", "status"],
    )
    g_rate = GaugeMetricFamily(
        "lsp_gateway_success_ratio",
        "Succeeded / (succeeded + failed) attempts over the window (1h, 24h); absent without "
        "outcomes.",
        labels=[*g_labels, "window"],
    )
    g_tx = GaugeMetricFamily(
        "lsp_gateway_attempts",
        "Attempt outcomes in the window (1h, 24h), by outcome (succeeded, failed).",
        labels=[*g_labels, "window", "outcome"],
    )
    g_lat = GaugeMetricFamily(
        "lsp_gateway_latency_seconds",
        "Provider latency over the last hour from the bucket histogram, by quantile (0.5, 0.95).",
        labels=[*g_labels, "quantile"],
    )
    g_health = GaugeMetricFamily(
        "lsp_gateway_health_state",
        "1 for the gateway's health state, 0 for the others.",
        labels=[*g_labels, "state"],
    )
    g_probe = GaugeMetricFamily(
        "lsp_gateway_probe_success_ratio",
        "Probes that succeeded over the last hour (0..1).",
        labels=g_labels,
    )
    for g in (snapshot.get("gateways") or {}).get("data", []):
        labels = [str(g.get("id")), str(g.get("provider"))]
        g_info.add_metric([*labels, str(g.get("environment")), str(g.get("status"))], 1.0)
        for window in ("1h", "24h"):
            rate = _num((g.get("success_rate") or {}).get(window))
            if rate is not None:
                g_rate.add_metric([*labels, window], rate)
            tx = (g.get("transactions") or {}).get(window) or {}
            for outcome in ("succeeded", "failed"):
                value = _num(tx.get(outcome))
                if value is not None:
                    g_tx.add_metric([*labels, window, outcome], value)
        for quantile, key in (("0.5", "p50"), ("0.95", "p95")):
            ms = _num((g.get("latency_ms") or {}).get(key))
            if ms is not None:
                g_lat.add_metric([*labels, quantile], ms / 1000)
    for g in (snapshot.get("health") or {}).get("data", []):
        labels = [str(g.get("id")), str(g.get("provider"))]
        for state in HEALTH_STATES:
            g_health.add_metric([*labels, state], 1.0 if g.get("state") == state else 0.0)
        probe = _num(g.get("probe_success_rate_1h"))
        if probe is not None:
            g_probe.add_metric(labels, probe)
    yield from (g_info, g_rate, g_tx, g_lat, g_health, g_probe)

    ops = snapshot.get("operations") or {}
    c_last = GaugeMetricFamily(
        "lsp_cron_job_last_success_timestamp_seconds",
        "When the pg_cron job last finished successfully (Unix time; absent if never). The label "
        "is cron_job: job is Prometheus' own target label.",
        labels=["cron_job"],
    )
    c_start = GaugeMetricFamily(
        "lsp_cron_job_last_run_timestamp_seconds",
        "When the pg_cron job last started (Unix time).",
        labels=["cron_job"],
    )
    c_failed = GaugeMetricFamily(
        "lsp_cron_job_last_run_failed",
        "1 when the job's latest finished run failed.",
        labels=["cron_job"],
    )
    c_interval = GaugeMetricFamily(
        "lsp_cron_job_interval_seconds",
        "The job's schedule as an interval (minute-level schedules; absent otherwise).",
        labels=["cron_job"],
    )
    for job in ops.get("cron_jobs", []):
        name = [str(job.get("job"))]
        for family, key in (
            (c_last, "last_success_epoch"),
            (c_start, "last_start_epoch"),
            (c_interval, "interval_s"),
        ):
            value = _num(job.get(key))
            if value is not None:
                family.add_metric(name, value)
        if job.get("last_status") in ("succeeded", "failed"):
            c_failed.add_metric(name, 1.0 if job["last_status"] == "failed" else 0.0)
    yield from (c_last, c_start, c_failed, c_interval)
    digests = GaugeMetricFamily(
        "lsp_api_key_digests",
        "Usable API keys (not revoked, not expired) by the pepper version of their digest "
        "('unknown' until first use or labelling).",
        labels=["pepper_version"],
    )
    for row in ops.get("api_key_digests", []):
        version = row.get("pepper_version")
        digests.add_metric(
            ["unknown" if version is None else str(version)], float(row.get("keys", 0))
        )
    yield digests


DB_FIGURES = DatabaseFigures()


def enable_database_figures(registry: CollectorRegistry = REGISTRY) -> None:
    """Export DB_FIGURES (the worker does; the API does not, so they are not doubled)."""
    try:
        registry.register(DB_FIGURES)
    except ValueError:
        pass  # already registered


async def refresh_database_figures(db: Any, interval_s: float, stop: asyncio.Event) -> None:
    """Read the database-side figures every interval until stop is set."""
    from .worker import queries  # the worker's named statements

    while not stop.is_set():
        try:
            DB_FIGURES.update(await queries.operations_figures(db))
        except Exception as exc:  # a scrape keeps the last snapshot; the age shows it
            DB_FIGURES.failures += 1
            jsonlog.log(
                logger, logging.WARNING, "database figures failed", error=type(exc).__name__
            )
        try:
            await asyncio.wait_for(stop.wait(), interval_s)
        except TimeoutError:
            pass


# -- exposition and protection ----------------------------------------------------------------
def exposition() -> tuple[bytes, str]:
    """The text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def scrape_allowed(authorization: str | None, client_host: str | None, token: str | None) -> int:
    """200, or the status for a refused scrape: with a token configured, the bearer token
    must match (401 otherwise); without one, only loopback clients (403 otherwise)."""
    if token:
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return 200
        return 401
    try:
        return 200 if client_host and ipaddress.ip_address(client_host).is_loopback else 403
    except ValueError:
        return 403


async def serve_worker_metrics(host: str, port: int, token: str | None) -> Any:
    """The worker's metrics endpoint (aiohttp, on the worker's event loop): GET /metrics.
    Returns the runner, to `await runner.cleanup()` at shutdown."""
    from aiohttp import web

    async def metrics(request: web.Request) -> web.Response:
        status = scrape_allowed(request.headers.get("authorization"), request.remote, token)
        if status != 200:
            return web.Response(status=status, text="metrics need the scrape token\n")
        body, content_type = exposition()
        return web.Response(body=body, headers={"content-type": content_type})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner
