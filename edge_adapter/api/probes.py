"""/healthz (the process is up) and /readyz (the database is reachable, fully migrated, and
knows the same queues as this code)."""

import logging

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from .. import jsonlog, queries
from ..db import Database
from ..queues import QUEUES
from ..settings import Settings

logger = logging.getLogger("edge_adapter.api")


def install(app: FastAPI, db: Database, settings: Settings) -> None:
    queues_checked = False

    @app.get("/healthz", tags=["probes"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["probes"], summary="Database reachable and fully migrated")
    async def readyz() -> JSONResponse:
        nonlocal queues_checked
        expected = settings.expected_migration_version()
        try:
            applied = await queries.migration_version(db)
            known = None if queues_checked else await queries.queue_names(db)
        except Exception as exc:  # any failure to reach the database means not ready
            jsonlog.log(logger, logging.WARNING, "readiness check failed", error=type(exc).__name__)
            return JSONResponse(
                {
                    "status": "unavailable",
                    "database": "unreachable",
                    "expected_migration": expected,
                },
                status_code=503,
            )
        ready = applied is not None and (expected is None or applied >= expected)
        body = {
            "status": "ready" if ready else "migrations_pending",
            "database": "ok",
            "applied_migration": applied,
            "expected_migration": expected,
        }
        if ready and known is not None:
            if sorted(known) != sorted(QUEUES):
                # edge_adapter/queues.py and public.queue_controls must name the same queues.
                jsonlog.log(
                    logger, logging.ERROR, "queue names differ", database=known, code=QUEUES
                )
                body.update(status="queues_differ", queues={"database": known, "code": QUEUES})
                return JSONResponse(body, status_code=503)
            queues_checked = True
        return JSONResponse(body, status_code=200 if ready else 503)
