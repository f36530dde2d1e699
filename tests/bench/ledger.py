"""scripts/bench ledger: the ledger's posting function against plain inserts of the same rows,
and payment analytics over a million payments through the adapter, in one run.

1. Postings (pgbench, --clients connections, --seconds each):
   * across --accounts strict wallet accounts: each transaction posts one two-line entry with
     private.ledger_post between two random accounts (idempotency key, balanced check, strict
     never-negative check under the row locks, running balances, deferred zero-sum check);
   * the same entry and lines inserted into plain copies of the tables (no triggers, no
     checks): the ratio is the ledger's cost;
   * on one hot account: every posting debits or credits the same account (pgledger reports
     over 10,000 transfers/s on a laptop and about 7,500/s on one hot account; targets here:
     >= 2,000/s across the accounts, >= 500/s on the hot one).
2. Analytics: --payments payments over the last 30 days (20 merchants, 10 gateways, 4
   methods, every combination; bulk-loaded with triggers off, their rollups, the platform's
   rows included, built by the same aggregates as the migration's backfill), then
   GET /api/v1/analytics/payments for 30 days by day and 24 hours by hour, as a merchant and
   as an admin (every merchant), at a steady --rate requests/s (open loop): p50 / p99
   (target p99 <= 50 ms each).
3. Rollup triggers: the cost per payment of keeping the rollups (create, attempt, success)
   with the analytics triggers on and off, on one connection (--trigger-payments).
"""

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

import aiohttp
import psycopg

from edge_adapter.devtoken import mint

from .devtools import SECRET, add_api_workers_option, api_process, wait_http
from .gateways import percentile, pgbench

DEMO_MERCHANT = "00000000-0000-4000-8000-0000000d0001"
BENCH_SCHEMA = """
create schema if not exists bench;
create table if not exists bench.accounts (n integer primary key, id uuid not null);
create table if not exists bench.plain_entries (like public.ledger_entries including all);
create table if not exists bench.plain_lines (like public.ledger_lines including all);
grant usage on schema bench to service_role;
grant select on bench.accounts to service_role;
"""


def setup_accounts(conn: psycopg.Connection, accounts: int) -> str:
    """`accounts` merchants with a funded live INR wallet; returns the hot account's id."""
    conn.execute(BENCH_SCHEMA)
    conn.execute("truncate bench.accounts")
    conn.execute(
        "insert into public.merchants (name) select 'bench ' || g from generate_series(1, %s) as g",
        (accounts,),
    )
    conn.execute(
        "insert into bench.accounts (n, id)"
        " select row_number() over (order by m.id), w.available_account_id"
        " from public.merchants as m"
        " cross join lateral private.wallet_for(m.id, 'INR', 'live') as w"
        " where m.name like 'bench %'"
    )
    conn.execute(
        "select private.ledger_post('fund:' || a.id, 'adjustment', jsonb_build_array("
        " jsonb_build_object('account_id', a.id, 'direction', 'credit', 'amount', 1000000000000),"
        " jsonb_build_object('account_id', private.ledger_account('platform_adjustments', 'INR',"
        " 'live'), 'direction', 'debit', 'amount', 1000000000000)))"
        " from bench.accounts as a"
    )
    conn.execute("analyze")
    return conn.execute("select id::text from bench.accounts where n = 1").fetchone()[0]


def posting_script(accounts: int, hot: bool) -> str:
    """One balanced two-line entry per transaction, between two accounts."""
    pick_a = "1" if hot else f"random(1, {accounts})"
    return (
        f"\\set a {pick_a}\n"
        f"\\set b random(2, {accounts})\n"
        "\\set amount random(1, 100000)\n"
        "\\set k random(1, 1000000000000)\n"
        "\\set dir random(0, 1)\n"
        "select private.ledger_post('bench:' || :client_id || ':' || :k, 'transfer',"
        " jsonb_build_array("
        "  jsonb_build_object('account_id', (select id from bench.accounts where n = :a),"
        "   'direction', case when :dir = 1 then 'debit' else 'credit' end, 'amount', :amount),"
        "  jsonb_build_object('account_id', (select id from bench.accounts where n = :b),"
        "   'direction', case when :dir = 1 then 'credit' else 'debit' end, 'amount', :amount)));\n"
    )


def plain_script(accounts: int) -> str:
    """The same entry and lines, inserted into tables without triggers or checks."""
    return (
        f"\\set a random(1, {accounts})\n"
        f"\\set b random(2, {accounts})\n"
        "\\set amount random(1, 100000)\n"
        "\\set k random(1, 1000000000000)\n"
        "with e as (insert into bench.plain_entries (kind, idempotency_key, request_hash)"
        " values ('transfer', 'bench:' || :client_id || ':' || :k, 'x') returning id)"
        " insert into bench.plain_lines (entry_id, account_id, direction, amount, balance_after)"
        " select e.id, x.id, x.d, :amount, 0 from e,"
        " (select id, 'debit' as d from bench.accounts where n = :a"
        "  union all select id, 'credit' from bench.accounts where n = :b) as x;\n"
    )


def load_payments(conn: psycopg.Connection, payments: int) -> None:
    """payments over the last 30 days, then their rollups (as the migration's backfill)."""
    conn.execute(
        "insert into public.merchants (name)"
        " select 'analytics ' || g from generate_series(1, 19) as g"
    )
    conn.execute(
        "insert into public.gateways (provider, display_name, status)"
        " select 'sandbox', 'analytics ' || g, 'active' from generate_series(1, 10) as g"
    )
    conn.execute("set session_replication_role = replica")
    conn.execute(
        """
        insert into public.payments (id, merchant_id, mode, status, amount, currency, method,
          amount_captured, gateway_id, provider, attempt_count, failure_code, created_at,
          updated_at)
        select 'pay_' || lpad(to_hex(g), 20, '0'), m.ids[1 + g %% cardinality(m.ids)], 'live',
          s.status, 100 + (g::bigint * 7919) %% 500000, 'INR',
          (array['upi', 'card', 'netbanking', 'wallet'])[1 + (g / 20) %% 4],
          case when s.status = 'succeeded' then 100 + (g::bigint * 7919) %% 500000 else 0 end,
          gw.ids[1 + (g / 80) %% cardinality(gw.ids)], 'sandbox', 1,
          case when s.status = 'failed' then (array['insufficient_funds', 'payment_declined',
            'bank_unavailable'])[1 + g %% 3] end,
          now() - ((g * 2654435761) %% 2592000) * interval '1 second',
          now() - ((g * 2654435761) %% 2592000) * interval '1 second'
        from generate_series(1, %s) as g
        cross join lateral (
          select case when g %% 10 < 7 then 'succeeded' when g %% 10 < 9 then 'failed'
            else 'expired' end as status
        ) as s,
          (select array_agg(id order by id) as ids from public.merchants
           where name like 'analytics %%' or id = %s) as m,
          (select array_agg(id order by id) as ids from public.gateways
           where display_name like 'analytics %%') as gw
        """,
        (payments, DEMO_MERCHANT),
    )
    conn.execute(
        """
        insert into public.payment_attempts (id, payment_id, merchant_id, gateway_id, provider,
          attempt_no, amount, currency, status, provider_latency_ms, created_at, updated_at)
        select 'att_' || substr(p.id, 5), p.id, p.merchant_id, p.gateway_id, 'sandbox', 1,
          p.amount, p.currency,
          case p.status when 'succeeded' then 'succeeded' when 'failed' then 'failed'
            else 'cancelled' end,
          20 + abs(hashtext(p.id)) % 900, p.created_at, p.updated_at
        from public.payments as p
        where p.id like 'pay_0%'
        """
    )
    conn.execute("set session_replication_role = origin")
    conn.execute(
        """
        insert into public.payment_stats (
          grain, bucket, merchant_id, mode, currency, gateway_id, method, payments, succeeded,
          failed, expired, first_attempt_succeeded, volume, fees, tax,
          h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11, h12, h13, h14
        )
        select g.grain, date_trunc(g.grain, p.created_at, 'UTC'),
          case when o.platform then '00000000-0000-0000-0000-000000000000'::uuid
            else p.merchant_id end, p.mode,
          p.currency, private.stat_gateway(p.gateway_id), p.method, count(*),
          count(*) filter (where p.status = 'succeeded'),
          count(*) filter (where p.status = 'failed'),
          count(*) filter (where p.status = 'expired'),
          count(*) filter (where p.status = 'succeeded'),
          coalesce(sum(p.amount_captured), 0),
          coalesce(sum(p.amount_captured * 2 / 100), 0),
          coalesce(sum(p.amount_captured * 2 / 100 * 18 / 100), 0),
          count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 1),
          count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 2),
          count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 3),
          count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 4),
          count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 5),
          count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 6),
          count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 7),
          count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 8),
          count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 9),
          count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 10),
          count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 11),
          count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 12),
          count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 13),
          count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 14)
        from public.payments as p
        join public.payment_attempts as a on a.payment_id = p.id
        cross join (values ('hour'), ('day')) as g (grain)
        cross join (values (false), (true)) as o (platform)
        where p.id like 'pay_0%'
        group by 1, 2, 3, 4, 5, 6, 7
        """
    )
    conn.execute(
        """
        insert into public.payment_failure_stats (
          grain, bucket, merchant_id, mode, currency, gateway_id, method, code, failed
        )
        select g.grain, date_trunc(g.grain, p.created_at, 'UTC'),
          case when o.platform then '00000000-0000-0000-0000-000000000000'::uuid
            else p.merchant_id end, p.mode,
          p.currency, private.stat_gateway(p.gateway_id), p.method, p.failure_code, count(*)
        from public.payments as p
        cross join (values ('hour'), ('day')) as g (grain)
        cross join (values (false), (true)) as o (platform)
        where p.id like 'pay_0%' and p.status = 'failed'
        group by 1, 2, 3, 4, 5, 6, 7, 8
        """
    )
    conn.execute("analyze")


async def steady(base: str, token: str, path: str, rate: int, seconds: float, warmup: int) -> dict:
    """Open loop at `rate` requests/s, after `warmup` concurrent requests (each pooled
    connection plans the query once: that is start-up, not steady state)."""
    latencies: list[float] = []
    errors = 0
    async with aiohttp.ClientSession(base, headers={"authorization": f"Bearer {token}"}) as client:

        async def warm() -> None:
            async with client.get(path) as response:
                await response.read()

        for _ in range(2):
            await asyncio.gather(*(warm() for _ in range(warmup)))

        async def one() -> None:
            nonlocal errors
            t0 = time.perf_counter()
            try:
                async with client.get(path) as response:
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
    return {
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "target_p99_ms": 50,
    }


def trigger_cost(conn: psycopg.Connection, n: int) -> dict:
    """Seconds per payment (insert, attempt, success) with and without the rollup triggers."""
    gateway = conn.execute(
        "select id from public.gateways where display_name like 'analytics %' limit 1"
    ).fetchone()[0]
    script = """
        insert into public.payments (merchant_id, mode, amount, currency, method, gateway_id)
        values (%s, 'test', 1000, 'INR', 'upi', %s) returning id
    """
    timings = {}
    for label, state in (("with_rollups", "enable"), ("without_rollups", "disable")):
        for table, trigger in (
            ("payments", "payments_stats"),
            ("payment_attempts", "payment_attempts_latency"),
            ("payment_credits", "payment_credits_stats"),
            ("refunds", "refunds_stats"),
        ):
            conn.execute(f"alter table public.{table} {state} trigger {trigger}")
        t0 = time.perf_counter()
        for _ in range(n):
            with conn.transaction():
                pid = conn.execute(script, (DEMO_MERCHANT, gateway)).fetchone()[0]
                conn.execute(
                    "insert into public.payment_attempts (payment_id, merchant_id, gateway_id,"
                    " provider, attempt_no, amount, currency, provider_latency_ms)"
                    " values (%s, %s, %s, 'sandbox', 1, 1000, 'INR', 120)",
                    (pid, DEMO_MERCHANT, gateway),
                )
                conn.execute(
                    "update public.payment_attempts set status = 'succeeded' where payment_id = %s",
                    (pid,),
                )
                conn.execute(
                    "update public.payments set status = 'succeeded', amount_captured = 1000"
                    " where id = %s",
                    (pid,),
                )
        timings[label] = (time.perf_counter() - t0) / n * 1000
    return {
        "payments_each": n,
        "ms_per_payment_with_rollups": round(timings["with_rollups"], 3),
        "ms_per_payment_without_rollups": round(timings["without_rollups"], 3),
        "rollup_overhead_ms": round(timings["with_rollups"] - timings["without_rollups"], 3),
        "note": "one connection; each payment: insert, attempt, attempt succeeded, payment "
        "succeeded (the ledger posting included in both)",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--rate", type=int, default=20, help="analytics requests/s (open loop)")
    parser.add_argument("--trigger-payments", type=int, default=2000)
    add_api_workers_option(parser)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    url = os.environ["LSP_TEST_DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        setup_accounts(conn, args.accounts)
    service = "begin;\nset local role service_role;\n"
    ledger_tps, _ = pgbench(
        url,
        service + posting_script(args.accounts, False) + "commit;\n",
        args.clients,
        args.seconds,
    )
    plain_tps, _ = pgbench(url, plain_script(args.accounts), args.clients, args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        hot_tps, hot_ms = pgbench(
            url,
            service + posting_script(args.accounts, True) + "commit;\n",
            args.clients,
            args.seconds,
            Path(tmp),
        )
    with psycopg.connect(url, autocommit=True) as conn:
        violations = conn.execute(
            "select count(*) from public.ledger_accounts"
            " where never_negative and private.available_of(ledger_accounts) < 0"
        ).fetchone()[0]
        t0 = time.perf_counter()
        load_payments(conn, args.payments)
        load_s = round(time.perf_counter() - t0, 1)
        rollups = conn.execute("select count(*) from public.payment_stats").fetchone()[0]
        triggers = trigger_cost(conn, args.trigger_payments)

    port = 18000 + os.getpid() % 1000
    base = f"http://127.0.0.1:{port}"
    admin, owner = mint("admin", ttl=3600, secret=SECRET), mint("owner", ttl=3600, secret=SECRET)
    queries = {
        "merchant_30_days_by_day": (owner, "granularity=day&from={d30}"),
        "merchant_24_hours_by_hour": (owner, "granularity=hour"),
        "admin_30_days_by_day": (admin, "granularity=day&from={d30}"),
        "admin_24_hours_by_hour": (admin, "granularity=hour"),
        "admin_30_days_by_day_per_gateway": (admin, "granularity=day&from={d30}&group_by=gateway"),
    }
    d30 = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 30 * 86400))
    analytics = {}
    api = api_process(url, port, limiter=False, pool=args.clients, workers=args.api_workers)
    try:
        wait_http(f"{base}/healthz")
        for name, (token, query) in queries.items():
            path = "/api/v1/analytics/payments?currency=INR&mode=live&" + query.format(d30=d30)
            analytics[name] = asyncio.run(
                steady(base, token, path, args.rate, args.seconds, args.clients)
            )
    finally:
        api.terminate()
        api.wait(timeout=20)

    result = {
        "postings": {
            "clients": args.clients,
            "accounts": args.accounts,
            "ledger_post_tps": round(ledger_tps, 1),
            "plain_insert_tps": round(plain_tps, 1),
            "ratio": round(ledger_tps / plain_tps, 3),
            "target_tps": 2000,
            "hot_account_tps": round(hot_tps, 1),
            "hot_account_p99_ms": percentile(hot_ms, 99) if hot_ms else None,
            "target_hot_tps": 500,
            "strict_accounts_below_zero": violations,
        },
        "analytics": {
            "payments": args.payments,
            "rollup_rows": rollups,
            "load_s": load_s,
            "api_workers": args.api_workers,
            "rate_rps": args.rate,
            **analytics,
        },
        "rollup_triggers": triggers,
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
