"""/readyz follows the database: ready, then 503 while it is down, then ready again; and
once it is back, no request is handed a connection that died with the old server.
Named to run last: it stops and restarts the throwaway cluster."""

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from .conftest import bearer, hs_token

ROOT = Path(__file__).resolve().parents[2]


def scripts_db(action: str) -> None:
    env = {
        **os.environ,
        "LSP_PGDATA": os.environ["LSP_TEST_PGDATA"],
        "LSP_PGPORT": os.environ["LSP_TEST_PGPORT"],
    }
    args = [str(ROOT / "scripts" / "db"), action] + (["--no-build"] if action == "start" else [])
    subprocess.run(args, check=True, env=env, capture_output=True)


def wait_for(api, status: int, timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = api.client.get("/readyz")
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def parallel_gets(api, headers: dict[str, str], n: int = 16) -> list[int]:
    def one(_: int) -> int:
        return httpx.get(f"{api.base_url}/api/v1/admin/queues", headers=headers).status_code

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(n)))


def test_readyz_fails_while_the_database_is_down_and_recovers(api, world):
    # Several requests at once, so the pool holds several connections (two admins: each
    # user has their own rate-limit bucket).
    before, after = (bearer(hs_token(world.admin())) for _ in range(2))
    assert set(parallel_gets(api, before)) == {200}
    ready = wait_for(api, 200)
    assert ready.status_code == 200
    assert ready.json()["applied_migration"] == ready.json()["expected_migration"]

    scripts_db("stop")
    try:
        down = wait_for(api, 503)
        assert down.status_code == 503
        assert down.json()["database"] == "unreachable"
        assert api.client.get("/healthz").status_code == 200
    finally:
        scripts_db("start")

    recovered = wait_for(api, 200)
    assert recovered.status_code == 200
    assert recovered.json()["status"] == "ready"
    # Every pooled connection died with the old server: none of them may reach a request.
    assert set(parallel_gets(api, after)) == {200}
