"""Per-minute usage rollups of merchant API traffic, kept in memory and written in batches
(private.record_api_usage), never a write per request."""

import logging
import time
from bisect import bisect_left
from datetime import UTC, datetime
from typing import Any

from . import jsonlog, queries
from .db import Database

logger = logging.getLogger("edge_adapter.usage")
# Upper bounds (ms) of the latency buckets, as private.latency_bounds().
LATENCY_BOUNDS = [25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000]


class UsageRecorder:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._rows: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self._minute_start = 0
        self._minute_label = ""

    def _minute(self) -> str:
        """The current minute as an ISO timestamp, formatted once per minute."""
        start = int(time.time()) // 60 * 60
        if start != self._minute_start:
            self._minute_start = start
            self._minute_label = datetime.fromtimestamp(start, UTC).isoformat()
        return self._minute_label

    def record(
        self, merchant_id: str, api_key_id: str, endpoint: str, status: int, latency_ms: float
    ) -> None:
        minute = self._minute()
        key = (merchant_id, api_key_id, minute, endpoint)
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = {
                "merchant_id": merchant_id,
                "api_key_id": api_key_id,
                "minute": minute,
                "endpoint": endpoint,
                "requests": 0,
                "errors_4xx": 0,
                "errors_5xx": 0,
                "rate_limited": 0,
                **{f"h{i}": 0 for i in range(1, 15)},
            }
        row["requests"] += 1
        if status == 429:
            row["rate_limited"] += 1
        elif 400 <= status < 500:
            row["errors_4xx"] += 1
        elif status >= 500:
            row["errors_5xx"] += 1
        row[f"h{bisect_left(LATENCY_BOUNDS, latency_ms) + 1}"] += 1

    async def flush(self) -> None:
        if not self._rows:
            return
        batch, self._rows = self._rows, {}
        try:
            await queries.record_api_usage(self.db, list(batch.values()))
        except Exception as exc:  # merge back; the next flush retries
            for key, row in batch.items():
                mine = self._rows.setdefault(
                    key, {**row, **{k: 0 for k in row if isinstance(row[k], int)}}
                )
                for k, v in row.items():
                    if isinstance(v, int):
                        mine[k] += v
            jsonlog.log(logger, logging.WARNING, "usage flush failed", error=type(exc).__name__)
