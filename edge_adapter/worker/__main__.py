"""Worker process: keeps a service_role connection to the database and drains the pgmq
queues. The queue machinery and handlers arrive with the job-queue capability; this loop
already does what every later handler relies on: reconnects after a database restart and
stops cleanly on SIGTERM/SIGINT.
"""

import asyncio
import logging
import os
import signal
import socket

from .. import jsonlog
from ..db import Database
from ..settings import get_settings

logger = logging.getLogger("edge_adapter.worker")
POLL_INTERVAL_S = 2.0


async def run() -> None:
    settings = get_settings()
    jsonlog.configure(settings.log_level)
    db = Database(settings, min_size=1)
    await db.open()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    jsonlog.log(logger, logging.INFO, "worker started", worker_id=worker_id)
    connected: bool | None = None
    while not stop.is_set():
        try:
            version = await db.migration_version()
            if connected is not True:
                jsonlog.log(logger, logging.INFO, "database connected", migration=version)
            connected = True
        except Exception as exc:  # keep running through database restarts
            if connected is not False:
                jsonlog.log(
                    logger, logging.WARNING, "database unavailable", error=type(exc).__name__
                )
            connected = False
        try:
            await asyncio.wait_for(stop.wait(), POLL_INTERVAL_S)
        except TimeoutError:
            pass
    await db.close()
    jsonlog.log(logger, logging.INFO, "worker stopped", worker_id=worker_id)


if __name__ == "__main__":
    asyncio.run(run())
