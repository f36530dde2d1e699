"""The job system around pgmq: consumers per queue, retries with backoff and jitter, dead
letters, attempt history, pause, heartbeats, graceful shutdown and reconnects.

A handler is `async def handle(job: Job, ctx: JobContext) -> None`. Raising means the
attempt failed. Jobs can be delivered more than once (a worker dies after the effect but
before the archive): use `job.key`, stable across redeliveries and dead-letter retries, to
apply each effect once.
"""

import asyncio
import logging
import os
import random
import socket
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import PoolTimeout

from .. import jsonlog, metrics
from ..db import Database
from . import queries

logger = logging.getLogger("edge_adapter.worker")
DB_ERRORS = (psycopg.Error, PoolTimeout, OSError)


@dataclass(slots=True)
class Job:
    queue: str
    msg_id: int
    key: str
    payload: dict[str, Any]
    attempt: int
    enqueued_at: datetime

    @property
    def id(self) -> str:
        return f"{self.queue}:{self.msg_id}"


@dataclass(frozen=True)
class JobContext:
    db: Database
    worker_id: str


Handler = Callable[[Job, JobContext], Awaitable[None]]


@dataclass
class Controls:
    paused: bool = False
    concurrency: int = 10
    max_attempts: int = 5
    visibility_timeout_s: int = 30
    backoff_base_s: float = 1.0
    backoff_max_s: int = 3600


def backoff_seconds(attempt: int, base: float, cap: float, jitter: float = 0.2) -> int:
    """Exponential backoff (base * 2^(attempt-1), capped) with +/- jitter, whole seconds."""
    delay = min(cap, base * (2 ** max(attempt - 1, 0)))
    return max(0, round(delay * random.uniform(1 - jitter, 1 + jitter)))  # noqa: S311


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _QueueState:
    controls: Controls = field(default_factory=Controls)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    slot_free: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    deadlines: dict[int, float] = field(default_factory=dict)
    expired: set[int] = field(default_factory=set)
    # (msg_id, attempt, started_at epoch, duration_ms) of finished jobs awaiting archive.
    completions: list[tuple[int, int, float, int]] = field(default_factory=list)


class Worker:
    def __init__(
        self,
        db: Database,
        handlers: dict[str, Handler],
        *,
        listen_url: str,
        poll_interval_s: float = 1.0,
        heartbeat_interval_s: float = 5.0,
        shutdown_grace_s: float = 10.0,
        flush_interval_s: float = 0.01,
        max_batch: int = 100,
    ) -> None:
        self.db = db
        self.handlers = handlers
        self.listen_url = listen_url
        self.poll_interval_s = poll_interval_s
        self.heartbeat_interval_s = heartbeat_interval_s
        self.shutdown_grace_s = shutdown_grace_s
        self.flush_interval_s = flush_interval_s
        self.max_batch = max_batch
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{int(time.time())}"
        self.started_at = _now()
        self.queues = {q: _QueueState() for q in handlers}
        self.ctx = JobContext(db=db, worker_id=self.worker_id)
        self.processed = 0
        self.failed = 0
        self.channels: dict[str, str] = {}
        self._stopping = asyncio.Event()
        self._flushed = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        # The database's queue list and NOTIFY channels (private.worker_config) are the only
        # ones: a handler for a queue the database does not have is refused, loudly.
        config = None
        while config is None:
            try:
                config = await queries.worker_config(self.db)
            except DB_ERRORS as exc:
                jsonlog.log(
                    logger, logging.WARNING, "waiting for the database", error=type(exc).__name__
                )
                await self._wait(stop, 1.0)
                if stop.is_set():
                    return
        self.channels = config["channels"]
        unknown = sorted(set(self.queues) - set(config["queues"]))
        if unknown:
            jsonlog.log(
                logger,
                logging.ERROR,
                "no such queue in the database: not consuming it",
                queues=unknown,
                known=config["queues"],
            )
            for name in unknown:
                del self.queues[name]
        jsonlog.log(
            logger,
            logging.INFO,
            "worker started",
            worker_id=self.worker_id,
            queues=sorted(self.queues),
        )
        await self._refresh_controls()
        background = [
            asyncio.create_task(self._listen(), name="listen"),
            asyncio.create_task(self._controls_loop(), name="controls"),
            asyncio.create_task(self._heartbeat_loop(), name="heartbeat"),
            asyncio.create_task(self._watchdog(), name="watchdog"),
        ]
        flusher = asyncio.create_task(self._flush_loop(), name="flush")
        consumers = [
            asyncio.create_task(self._consume(q), name=f"consume:{q}") for q in self.queues
        ]
        await stop.wait()
        jsonlog.log(logger, logging.INFO, "worker stopping", worker_id=self.worker_id)
        self._stopping.set()
        for q in self.queues.values():
            q.wake.set()
            q.slot_free.set()
        await asyncio.gather(*consumers, return_exceptions=True)
        await self._drain()
        flusher.cancel()
        await asyncio.gather(flusher, return_exceptions=True)
        await self._flush()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await self._heartbeat(stopped=True)
        jsonlog.log(
            logger,
            logging.INFO,
            "worker stopped",
            worker_id=self.worker_id,
            processed=self.processed,
            failed=self.failed,
        )

    async def _drain(self) -> None:
        """Let in-flight jobs finish within the grace period; release the rest at once."""
        tasks = [t for q in self.queues.values() for t in q.in_flight.values()]
        if tasks:
            await asyncio.wait(tasks, timeout=self.shutdown_grace_s)
        for name, state in self.queues.items():
            unfinished = [msg_id for msg_id, t in state.in_flight.items() if not t.done()]
            for msg_id in unfinished:
                state.in_flight[msg_id].cancel()
            if unfinished:
                await self._db_retry(
                    lambda n=name, ids=unfinished: queries.release(self.db, n, ids),
                    "release",
                    attempts=3,
                )
                jsonlog.log(
                    logger,
                    logging.WARNING,
                    "released unfinished jobs",
                    queue=name,
                    jobs=[f"{name}:{i}" for i in unfinished],
                )

    # -- database helpers --------------------------------------------------------------------
    async def _db_retry(
        self, fn: Callable[[], Awaitable[Any]], what: str, attempts: int = 0
    ) -> Any:
        """Retry a database call through outages (attempts=0: until stopping)."""
        delay = 0.2
        tried = 0
        while True:
            try:
                return await fn()
            except DB_ERRORS as exc:
                tried += 1
                jsonlog.log(
                    logger,
                    logging.WARNING,
                    "database call failed",
                    what=what,
                    error=type(exc).__name__,
                )
                if attempts and tried >= attempts:
                    return None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    # -- controls, notifications, heartbeats --------------------------------------------------
    async def _refresh_controls(self) -> None:
        try:
            rows = await queries.queue_controls(self.db)
        except DB_ERRORS as exc:
            jsonlog.log(
                logger, logging.WARNING, "could not read queue controls", error=type(exc).__name__
            )
            return
        for name, paused, conc, max_att, vt, base, cap in rows:
            if name in self.queues:
                state = self.queues[name]
                was_paused = state.controls.paused
                state.controls = Controls(paused, conc, max_att, vt, float(base), cap)
                if was_paused != paused:
                    jsonlog.log(
                        logger,
                        logging.INFO,
                        "queue paused" if paused else "queue resumed",
                        queue=name,
                    )
                    state.wake.set()
                state.slot_free.set()

    async def _controls_loop(self) -> None:
        while not self._stopping.is_set():
            await asyncio.sleep(self.poll_interval_s)
            await self._refresh_controls()

    async def _listen(self) -> None:
        """LISTEN for enqueues (wake idle consumers) and control changes (apply at once)."""
        while not self._stopping.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.listen_url, autocommit=True
                ) as conn:
                    for channel in self.channels.values():
                        await conn.execute(sql.SQL("listen {}").format(sql.Identifier(channel)))
                    # Anything enqueued while we were not listening is picked up now.
                    for state in self.queues.values():
                        state.wake.set()
                    async for note in conn.notifies():
                        if note.channel == self.channels["queue_controls"]:
                            await self._refresh_controls()
                        elif note.payload in self.queues:
                            self.queues[note.payload].wake.set()
                        elif note.payload == "all":
                            for state in self.queues.values():
                                state.wake.set()
            except DB_ERRORS as exc:
                jsonlog.log(
                    logger, logging.WARNING, "listener disconnected", error=type(exc).__name__
                )
                await asyncio.sleep(1.0)

    async def _heartbeat(self, stopped: bool = False) -> None:
        in_flight = [f"{q}:{m}" for q, s in self.queues.items() for m in s.in_flight]

        async def beat() -> None:
            await queries.heartbeat(
                self.db,
                self.worker_id,
                socket.gethostname(),
                os.getpid(),
                sorted(self.queues),
                self.started_at,
                in_flight,
                self.processed,
                self.failed,
                stopped,
            )
            metrics.HEARTBEAT.set(time.time())

        await self._db_retry(beat, "heartbeat", attempts=1 if not stopped else 3)

    async def _heartbeat_loop(self) -> None:
        while not self._stopping.is_set():
            await self._heartbeat()
            await asyncio.sleep(self.heartbeat_interval_s)

    # -- consuming ---------------------------------------------------------------------------
    async def _consume(self, queue: str) -> None:
        state = self.queues[queue]
        while not self._stopping.is_set():
            ctl = state.controls
            if ctl.paused:
                state.wake.clear()
                await self._wait(state.wake, self.poll_interval_s)
                continue
            free = ctl.concurrency - len(state.in_flight)
            if free <= 0:
                state.slot_free.clear()
                await self._wait(state.slot_free, self.poll_interval_s)
                continue
            state.wake.clear()  # before reading, so an enqueue during the read is not missed
            try:
                rows = await queries.read_jobs(
                    self.db, queue, ctl.visibility_timeout_s, min(free, self.max_batch)
                )
            except DB_ERRORS as exc:
                jsonlog.log(
                    logger, logging.WARNING, "read failed", queue=queue, error=type(exc).__name__
                )
                await self._wait(self._stopping, 1.0)
                continue
            if not rows:
                await self._wait(state.wake, self.poll_interval_s)
                continue
            # Jobs must finish before their message becomes visible to another worker.
            deadline = asyncio.get_running_loop().time() + max(ctl.visibility_timeout_s - 1, 0.5)
            for msg_id, read_ct, enqueued_at, message in rows:
                job = Job(
                    queue=queue,
                    msg_id=msg_id,
                    key=str((message or {}).get("key") or f"{queue}:{msg_id}"),
                    payload=(message or {}).get("payload") or {},
                    attempt=read_ct,
                    enqueued_at=enqueued_at,
                )
                state.deadlines[msg_id] = deadline
                state.in_flight[msg_id] = asyncio.create_task(self._process(job, ctl))

    async def _watchdog(self) -> None:
        """Cancel handlers that outlive their visibility timeout (one timer for all jobs,
        instead of one per job)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.25)
            now = loop.time()
            for state in self.queues.values():
                for msg_id, deadline in list(state.deadlines.items()):
                    task = state.in_flight.get(msg_id)
                    if deadline <= now and task is not None and msg_id not in state.expired:
                        state.expired.add(msg_id)
                        task.cancel()

    @staticmethod
    async def _wait(event: asyncio.Event, seconds: float) -> None:
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            pass

    async def _process(self, job: Job, ctl: Controls) -> None:
        state = self.queues[job.queue]
        started = time.time()
        t0 = time.perf_counter()
        metrics.JOBS_IN_FLIGHT.labels(job.queue).inc()
        try:
            if job.attempt > 1:
                await self._db_retry(
                    lambda: queries.note_lost(self.db, job.queue, job.msg_id, job.attempt - 1),
                    "note_lost",
                    attempts=1,
                )
            await self.handlers[job.queue](job, self.ctx)
        except asyncio.CancelledError:
            if job.msg_id not in state.expired:
                raise  # shutdown
            await self._record_failure(job, ctl, TimeoutError("visibility timeout"), started, t0)
        except Exception as exc:
            await self._record_failure(job, ctl, exc, started, t0)
        else:
            state.completions.append(
                (job.msg_id, job.attempt, started, int((time.perf_counter() - t0) * 1000))
            )
            self.processed += 1
            metrics.job_finished(job.queue, "succeeded", time.perf_counter() - t0)
            if len(state.completions) >= 4 * self.max_batch:
                self._flushed.set()
        finally:
            metrics.JOBS_IN_FLIGHT.labels(job.queue).dec()
            state.in_flight.pop(job.msg_id, None)
            state.deadlines.pop(job.msg_id, None)
            state.expired.discard(job.msg_id)
            state.slot_free.set()

    def _attempt(self, job: Job, started: float, t0: float) -> dict[str, Any]:
        # Times travel as epoch seconds; SQL turns them into timestamptz.
        return {
            "msg_id": job.msg_id,
            "attempt": job.attempt,
            "key": job.key,
            "worker_id": self.worker_id,
            "started_at": started,
            "finished_at": time.time(),
            "duration_ms": int((time.perf_counter() - t0) * 1000),
        }

    async def _record_failure(
        self, job: Job, ctl: Controls, exc: Exception, started: float, t0: float
    ) -> None:
        self.failed += 1
        timed_out = isinstance(exc, TimeoutError)
        attempt = self._attempt(job, started, t0) | {
            "outcome": "timed_out" if timed_out else "failed",
            "error_class": type(exc).__name__,
            "error_message": str(exc)[:2000] or type(exc).__name__,
            "traceback": "".join(traceback.format_exception(exc))[-4000:],
        }
        dead = job.attempt >= ctl.max_attempts
        metrics.job_finished(job.queue, attempt["outcome"], time.perf_counter() - t0)
        metrics.job_failed(job.queue, dead)
        retry_in = backoff_seconds(job.attempt, ctl.backoff_base_s, ctl.backoff_max_s)
        outcome = await self._db_retry(
            lambda: queries.fail(self.db, job.queue, job.msg_id, attempt, retry_in, dead),
            "fail",
            attempts=3,
        )
        jsonlog.log(
            logger,
            logging.WARNING,
            "job failed",
            job_id=job.id,
            attempt=job.attempt,
            error_class=attempt["error_class"],
            outcome=outcome or "unrecorded",
            retry_in_s=None if dead else retry_in,
        )

    # -- completions -------------------------------------------------------------------------
    async def _flush_loop(self) -> None:
        while True:
            await self._wait(self._flushed, self.flush_interval_s)
            self._flushed.clear()
            await self._flush()

    async def _flush(self) -> None:
        """Archive finished jobs and record their attempts, a batch per queue per call."""
        for name, state in self.queues.items():
            if not state.completions:
                continue
            batch, state.completions = state.completions, []
            # Array literals built here are far cheaper than adapting Python lists.
            ids, attempts, started, durations = (
                "{" + ",".join(map(str, col)) + "}" for col in zip(*batch, strict=True)
            )
            try:
                await queries.complete(
                    self.db, name, ids, attempts, started, durations, self.worker_id
                )
            except DB_ERRORS as exc:
                # Keep them: archive is idempotent, and if we never get through, the jobs
                # are redelivered after their visibility timeout (their key dedupes effects).
                state.completions = batch + state.completions
                jsonlog.log(
                    logger,
                    logging.WARNING,
                    "could not archive completed jobs",
                    queue=name,
                    count=len(batch),
                    error=type(exc).__name__,
                )
                await asyncio.sleep(0.5)
