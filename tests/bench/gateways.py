"""scripts/bench gateways: GET /api/v1/admin/gateways through the adapter vs the same RPC
run directly by pgbench with the same role/claims setup, in one run; then list latency at a
steady 200 req/s and the routing decision's latency in the database. The API runs as
deployed, one uvicorn process per core (--api-workers, default 2); the single-process figure
is reported beside it.

Data: 50 gateways and 1,000,000 payments, each with one attempt, spread over the last 24
hours (bulk-loaded with triggers off; the buckets the attempt triggers keep are then built by
one aggregate query each).
"""

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import psycopg

from edge_adapter.devtoken import mint

from .devtools import SECRET, add_api_workers_option, api_process, wrk
from .queues import authenticator

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "00000000-0000-4000-8000-00000000a001"


def load(conn: psycopg.Connection, gateways: int, transactions: int) -> None:
    conn.execute("set session_replication_role = replica")  # bulk load: no per-row triggers
    conn.execute(
        """
        insert into public.gateways (provider, display_name, status, priority, daily_limit,
          currencies, methods, regions, credentials_masked)
        select 'razorpay', 'bench ' || g, 'active', g, 10000000000, '{INR}',
          '{card,upi,netbanking}', '{IN}', '{"key_id": "rzp_test_bench", "key_secret": "ab****yz"}'
        from generate_series(1, %s) as g
        """,
        (gateways - 1,),
    )
    conn.execute(
        """
        insert into public.payments (id, merchant_id, mode, status, amount, currency, method,
          amount_captured, gateway_id, provider, attempt_count, created_at, updated_at)
        select 'pay_' || lpad(to_hex(g), 20, '0'), '00000000-0000-4000-8000-0000000d0001',
          'test', case when g %% 10 = 0 then 'failed' else 'succeeded' end, 100 + (g %% 50000),
          'INR', 'upi', case when g %% 10 = 0 then 0 else 100 + (g %% 50000) end,
          ids[1 + (g %% cardinality(ids))], 'razorpay', 1,
          now() - (g %% 86400) * interval '1 second', now() - (g %% 86400) * interval '1 second'
        from generate_series(1, %s) as g,
          (select array_agg(id) as ids from public.gateways where status = 'active') as x
        """,
        (transactions,),
    )
    conn.execute(
        """
        insert into public.payment_attempts (id, payment_id, merchant_id, gateway_id, provider,
          attempt_no, amount, currency, status, provider_latency_ms, created_at, updated_at)
        select 'att_' || substr(p.id, 5), p.id, p.merchant_id, p.gateway_id, 'razorpay', 1,
          p.amount, p.currency, p.status, 20 + abs(hashtext(p.id)) % 400, p.created_at,
          p.updated_at
        from public.payments as p
        """
    )
    conn.execute("set session_replication_role = origin")
    conn.execute(
        """
        insert into public.gateway_stats_hour (gateway_id, hour, succeeded, failed, volume)
        select gateway_id, date_trunc('hour', created_at),
          count(*) filter (where status = 'succeeded'), count(*) filter (where status = 'failed'),
          coalesce(sum(amount) filter (where status = 'succeeded'), 0)
        from public.payment_attempts group by 1, 2
        """
    )
    # The latency histogram the trigger keeps: one count per bucket of latency_bounds().
    hist = ", ".join(f"count(*) filter (where b = {k})::int" for k in range(1, 15))
    conn.execute(
        f"""
        insert into public.gateway_stats_minute (gateway_id, minute, succeeded, failed, volume,
          {", ".join(f"h{k}" for k in range(1, 15))})
        select gateway_id, minute, count(*) filter (where status = 'succeeded'),
          count(*) filter (where status = 'failed'),
          coalesce(sum(amount) filter (where status = 'succeeded'), 0), {hist}
        from (
          select gateway_id, date_trunc('minute', created_at) as minute, status, amount,
            private.latency_bucket(provider_latency_ms) as b
          from public.payment_attempts
          where created_at > now() - interval '61 minutes'
        ) as t group by 1, 2
        """
    )
    conn.execute(
        """
        insert into public.gateway_daily_usage (gateway_id, day, reserved)
        select gateway_id, private.india_day(created_at), sum(amount)
        from public.payment_attempts where status <> 'failed'
        group by 1, 2
        on conflict (gateway_id, day) do update set reserved = excluded.reserved
        """
    )
    conn.execute("select private.refresh_gateway_windows()")  # as pg_cron does every minute
    conn.execute("analyze")


def pgbench(
    url: str, script: str, clients: int, seconds: int, log_dir: Path | None = None
) -> tuple[float, list[float]]:
    parts = urlsplit(url)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
    args = [
        "pgbench",
        "-n",
        "-h",
        parts.hostname or "",
        "-p",
        str(parts.port),
        "-U",
        parts.username or "",
        "-c",
        str(clients),
        "-j",
        str(min(clients, 2)),
        "-T",
        str(seconds),
        "-f",
        f.name,
        "postgres",
    ]
    if log_dir:
        args[1:1] = ["-l", "--log-prefix", str(log_dir / "pgbench")]
    out = subprocess.run(
        args,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PGPASSWORD": parts.password or ""},
        cwd=log_dir or None,
    ).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    latencies: list[float] = []
    if log_dir:
        for path in log_dir.glob("pgbench*"):
            latencies += [int(line.split()[2]) / 1000 for line in path.read_text().splitlines()]
    return tps, latencies


def percentile(values: list[float], p: float) -> float:
    return round(statistics.quantiles(values, n=100)[int(p) - 1], 2)


async def steady(base: str, token: str, rate: int, seconds: float) -> tuple[list[float], int]:
    """Open loop: requests start on schedule whether or not earlier ones have finished.
    aiohttp, because the generator shares the cores with the API and Postgres: httpx costs
    several times more CPU per request and inflated the tail it was measuring."""
    latencies: list[float] = []
    errors = 0
    async with aiohttp.ClientSession(base, headers={"authorization": f"Bearer {token}"}) as client:

        async def one() -> None:
            nonlocal errors
            t0 = time.perf_counter()
            try:
                async with client.get("/api/v1/admin/gateways") as response:
                    await response.read()
                    response.raise_for_status()
            except aiohttp.ClientError:
                errors += 1
                return
            latencies.append((time.perf_counter() - t0) * 1000)

        tasks = []
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateways", type=int, default=50)
    parser.add_argument("--transactions", type=int, default=1_000_000, help="payments to load")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=10)
    add_api_workers_option(parser)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    url = os.environ["LSP_TEST_DATABASE_URL"]
    auth_url = authenticator(url)
    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        load(conn, args.gateways, args.transactions)
        counts = conn.execute(
            "select (select count(*) from public.gateways where status = 'active'),"
            " (select count(*) from public.payment_attempts)"
        ).fetchone()
    load_s = round(time.perf_counter() - t0, 1)

    claims = json.dumps({"sub": ADMIN, "role": "authenticated", "aud": "authenticated"})
    direct_script = (
        "begin read only;\n"
        f"select set_config('role', 'authenticated', true), set_config('request.jwt.claims', "
        f"'{claims}', true), set_config('request.headers', '{{}}', true);\n"
        "select public.admin_list_gateways(p_include_archived => false);\n"
        "commit;\n"
    )
    direct_tps, _ = pgbench(auth_url, direct_script, args.clients, args.seconds)

    port = 18000 + os.getpid() % 1000
    base = f"http://127.0.0.1:{port}"
    token = mint("admin", ttl=3600, secret=SECRET)
    # As deployed (one API process per core), and as a single process for comparison.
    # pgbench has no limiter either, so the adapter runs without it.
    adapter_rps: dict[int, float] = {}
    for workers in sorted({1, args.api_workers}, reverse=True):
        api = api_process(url, port, limiter=False, pool=args.clients, workers=workers)
        try:
            adapter_rps[workers] = wrk(
                f"{base}/api/v1/admin/gateways", token, args.seconds, args.clients
            )
            if workers == args.api_workers:
                list_ms, list_errors = asyncio.run(steady(base, token, 200, args.seconds))
        finally:
            api.terminate()
            api.wait(timeout=20)

    with tempfile.TemporaryDirectory() as tmp:
        _, route_ms = pgbench(
            auth_url,
            "\\set amount random(100, 500000)\n"
            "begin read only;\nset local role service_role;\n"
            "select * from private.route_gateways(:amount, 'INR', 'upi', 'IN', 'test');\ncommit;\n",
            1,
            args.seconds,
            Path(tmp),
        )

    result = {
        "data": {"gateways": counts[0], "payment_attempts": counts[1], "load_s": load_s},
        "list": {
            "clients": args.clients,
            "direct_pgbench_tps": round(direct_tps, 1),
            "api_workers": args.api_workers,
            "adapter_wrk_rps": round(adapter_rps[args.api_workers], 1),
            "ratio": round(adapter_rps[args.api_workers] / direct_tps, 3),
            "target_ratio": 0.6,
            "single_api_process": {
                "adapter_wrk_rps": round(adapter_rps[1], 1),
                "ratio": round(adapter_rps[1] / direct_tps, 3),
            },
            "at_200_rps": {
                "requests": len(list_ms),
                "errors": list_errors,
                "p50_ms": percentile(list_ms, 50),
                "p99_ms": percentile(list_ms, 99),
                "target_p99_ms": 25,
            },
        },
        "routing": {
            "decisions": len(route_ms),
            "p50_ms": percentile(route_ms, 50),
            "p99_ms": percentile(route_ms, 99),
            "target_p99_ms": 2,
            "note": "pgbench transaction time: begin + set role + route + commit",
        },
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
