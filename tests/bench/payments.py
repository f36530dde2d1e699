"""scripts/bench payments, in one run:

1. Create throughput: POST /api/v1/payments with an API key through the adapter (wrk, 8
   connections, the API as deployed: one process per core) against public.create_payment run
   directly by pgbench with the same role and API-key claims (8 clients). The adapter side
   also runs the API-key gate (status and rate limit) on every request.
2. Create latency at a steady 300 requests/s (open loop, aiohttp).
3. Charging end to end: N payments enqueued at once, drained by the worker (two processes)
   through the sandbox gateway on the fake provider server with zero latency: payments
   succeeded per second.
4. created -> succeeded latency at a steady 100 payments/s through the API, worker and fake
   provider, with where the time goes (queue pickup, provider call, recording).
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx
import psycopg

from edge_adapter.devtoken import mint
from edge_adapter.fake_providers import overrides

from .devtools import SECRET, add_api_workers_option, api_process, wait_http
from .gateways import percentile, pgbench
from .queues import authenticator

ROOT = Path(__file__).resolve().parents[2]
MERCHANT = "00000000-0000-4000-8000-0000000d0001"
BODY = {"amount": 1000, "currency": "INR", "method": "upi", "upi": {"vpa": "success@sandbox"}}


def wrk_post(url: str, token: str, body: dict, seconds: int, connections: int) -> float:
    import re
    import shutil

    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(
            'wrk.method = "POST"\n'
            f"wrk.body = [[{json.dumps(body)}]]\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
    out = subprocess.run(
        [
            shutil.which("wrk") or "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "-s",
            f.name,
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


async def steady_posts(
    base: str, key: str, rate: int, seconds: float
) -> tuple[list[float], list[str], int]:
    """Open loop: requests start on schedule whether or not earlier ones have finished."""
    latencies: list[float] = []
    ids: list[str] = []
    errors = 0
    async with aiohttp.ClientSession(base, headers={"authorization": f"Bearer {key}"}) as client:

        async def one() -> None:
            nonlocal errors
            t0 = time.perf_counter()
            try:
                async with client.post("/api/v1/payments", json=BODY) as response:
                    data = await response.json()
                    response.raise_for_status()
            except aiohttp.ClientError:
                errors += 1
                return
            latencies.append((time.perf_counter() - t0) * 1000)
            ids.append(data["id"])

        tasks = []
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return latencies, ids, errors


def start_workers(url: str, fake_base: str, api_base: str, n: int) -> list[subprocess.Popen]:
    env = {
        **os.environ,
        "LSP_DATABASE_URL": authenticator(url),
        "LSP_LOG_LEVEL": "WARNING",
        "LSP_PROVIDER_BASE_URLS": overrides(fake_base),
        "LSP_PUBLIC_BASE_URL": api_base,
        "LSP_WEBHOOK_ALLOW_LOOPBACK": "true",
        "LSP_POOL_MAX_SIZE": "20",
    }
    logs = ROOT / ".local" / "bench"
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edge_adapter.worker",
                "--queues",
                "payment",
                "--poll-interval",
                "0.5",
            ],
            cwd=ROOT,
            env=env,
            stdout=(logs / f"payments-worker-{i}.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        for i in range(n)
    ]


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def succeeded(conn: psycopg.Connection, ids: list[str]) -> int:
    return conn.execute(
        "select count(*) from public.payments where id = any(%s) and status = 'succeeded'", (ids,)
    ).fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8, help="per throughput run")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--steady-seconds", type=int, default=10)
    parser.add_argument("--burst", type=int, default=3000, help="payments for the drain test")
    parser.add_argument("--worker-processes", type=int, default=2)
    add_api_workers_option(parser)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    url = os.environ["LSP_TEST_DATABASE_URL"]
    conn = psycopg.connect(url, autocommit=True)
    conn.execute(
        "insert into public.merchant_rate_limits (merchant_id, api_key_per_min, user_per_min)"
        " values (%s, 1000000, 1000000) on conflict (merchant_id) do update"
        " set api_key_per_min = excluded.api_key_per_min, user_per_min = excluded.user_per_min",
        (MERCHANT,),
    )
    conn.execute("update public.queue_controls set concurrency = 100 where queue_name = 'payment'")
    port = 19000 + os.getpid() % 500
    base = f"http://127.0.0.1:{port}"
    fake_port = port + 1
    fake = subprocess.Popen(
        [sys.executable, "-m", "edge_adapter.fake_providers", "--port", str(fake_port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    fake_base = f"http://127.0.0.1:{fake_port}"
    wait_http(f"{fake_base}/_calls")
    api = api_process(url, port, limiter=True, pool=args.clients, workers=args.api_workers)
    try:
        owner = mint("owner", secret=SECRET)
        key = httpx.post(
            f"{base}/api/v1/merchant/credentials",
            headers={"authorization": f"Bearer {owner}"},
            json={"name": "bench"},
        ).json()
        claims = json.dumps(
            {
                "role": "authenticated",
                "aud": "authenticated",
                "merchant_id": MERCHANT,
                "api_key_id": key["id"],
                "key_mode": "test",
            }
        )
        direct_script = (
            "begin;\n"
            f"select set_config('role', 'authenticated', true), set_config('request.jwt.claims',"
            f" '{claims}', true), set_config('request.headers', '{{}}', true);\n"
            "select public.create_payment(p_amount => 1000, p_currency => 'INR',"
            " p_method => 'upi', p_upi => '{\"vpa\": \"success@sandbox\"}');\n"
            "commit;\n"
        )
        # 1. Throughput, twice each side alternating; the medians are compared.
        adapter_runs, direct_runs = [], []
        wrk_post(f"{base}/api/v1/payments", key["key"], BODY, 2, args.clients)  # warm-up
        for _ in range(2):
            adapter_runs.append(
                wrk_post(f"{base}/api/v1/payments", key["key"], BODY, args.seconds, args.clients)
            )
            direct_runs.append(
                pgbench(authenticator(url), direct_script, args.clients, args.seconds)[0]
            )
        conn.execute("select pgmq.purge_queue('payment')")
        # 2. Create latency at 300/s.
        create_ms, _, create_errors = asyncio.run(
            steady_posts(base, key["key"], 300, args.steady_seconds)
        )
        conn.execute("select pgmq.purge_queue('payment')")
        conn.execute("update public.payments set status = 'cancelled' where status = 'processing'")

        # 3. Drain: a burst of payments created at once, then charged by the workers.
        with conn.transaction():
            conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
            conn.execute("set local role authenticated")
            rows = conn.execute(
                "select public.create_payment(p_amount => 1000 + g, p_currency => 'INR',"
                " p_method => 'upi', p_upi => '{\"vpa\": \"success@sandbox\"}') ->> 'id'"
                " from generate_series(1, %s) as g",
                (args.burst,),
            ).fetchall()
        burst_ids = [r[0] for r in rows]
        workers = start_workers(url, fake_base, base, args.worker_processes)
        try:
            t0 = time.perf_counter()
            while succeeded(conn, burst_ids) < len(burst_ids):
                time.sleep(0.05)
                if time.perf_counter() - t0 > 300:
                    raise RuntimeError("the burst did not drain in 5 minutes")
            drain_s = time.perf_counter() - t0

            # 4. created -> succeeded at 100/s.
            _, steady_ids, steady_errors = asyncio.run(
                steady_posts(base, key["key"], 100, args.steady_seconds)
            )
            t0 = time.perf_counter()
            while succeeded(conn, steady_ids) < len(steady_ids) and time.perf_counter() - t0 < 60:
                time.sleep(0.1)
        finally:
            stop(workers)
        stages = conn.execute(
            "select extract(epoch from p.completed_at - p.created_at) * 1000,"
            " extract(epoch from a.created_at - p.created_at) * 1000,"
            " a.provider_latency_ms,"
            " extract(epoch from a.completed_at - a.created_at) * 1000 - a.provider_latency_ms"
            " from public.payments as p join public.payment_attempts as a on a.payment_id = p.id"
            " where p.id = any(%s) and p.status = 'succeeded'",
            (steady_ids,),
        ).fetchall()
    finally:
        api.terminate()
        api.wait(timeout=20)
        fake.kill()

    def col(i: int) -> list[float]:
        return [float(r[i]) for r in stages if r[i] is not None]

    adapter = statistics.median(adapter_runs)
    direct = statistics.median(direct_runs)
    result = {
        "create": {
            "clients": args.clients,
            "api_workers": args.api_workers,
            "adapter_wrk_rps": round(adapter, 1),
            "direct_pgbench_tps": round(direct, 1),
            "runs": {"adapter": adapter_runs, "direct": direct_runs},
            "ratio": round(adapter / direct, 3),
            "target_ratio": 0.6,
            "at_300_rps": {
                "requests": len(create_ms),
                "errors": create_errors,
                "p50_ms": percentile(create_ms, 50),
                "p99_ms": percentile(create_ms, 99),
                "target_p99_ms": 30,
            },
        },
        "charging": {
            "worker_processes": args.worker_processes,
            "burst": args.burst,
            "succeeded_per_s": round(len(burst_ids) / drain_s, 1),
            "at_100_per_s": {
                "payments": len(steady_ids),
                "errors": steady_errors,
                "succeeded": len(stages),
                "created_to_succeeded_p50_ms": percentile(col(0), 50),
                "created_to_succeeded_p99_ms": percentile(col(0), 99),
                "target_p99_ms": 100,
                "where_the_time_goes_p50_ms": {
                    "queue_pickup_until_attempt_recorded": percentile(col(1), 50),
                    "provider_call": percentile(col(2), 50),
                    "recording_and_rest": percentile(col(3), 50),
                },
                "where_the_time_goes_p99_ms": {
                    "queue_pickup_until_attempt_recorded": percentile(col(1), 99),
                    "provider_call": percentile(col(2), 99),
                    "recording_and_rest": percentile(col(3), 99),
                },
            },
        },
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
