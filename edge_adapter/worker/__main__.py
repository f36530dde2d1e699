"""`python -m edge_adapter.worker`: drain the pgmq queues.

    python -m edge_adapter.worker [--queues payment,webhook]
                                  [--handler QUEUE=module:function ...]
                                  [--poll-interval 1.0] [--grace 10]

SIGTERM/SIGINT: stop reading, let in-flight jobs finish within the grace period, release
the rest for immediate redelivery, record the worker as stopped.
"""

import argparse
import asyncio
import importlib
import logging
import signal

from .. import jsonlog
from ..db import Database
from ..settings import get_settings
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
        await close_sessions()
        await close_clients()
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--queues", default="", help="comma-separated queues to consume")
    parser.add_argument("--handler", action="append", default=[], help="QUEUE=module:function")
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--heartbeat-interval", type=float, default=5.0)
    parser.add_argument("--grace", type=float, default=10.0, help="shutdown grace in seconds")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
