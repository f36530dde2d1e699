"""`python -m edge_adapter.worker`: drain the pgmq queues.

    python -m edge_adapter.worker [--queues payment,webhook]
                                  [--handler QUEUE=module:function ...]
                                  [--poll-interval 1.0] [--grace 10]
                                  [--metrics-port 9464] [--metrics-host 127.0.0.1]

Metrics: GET http://<metrics-host>:<metrics-port>/metrics (LSP_WORKER_METRICS_PORT, 0 = off;
LSP_METRICS_TOKEN protects it), with the database-side figures (queues, gateways, pg_cron
jobs) read every LSP_METRICS_DB_INTERVAL_S.

SIGTERM/SIGINT: stop reading, let in-flight jobs finish within the grace period, release
the rest for immediate redelivery, record the worker as stopped.
"""

import argparse
import asyncio
import importlib
import logging
import signal
from typing import Any

from .. import jsonlog, metrics
from ..db import Database
from ..settings import Settings, get_settings
from ..startup import check_mode
from ..webhooks.delivery import close_sessions
from .core import Handler, Worker
from .handlers import HANDLERS
from .payments import close_clients

logger = logging.getLogger("edge_adapter.worker")


def load_handler(spec: str) -> tuple[str, Handler]:
    queue, _, target = spec.partition("=")
    module_name, _, attr = target.partition(":")
    if not (queue and module_name and attr):
        raise SystemExit(f"--handler takes QUEUE=module:function, got {spec!r}")
    return queue, getattr(importlib.import_module(module_name), attr)


async def run(args: argparse.Namespace) -> None:
    settings = get_settings()
    jsonlog.configure(settings.log_level)
    check_mode(settings, "worker")
    handlers = dict(HANDLERS)
    handlers.update(load_handler(spec) for spec in args.handler)
    if args.queues:
        wanted = set(args.queues.split(","))
        handlers = {q: h for q, h in handlers.items() if q in wanted}
    db = Database(settings, min_size=1, service_session=True)
    await db.open()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    exporter = await start_metrics(args, settings, db, stop)
    worker = Worker(
        db,
        handlers,
        listen_url=settings.database_url.get_secret_value(),
        poll_interval_s=args.poll_interval,
        shutdown_grace_s=args.grace,
        heartbeat_interval_s=args.heartbeat_interval,
    )
    try:
        await worker.run(stop)
    finally:
        if exporter is not None:
            runner, refresher = exporter
            await runner.cleanup()
            await asyncio.gather(refresher, return_exceptions=True)  # it ends with stop
        await close_sessions()
        await close_clients()
        await db.close()


async def start_metrics(
    args: argparse.Namespace, settings: Settings, db: Database, stop: asyncio.Event
) -> tuple[Any, "asyncio.Task[None]"] | None:
    """The metrics endpoint and the database-side figures, when a port is set."""
    port = settings.worker_metrics_port if args.metrics_port is None else args.metrics_port
    if not port:
        return None
    host = args.metrics_host or settings.worker_metrics_host
    metrics.POOLS.register("worker", db.pool)
    metrics.enable_database_figures()
    refresher = asyncio.create_task(
        metrics.refresh_database_figures(db, settings.metrics_db_interval_s, stop),
        name="metrics-figures",
    )
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    runner = await metrics.serve_worker_metrics(host, port, token)
    jsonlog.log(logger, logging.INFO, "metrics endpoint", url=f"http://{host}:{port}/metrics")
    return runner, refresher


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--queues", default="", help="comma-separated queues to consume")
    parser.add_argument("--handler", action="append", default=[], help="QUEUE=module:function")
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--heartbeat-interval", type=float, default=5.0)
    parser.add_argument("--grace", type=float, default=10.0, help="shutdown grace in seconds")
    parser.add_argument(
        "--metrics-port", type=int, default=None, help="metrics port (0 = off; default env)"
    )
    parser.add_argument("--metrics-host", default=None, help="metrics bind address")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
