"""Health probes: hysteresis in SQL, and the scheduled path end to end (pg_cron's job ->
gateway_health queue -> worker -> provider check -> probe row -> health state)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from edge_adapter.fake_providers import FAKE_CREDENTIALS, overrides

from .conftest import bearer, hs_token

ROOT = Path(__file__).resolve().parents[2]


def probe(pg: psycopg.Connection, gateway_id: str, ok: bool, latency: int = 50) -> str:
    with pg.transaction():
        pg.execute("set local role service_role")
        result = pg.execute(
            "select private.record_gateway_probe(%s, %s)",
            (
                gateway_id,
                Jsonb(
                    {"ok": ok, "latency_ms": latency, "error_class": None if ok else "unreachable"}
                ),
            ),
        ).fetchone()[0]
    return result["health_state"]


@pytest.fixture
def gateway(api, world) -> str:
    admin = bearer(hs_token(world.admin()))
    response = api.client.post(
        "/api/v1/admin/gateways",
        headers=admin,
        json={
            "provider": "razorpay",
            "display_name": "probe target",
            "status": "active",
            "credentials": FAKE_CREDENTIALS["razorpay"],
        },
    )
    return response.json()["id"]


def test_hysteresis_three_failures_down_two_successes_up(pg, gateway):
    assert probe(pg, gateway, False) == "degraded"
    assert probe(pg, gateway, False) == "degraded"
    assert probe(pg, gateway, False) == "down"
    assert probe(pg, gateway, True) == "down"  # one success is not enough
    assert probe(pg, gateway, False) == "down"
    assert probe(pg, gateway, True) == "down"
    assert probe(pg, gateway, True) == "healthy"
    assert probe(pg, gateway, True, latency=2500) == "degraded"  # slow
    assert probe(pg, gateway, True) == "healthy"


def test_the_health_endpoint_reports_state_probes_and_regions(api, pg, gateway, world):
    probe(pg, gateway, True)
    probe(pg, gateway, False)
    admin = bearer(hs_token(world.admin()))
    health = api.client.get("/api/v1/admin/gateways/health", headers=admin).json()
    mine = next(g for g in health["data"] if g["id"] == gateway)
    assert mine["state"] == "degraded"
    assert mine["probe_success_rate_1h"] == 0.5
    assert mine["last_probe"]["error_class"] == "unreachable"
    assert health["thresholds"]["down_after_consecutive_failures"] == 3
    assert "*" in health["regions"]


def test_probe_rows_are_kept_seven_days(pg, gateway):
    probe(pg, gateway, True)
    pg.execute(
        "update public.gateway_probes set created_at = now() - interval '8 days'"
        " where gateway_id = %s",
        (gateway,),
    )
    probe(pg, gateway, True)
    with pg.transaction():
        pg.execute("set local role service_role")
        pg.execute("select private.gateway_retention()")
    assert pg.execute(
        "select count(*) from public.gateway_probes where gateway_id = %s", (gateway,)
    ).fetchone() == (1,)


def test_scheduled_probes_run_through_the_worker(
    pg, gateway, authenticator_url, fake_providers, tmp_path
):
    assert pg.execute(
        "select schedule from cron.job where jobname = 'lsp-gateway-probes'"
    ).fetchone() == ("* * * * *",)
    env = {
        **os.environ,
        "LSP_DATABASE_URL": authenticator_url,
        "LSP_PROVIDER_BASE_URLS": overrides(fake_providers.base),
        "LSP_GATEWAY_CHECK_TIMEOUT_S": "1",
    }
    # This test schedules probes itself; pause pg_cron's minute job so it cannot add one.
    pg.execute("update cron.job set active = false where jobname = 'lsp-gateway-probes'")
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge_adapter.worker",
            "--queues",
            "gateway_health",
            "--poll-interval",
            "0.2",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def state() -> str:
            return pg.execute(
                "select health_state from public.gateways where id = %s", (gateway,)
            ).fetchone()[0]

        def probes() -> int:
            return pg.execute(
                "select count(*) from public.gateway_probes where gateway_id = %s", (gateway,)
            ).fetchone()[0]

        def run_probes(rounds: int) -> None:
            """Schedule `rounds` probes (as pg_cron does) and wait for all of them."""
            target = probes() + rounds
            for _ in range(rounds):
                with pg.transaction():
                    pg.execute("set local role service_role")
                    pg.execute("select private.enqueue_gateway_probes()")
            deadline = time.monotonic() + 30
            while probes() < target and time.monotonic() < deadline:
                time.sleep(0.05)
            assert probes() >= target, "the worker did not run the scheduled probes"

        run_probes(2)
        assert state() == "healthy"
        fake_providers.mode("razorpay", "error")
        run_probes(2)
        assert state() == "degraded"
        run_probes(1)
        assert state() == "down"
        errors = pg.execute(
            "select distinct error_class from public.gateway_probes"
            " where gateway_id = %s and not ok",
            (gateway,),
        ).fetchall()
        assert errors == [("unexpected_response",)]
        fake_providers.mode("razorpay", "ok")
        run_probes(1)
        assert state() == "down"
        run_probes(1)
        assert state() == "healthy"
    finally:
        pg.execute("update cron.job set active = true where jobname = 'lsp-gateway-probes'")
        worker.terminate()
        worker.wait(timeout=20)
