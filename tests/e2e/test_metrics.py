"""Metrics as an operator scrapes them: the API's /metrics over real HTTP, and a worker
process's metrics port with the database-side figures, both with bounded labels."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from edge_adapter.worker.core import Job, JobContext

from .conftest import ROOT, bearer, free_port, hs_token

SCRAPE_TOKEN = "test-scrape-token"


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """{(sample name, labels): value} of an exposition."""
    out: dict[tuple[str, frozenset], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


def test_api_metrics_count_requests_by_route_template_and_refusals_by_reason(api, world):
    uid = world.user()
    me = api.client.get("/api/v1/me", headers=bearer(hs_token(uid)))
    assert me.status_code == 200
    payment = "pay_" + "ab" * 10
    missing = api.client.get(f"/api/v1/payments/{payment}", headers=bearer(hs_token(uid)))
    assert missing.status_code in (403, 404)
    assert api.client.get("/api/v1/me", headers=bearer("not.a.jwt")).status_code == 401
    assert api.client.get("/no/such/path/12345").status_code == 404

    scrape = api.client.get("/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    text = scrape.text
    me_count = value(
        text, "lsp_http_requests_total", route="/api/v1/me", method="GET", status_class="2xx"
    )
    assert me_count and me_count >= 1
    assert (
        value(
            text,
            "lsp_http_requests_total",
            route="/api/v1/payments/{payment_id}",
            method="GET",
            status_class="4xx",
        )
        or 0
    ) >= 1
    assert (
        value(text, "lsp_auth_refusals_total", credential="jwt", reason="malformed_token") or 0
    ) >= 1
    assert (
        value(text, "lsp_http_requests_total", route="unmatched", method="GET", status_class="4xx")
        or 0
    ) >= 1
    # Never a raw path, a payment id or a user id as a label value.
    for forbidden in (payment, uid, "/no/such/path/12345"):
        assert forbidden not in text
    assert value(text, "lsp_db_pool_max_size", pool="api") == 10
    assert value(text, "lsp_http_requests_in_flight") == 1  # this scrape
    assert "process_resident_memory_bytes" in text


async def fail_when_asked(job: Job, ctx: JobContext) -> None:
    """A settlement handler for this test: fails when the payload says so."""
    if job.payload.get("fail"):
        raise RuntimeError("asked to fail")


@pytest.fixture
def metrics_worker(authenticator_url: str, pg: psycopg.Connection, tmp_path: Path) -> Iterator[str]:
    """A worker consuming the settlement queue with the handler above, metrics on a port,
    protected by a scrape token."""
    port = free_port()
    pg.execute("select pgmq.purge_queue('settlement')")
    log = (tmp_path / "worker.log").open("wb")
    env = {
        **os.environ,
        "LSP_DATABASE_URL": authenticator_url,
        "LSP_METRICS_TOKEN": SCRAPE_TOKEN,
        "LSP_METRICS_DB_INTERVAL_S": "0.5",
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge_adapter.worker",
            "--queues",
            "settlement",
            "--handler",
            "settlement=tests.e2e.test_metrics:fail_when_asked",
            "--poll-interval",
            "0.2",
            "--heartbeat-interval",
            "0.5",
            "--metrics-port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/metrics"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(base, timeout=1)
            break
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail((tmp_path / "worker.log").read_text())
            time.sleep(0.1)
    yield base
    proc.terminate()
    proc.wait(timeout=15)
    pg.execute("select pgmq.purge_queue('settlement')")


def scrape_until(url: str, predicate, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = httpx.get(url, headers=bearer(SCRAPE_TOKEN), timeout=5).text
        if predicate(text) or time.monotonic() > deadline:
            return text
        time.sleep(0.2)


def test_worker_metrics_port_exports_jobs_heartbeat_and_database_figures(metrics_worker, pg):
    assert httpx.get(metrics_worker, timeout=5).status_code == 401
    wrong = httpx.get(metrics_worker, headers=bearer("nope"), timeout=5)
    assert wrong.status_code == 401 and "lsp_" not in wrong.text

    pg.execute("select private.enqueue('settlement', '{}'::jsonb, 0, 'metrics-ok')")
    pg.execute("select private.enqueue('settlement', '{\"fail\": true}'::jsonb, 0, 'metrics-fail')")

    def ready(text: str) -> bool:
        return (
            (value(text, "lsp_worker_jobs_total", queue="settlement", outcome="succeeded") or 0)
            >= 1
            and (value(text, "lsp_worker_jobs_total", queue="settlement", outcome="failed") or 0)
            >= 1
            and value(text, "lsp_queue_pending_jobs", queue="payment") is not None
            and value(text, "lsp_queue_live_worker", queue="settlement") == 1
        )

    text = scrape_until(metrics_worker, ready)
    assert ready(text), text[-3000:]
    assert (value(text, "lsp_worker_job_retries_total", queue="settlement") or 0) >= 1
    assert (value(text, "lsp_worker_job_duration_seconds_count", queue="settlement") or 0) >= 2
    heartbeat = value(text, "lsp_worker_last_heartbeat_timestamp_seconds")
    assert heartbeat and time.time() - heartbeat < 10
    assert value(text, "lsp_db_pool_size", pool="worker") is not None
    # Database-side figures: every queue, its state, and the pg_cron jobs' schedules.
    for queue in ("gateway_health", "payment", "settlement", "webhook"):
        assert value(text, "lsp_queue_oldest_pending_age_seconds", queue=queue) is not None
        states = [
            value(text, "lsp_queue_state", queue=queue, state=s)
            for s in ("healthy", "backlogged", "stalled", "paused")
        ]
        assert sorted(states) == [0, 0, 0, 1]
    assert value(text, "lsp_queue_live_worker", queue="settlement") == 1
    assert value(text, "lsp_cron_job_interval_seconds", cron_job="lsp-payment-checks") == 60
    assert value(text, "lsp_cron_job_interval_seconds", cron_job="lsp-queue-retention") == 600
    refreshed = value(text, "lsp_db_figures_last_success_timestamp_seconds")
    assert refreshed and time.time() - refreshed < 10
