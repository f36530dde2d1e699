"""scripts/bench devtools, in one run:

1. Merchant API throughput: GET /api/v1/merchant/credentials with an API key (key lookup
   + GCRA limiter statement on every request) vs the same endpoint with the owner's JWT and
   the limiter switched off; wrk, same connections, same API process settings (one uvicorn
   process per core). The two APIs run side by side: a warm-up run each, then rounds of
   back-to-back runs (the order flips every round). The cost is the median of the rounds'
   ratios: each ratio compares runs seconds apart, so the shared machine's drift (its speed
   swings 20-40% from minute to minute) mostly cancels within a round. A third side, the key
   on the API without the limiter (the gate only looks the key up), splits the cost into
   lookup and limiter.
2. Webhook delivery: N events to one endpoint on a local receiver, drained by the workers:
   deliveries/s; then a steady 100 events/s and each event's time from emission to the
   receiver's answer on the first attempt (p50/p99).
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

from edge_adapter.devtoken import mint

from .queues import authenticator

ROOT = Path(__file__).resolve().parents[2]
SECRET = "bench-jwt-secret-that-is-long-enough-for-hs256"
MERCHANT = "00000000-0000-4000-8000-0000000d0001"
RECEIVER = """
import uvicorn

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})

uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning", access_log=False)
"""


def wait_http(url: str) -> None:
    for _ in range(200):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not start")


def add_api_workers_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api-workers",
        type=int,
        default=2,
        help="uvicorn worker processes for the API (one per core on the 2-core machine)",
    )


def api_process(
    url: str, port: int, limiter: bool, pool: int = 8, workers: int = 1
) -> subprocess.Popen:
    """The API as deployed: uvicorn with `workers` processes, each with its own pool."""
    env = {
        **os.environ,
        "LSP_DATABASE_URL": authenticator(url),
        "LSP_JWT_SECRET": SECRET,
        "LSP_POOL_MIN_SIZE": str(-(-pool // workers)),
        "LSP_POOL_MAX_SIZE": str(-(-pool // workers)),
        "LSP_LOG_LEVEL": "WARNING",
        "LSP_RATE_LIMIT_ENABLED": "true" if limiter else "false",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge_adapter.api",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return proc


def wrk(url: str, token: str, seconds: int, connections: int) -> float:
    out = subprocess.run(
        [
            shutil.which("wrk"),
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "-H",
            f"Authorization: Bearer {token}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Non-2xx" not in out, out
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def emit_many(conn: psycopg.Connection, n: int) -> None:
    with conn.transaction():
        conn.execute("set local role service_role")
        conn.execute(
            "select private.emit_event(%s, 'payment.succeeded',"
            " jsonb_build_object('n', g)) from generate_series(1, %s) as g",
            (MERCHANT, n),
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=3, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=12, help="wrk runs per side")
    parser.add_argument("--steady-seconds", type=int, default=10, help="webhooks at --rate")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=2,
        help="webhook worker processes (one per core on the 2-core machine)",
    )
    add_api_workers_option(parser)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    url = os.environ["LSP_TEST_DATABASE_URL"]
    conn = psycopg.connect(url, autocommit=True)
    port = 18500 + os.getpid() % 500
    endpoint = f"http://127.0.0.1:{port}/api/v1/merchant/credentials?merchant_id={MERCHANT}"

    # 1. API key + limiter vs JWT without limiter ------------------------------------------
    conn.execute(
        "insert into public.merchant_rate_limits (merchant_id, api_key_per_min)"
        " values (%s, 1000000) on conflict (merchant_id) do update"
        " set api_key_per_min = excluded.api_key_per_min",
        (MERCHANT,),
    )
    # Both APIs run side by side and take turns under wrk (the order flips every round).
    plain_port = port + 2
    limited = api_process(url, port, limiter=True, workers=args.api_workers)
    unlimited = api_process(url, plain_port, limiter=False, workers=args.api_workers)
    keyed_runs: list[float] = []
    lookup_runs: list[float] = []
    plain_runs: list[float] = []
    try:
        owner = mint("owner", secret=SECRET)
        created = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/merchant/credentials",
            headers={"authorization": f"Bearer {owner}"},
            json={"merchant_id": MERCHANT, "name": "bench"},
        ).json()
        plain_endpoint = endpoint.replace(f":{port}/", f":{plain_port}/")
        sides = [
            (keyed_runs, endpoint, created["key"]),
            (lookup_runs, plain_endpoint, created["key"]),
            (plain_runs, plain_endpoint, owner),
        ]
        for _, target, token in sides:  # warm-up: pools, plan caches, first-sighting gates
            wrk(target, token, 2, args.connections)
        for r in range(args.rounds):
            for runs, target, token in sides if r % 2 == 0 else sides[::-1]:
                runs.append(wrk(target, token, args.seconds, args.connections))
    finally:
        for api in (limited, unlimited):
            api.terminate()
            api.wait(timeout=20)
    keyed = statistics.median(keyed_runs)
    plain = statistics.median(plain_runs)
    cost = statistics.median(1 - k / p for k, p in zip(keyed_runs, plain_runs, strict=True))
    lookup_cost = statistics.median(1 - k / p for k, p in zip(lookup_runs, plain_runs, strict=True))

    # 2. Webhook deliveries ---------------------------------------------------------------------
    receiver_port = port + 1
    receiver = subprocess.Popen(
        [sys.executable, "-c", RECEIVER.replace("PORT", str(receiver_port))], cwd=ROOT
    )
    wait_http(f"http://127.0.0.1:{receiver_port}/")
    conn.execute("update public.queue_controls set concurrency = 100 where queue_name = 'webhook'")
    with conn.transaction():
        conn.execute(
            "select set_config('request.jwt.claims', '{\"role\": \"service_role\"}', true)"
        )
        conn.execute("set local role service_role")
        conn.execute(
            "select private.create_webhook_endpoint(%s, %s, null, 'bench', null)",
            (MERCHANT, f"http://127.0.0.1:{receiver_port}/hooks"),
        )
    env = {
        **os.environ,
        "LSP_DATABASE_URL": authenticator(url),
        "LSP_LOG_LEVEL": "WARNING",
        "LSP_WEBHOOK_ALLOW_LOOPBACK": "true",
        "LSP_POOL_MAX_SIZE": "20",
    }
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edge_adapter.worker",
                "--queues",
                "webhook",
                "--poll-interval",
                "0.5",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(args.worker_processes)
    ]
    delivered = "select count(*) from public.webhook_deliveries where status = 'delivered'"
    try:
        time.sleep(2)
        before = conn.execute(delivered).fetchone()[0]
        # Emitting is the producer's cost: the clock starts when the events are committed
        # (nothing can be delivered before that).
        emit_many(conn, args.events)
        t0 = time.perf_counter()
        while conn.execute(delivered).fetchone()[0] < before + args.events:
            time.sleep(0.02)
        deliveries_per_s = args.events / (time.perf_counter() - t0)

        start_id = conn.execute(
            "select coalesce(max(id), 0) from public.webhook_attempts"
        ).fetchone()[0]
        total = args.rate * args.steady_seconds
        t0 = time.perf_counter()
        for i in range(total):
            time.sleep(max(0.0, t0 + i / args.rate - time.perf_counter()))
            emit_many(conn, 1)
        while (
            conn.execute(
                "select count(*) from public.webhook_attempts where id > %s", (start_id,)
            ).fetchone()[0]
            < total
        ):
            time.sleep(0.05)
        rows = conn.execute(
            "select extract(epoch from a.started_at - e.created_at) * 1000 + a.latency_ms"
            " from public.webhook_attempts as a"
            " join public.webhook_deliveries as d on d.id = a.delivery_id"
            " join public.webhook_events as e on e.id = d.event_id"
            " where a.id > %s and a.attempt = 1",
            (start_id,),
        ).fetchall()
        ms = sorted(float(r[0]) for r in rows)
        q = statistics.quantiles(ms, n=100)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        receiver.kill()

    result = {
        "merchant_api": {
            "connections": args.connections,
            "api_workers": args.api_workers,
            "api_key_and_limiter_rps": round(keyed, 1),
            "jwt_without_limiter_rps": round(plain, 1),
            "auth_and_limiter_cost": round(cost, 3),
            "cost_of_the_medians": round(1 - keyed / plain, 3),
            "api_key_without_limiter_rps": round(statistics.median(lookup_runs), 1),
            "key_lookup_cost_alone": round(lookup_cost, 3),
            "rounds": {
                "api_key_and_limiter_rps": keyed_runs,
                "api_key_without_limiter_rps": lookup_runs,
                "jwt_without_limiter_rps": plain_runs,
            },
            "target_cost_at_most": 0.15,
        },
        "webhooks": {
            "burst_events": args.events,
            "worker_processes": args.worker_processes,
            "deliveries_per_s": round(deliveries_per_s, 1),
            "target_deliveries_per_s": 500,
            "steady_rate": args.rate,
            "first_attempt_ms": {"count": len(ms), "p50": round(q[49], 1), "p99": round(q[98], 1)},
            "target_p99_ms": 100,
        },
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
