"""Worker fixtures: real worker processes (python -m edge_adapter.worker) against the test
cluster, with the handlers in tests/jobs.py."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.jobs import SCHEMA

ROOT = Path(__file__).resolve().parents[2]
# A queue of the tests' own (made and dropped around each test), so no producer of the real
# queues (pg_cron's payment checks and probes, events) can slip jobs into what they count.
QUEUE = "worker_test"


def wait_until(predicate: Callable[[], Any], timeout: float = 20, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


class Queues:
    def __init__(self, conn: psycopg.Connection, authenticator_url: str, tmp: Path) -> None:
        self.conn = conn
        self.authenticator_url = authenticator_url
        self.tmp = tmp
        self.workers: list[subprocess.Popen[bytes]] = []

    def reset(self) -> None:
        c = self.conn
        c.execute("select private.create_queue(%s)", (QUEUE,))  # as migrations do
        c.execute(SCHEMA)
        c.execute("truncate test_support.effects, test_support.deliveries, test_support.poison")
        for q in (QUEUE, f"{QUEUE}_dlq"):
            c.execute("select pgmq.purge_queue(%s)", (q,))
            c.execute(f"delete from pgmq.a_{q}")
        c.execute("delete from public.job_attempts where queue_name = %s", (QUEUE,))
        c.execute("delete from public.job_lineage")
        c.execute("delete from public.queue_stats_minute")
        c.execute("delete from public.worker_heartbeats")
        self.configure(
            paused=False,
            paused_reason=None,
            concurrency=20,
            max_attempts=3,
            visibility_timeout_s=3,
            backoff_base_s=0.2,
            backoff_max_s=2,
        )

    def drop(self) -> None:
        for q in (QUEUE, f"{QUEUE}_dlq"):
            self.conn.execute("select pgmq.drop_queue(%s)", (q,))
        self.conn.execute("delete from public.queue_controls where queue_name = %s", (QUEUE,))
        self.conn.execute("delete from public.queue_stats_minute where queue_name = %s", (QUEUE,))

    def configure(self, **settings: Any) -> None:
        sets = ", ".join(f"{k} = %s" for k in settings)
        self.conn.execute(
            f"update public.queue_controls set {sets} where queue_name = %s",
            (*settings.values(), QUEUE),
        )
        self.conn.execute("select pg_notify(private.channel('queue_controls'), 'all')")

    def enqueue(
        self, count: int = 1, payload: dict | None = None, key_prefix: str = "k"
    ) -> list[str]:
        rows = self.conn.execute(
            "select private.enqueue(%s, %s::jsonb || jsonb_build_object('n', g), 0,"
            " %s || '-' || g) ->> 'job_id' from generate_series(1, %s) as g",
            (QUEUE, psycopg.types.json.Jsonb(payload or {}), key_prefix, count),
        ).fetchall()
        return [r[0] for r in rows]

    def as_service(self, query: str, params: tuple = ()) -> Any:
        """Run one statement as service_role (what the admin RPCs accept besides admins)."""
        with self.conn.transaction():
            self.conn.execute("set local role service_role")
            row = self.conn.execute(query, params).fetchone()
        return row[0] if row else None

    def scalar(self, query: str, params: tuple = ()) -> Any:
        row = self.conn.execute(query, params).fetchone()
        return row[0] if row else None

    def effects(self) -> int:
        return self.scalar("select count(*) from test_support.effects")

    def pending(self) -> int:
        return self.scalar(f"select count(*) from pgmq.q_{QUEUE}")

    def start_worker(self, *extra: str, handler: str = "record_effect") -> subprocess.Popen[bytes]:
        log = (self.tmp / f"worker-{len(self.workers)}.log").open("wb")
        env = {
            **os.environ,
            "LSP_DATABASE_URL": self.authenticator_url,
            "LSP_POOL_MAX_SIZE": "25",
            "PYTHONPATH": str(ROOT),
        }
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edge_adapter.worker",
                "--queues",
                QUEUE,
                "--handler",
                f"{QUEUE}=tests.jobs:{handler}",
                "--poll-interval",
                "0.2",
                "--heartbeat-interval",
                "0.5",
                "--grace",
                "2",
                *extra,
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(proc)
        # Ready once its heartbeat row is there.
        assert wait_until(
            lambda: self.scalar(
                "select count(*) from public.worker_heartbeats"
                " where pid = %s and stopped_at is null",
                (proc.pid,),
            ),
            timeout=15,
        ), self.log(len(self.workers) - 1)
        return proc

    def log(self, index: int) -> str:
        return (self.tmp / f"worker-{index}.log").read_text()

    def stop_all(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture
def queues(pg: psycopg.Connection, authenticator_url: str, tmp_path: Path) -> Iterator[Queues]:
    q = Queues(pg, authenticator_url, tmp_path)
    q.reset()
    yield q
    q.stop_all()
    q.drop()
