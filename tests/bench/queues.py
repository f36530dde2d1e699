"""scripts/bench queues: the worker against raw pgmq, in one run.

1. Throughput. N jobs are put in the payment queue; raw pgmq drains them with C concurrent
   connections doing read(batch B) + archive(ids); then the same N jobs are drained by a
   worker process with a no-op handler, concurrency C*B, reads of up to B, and a pool of C
   connections (plus its LISTEN connection). Report jobs/s of each and the ratio.
2. Latency. A producer enqueues at a steady 500 jobs/s through private.enqueue (the path
   that NOTIFYs); the worker's recorded start time of each job minus its enqueue time gives
   enqueue->start latency, p50/p99.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "payment"


def authenticator(url: str) -> str:
    p = urlsplit(url)
    return urlunsplit(
        (p.scheme, f"authenticator:postgres@{p.hostname}:{p.port}", p.path, p.query, "")
    )


def reset(conn: psycopg.Connection, concurrency: int) -> None:
    conn.execute("select pgmq.purge_queue(%s)", (QUEUE,))
    conn.execute(f"truncate pgmq.a_{QUEUE}")
    conn.execute(
        "truncate public.job_attempts, public.queue_stats_minute, public.worker_heartbeats"
    )
    conn.execute(
        "update public.queue_controls set paused = false, concurrency = %s,"
        " visibility_timeout_s = 60 where queue_name = %s",
        (concurrency, QUEUE),
    )


def fill(conn: psycopg.Connection, n: int) -> None:
    conn.execute(
        "select pgmq.send_batch(%s, array_agg(jsonb_build_object('key', 'k' || g,"
        " 'payload', jsonb_build_object('n', g)))) from generate_series(1, %s) as g",
        (QUEUE, n),
    )


async def raw_drain(url: str, connections: int, batch: int) -> float:
    async def loop() -> int:
        done = 0
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            while True:
                cur = await conn.execute("select msg_id from pgmq.read(%s, 60, %s)", (QUEUE, batch))
                ids = [r[0] for r in await cur.fetchall()]
                if not ids:
                    return done
                await conn.execute("select pgmq.archive(%s, %s::bigint[])", (QUEUE, ids))
                done += len(ids)

    t0 = time.perf_counter()
    counts = await asyncio.gather(*(loop() for _ in range(connections)))
    return sum(counts) / (time.perf_counter() - t0)


def start_worker(url: str, pool: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LSP_DATABASE_URL": authenticator(url),
        "LSP_POOL_MAX_SIZE": str(pool),
        "LSP_POOL_MIN_SIZE": str(pool),
        "LSP_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge_adapter.worker",
            "--queues",
            QUEUE,
            "--handler",
            f"{QUEUE}=tests.jobs:noop",
            "--poll-interval",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(conn: psycopg.Connection, query: str, expected: int, timeout: float = 300) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if conn.execute(query).fetchone()[0] >= expected:
            return time.perf_counter()
        time.sleep(0.01)
    raise TimeoutError(query)


# Cheap to poll (the live queue only shrinks); counting the growing archive every few
# milliseconds would steal the CPU being measured.
QUEUE_EMPTY = f"select (not exists (select 1 from pgmq.q_{QUEUE}))::int"


def worker_drain(
    conn: psycopg.Connection, url: str, n: int, connections: int, processes: int
) -> float:
    """The same connection budget split over `processes` worker processes."""
    conn.execute("update public.queue_controls set paused = true where queue_name = %s", (QUEUE,))
    procs = [start_worker(url, max(1, connections // processes)) for _ in range(processes)]
    try:
        wait_for(conn, "select count(*) from public.worker_heartbeats", processes, 30)
        time.sleep(0.5)
        t0 = time.perf_counter()
        conn.execute(
            "update public.queue_controls set paused = false where queue_name = %s", (QUEUE,)
        )
        conn.execute("select pg_notify(private.channel('queue_controls'), 'all')")
        t1 = wait_for(conn, QUEUE_EMPTY, 1)
        archived = conn.execute(f"select count(*) from pgmq.a_{QUEUE}").fetchone()[0]
        assert archived == n, f"the worker archived {archived} of {n} jobs"
        return n / (t1 - t0)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


async def steady_enqueue(url: str, rate: int, seconds: float) -> int:
    sent = 0
    interval = 1 / rate
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            due = int(elapsed * rate) + 1
            while sent < due:
                await conn.execute(
                    "select private.enqueue(%s, jsonb_build_object('n', %s))", (QUEUE, sent)
                )
                sent += 1
            await asyncio.sleep(max(0.0, sent * interval - (time.perf_counter() - start)))
    return sent


def latency(conn: psycopg.Connection, url: str, rate: int, seconds: float) -> dict[str, float]:
    reset(conn, 50)
    proc = start_worker(url, 4)
    try:
        wait_for(conn, "select count(*) from public.worker_heartbeats", 1, 30)
        time.sleep(1.0)
        sent = asyncio.run(steady_enqueue(url, rate, seconds))
        wait_for(conn, QUEUE_EMPTY, 1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    rows = conn.execute(
        "select extract(epoch from j.started_at - a.enqueued_at) * 1000"
        f" from pgmq.a_{QUEUE} as a join public.job_attempts as j"
        " on j.queue_name = %s and j.msg_id = a.msg_id",
        (QUEUE,),
    ).fetchall()
    ms = sorted(float(r[0]) for r in rows)
    q = statistics.quantiles(ms, n=100)
    return {
        "jobs": len(ms),
        "achieved_rate": round(sent / seconds, 1),
        "p50_ms": round(q[49], 2),
        "p99_ms": round(q[98], 2),
        "max_ms": round(ms[-1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=50000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--worker-processes",
        type=int,
        nargs="+",
        default=[1, 2],
        help="worker process counts to measure; the connection budget is split between them",
    )
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    url = os.environ["LSP_TEST_DATABASE_URL"]
    raws: list[float] = []
    workers: dict[int, list[float]] = {p: [] for p in args.worker_processes}
    with psycopg.connect(url, autocommit=True) as conn:
        # Alternate the two, several rounds, and compare medians: single runs on a shared
        # 2-core machine swing by 2x.
        for _ in range(args.rounds):
            reset(conn, args.batch * args.connections)
            fill(conn, args.jobs)
            conn.execute("vacuum analyze pgmq.q_payment")
            raws.append(asyncio.run(raw_drain(url, args.connections, args.batch)))
            for processes, runs in workers.items():
                reset(conn, args.batch * args.connections)
                fill(conn, args.jobs)
                conn.execute("vacuum analyze pgmq.q_payment")
                runs.append(worker_drain(conn, url, args.jobs, args.connections, processes))
        lat = latency(conn, url, args.rate, args.seconds)
    raw = statistics.median(raws)
    result = {
        "throughput": {
            "jobs": args.jobs,
            "batch": args.batch,
            "connections": args.connections,
            "rounds": args.rounds,
            "raw_pgmq_jobs_per_s": round(raw),
            "raw_runs": [round(r) for r in raws],
            "worker": [
                {
                    "processes": processes,
                    "jobs_per_s": round(statistics.median(runs)),
                    "runs": [round(r) for r in runs],
                    "ratio": round(statistics.median(runs) / raw, 3),
                }
                for processes, runs in workers.items()
            ],
            "target_ratio": 0.6,
        },
        "latency": lat | {"target_p99_ms": 50, "rate": args.rate},
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
