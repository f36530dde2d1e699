"""API-key pepper rotation without downtime, under continuous requests and with old and new
API processes side by side (a rolling deploy): (1) the new pepper deployed as a standby,
(2) made current (keys re-digested on use; old processes still find them), (3) the old one
retired once no key's digest uses it. No request gets a 401 along the way."""

import hashlib
import hmac
import json
import threading
import time

import httpx
import psycopg

from tests.conftest import TEST_JWT_SECRET

from .conftest import bearer, hs_token
from .test_rotation_jwt import ApiProcess, start_api, wait_for

OLD, NEW = (
    "old-pepper-for-the-rotation-test-0123456789",
    "new-pepper-for-the-rotation-test-9876543210",
)
CREDS = "/api/v1/merchant/credentials"


def digest(key: str, pepper: str) -> bytes:
    return hmac.digest(pepper.encode(), key.encode(), hashlib.sha256)


def key_row(pg: psycopg.Connection, key_id: str) -> tuple[bytes, int | None]:
    row = pg.execute(
        "select key_hash, pepper_version from public.api_keys where id = %s", (key_id,)
    ).fetchone()
    assert row
    return bytes(row[0]), row[1]


def test_the_pepper_rotates_under_continuous_requests_across_old_and_new_processes(
    authenticator_url, world, pg, tmp_path
):
    owner = world.user("owner")
    merchant = world.merchant(owner)
    started: list[ApiProcess] = []

    def api(name: str, **env: str) -> ApiProcess:
        process = start_api(
            authenticator_url, tmp_path, name, LSP_JWT_SECRET=TEST_JWT_SECRET, **env
        )
        started.append(process)
        return process

    def new_key(on: ApiProcess) -> dict:
        made = on.client.post(
            CREDS,
            headers=bearer(hs_token(owner)),
            json={"merchant_id": merchant, "name": "server"},
        )
        assert made.status_code == 201, made.text
        return made.json()

    live: list[ApiProcess] = []
    keys: list[str] = []
    answers: list[tuple[str, int, str]] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            targets, usable = list(live), list(keys)
            for target in targets:
                for key in usable:
                    try:
                        status = target.client.get(CREDS, headers=bearer(key)).status_code
                    except (httpx.HTTPError, RuntimeError):
                        status = 0  # the process was being stopped: no answer, not a 401
                    answers.append((target.log.stem, status, key[-4:]))
            time.sleep(0.02)

    try:
        a = api("a-old", LSP_API_KEY_PEPPER=OLD)
        live.append(a)
        k1 = new_key(a)
        keys.append(k1["key"])
        assert wait_for(lambda: key_row(pg, k1["id"])[1] == 1), "labelled with version 1"
        assert key_row(pg, k1["id"])[0] == digest(k1["key"], OLD)
        client = threading.Thread(target=traffic)
        client.start()

        # 1. The new pepper as a standby on a new process; the old process keeps serving.
        b = api(
            "b-standby", LSP_API_KEY_PEPPER=OLD, LSP_API_KEY_OTHER_PEPPERS=json.dumps({"2": NEW})
        )
        live.append(b)
        time.sleep(0.5)
        assert key_row(pg, k1["id"])[1] == 1, "a standby pepper re-digests nothing"

        # 2. The new pepper current on a new process; the first process leaves.
        c = api(
            "c-current",
            LSP_API_KEY_PEPPER=NEW,
            LSP_API_KEY_PEPPER_VERSION="2",
            LSP_API_KEY_OTHER_PEPPERS=json.dumps({"1": OLD}),
        )
        live.append(c)
        live.remove(a)
        a.stop()
        assert wait_for(lambda: key_row(pg, k1["id"]) == (digest(k1["key"], NEW), 2)), (
            "re-digested under the new pepper on use"
        )
        k2 = new_key(c)  # made under the new pepper; the standby process must accept it
        keys.append(k2["key"])
        assert wait_for(lambda: key_row(pg, k2["id"]) == (digest(k2["key"], NEW), 2))
        time.sleep(1)

        # 3. Retire the old pepper: no usable key of this merchant uses version 1.
        old_left = pg.execute(
            "select count(*) from public.api_keys where merchant_id = %s and revoked_at is null"
            " and pepper_version is distinct from 2",
            (merchant,),
        ).fetchone()
        assert old_left == (0,)
        d = api("d-retired", LSP_API_KEY_PEPPER=NEW, LSP_API_KEY_PEPPER_VERSION="2")
        live.append(d)
        live.remove(b)
        b.stop()
        time.sleep(1.5)
    finally:
        stop.set()
        for process in started:
            process.stop()

    by_process = {name for name, _, _ in answers}
    assert {"a-old", "b-standby", "c-current", "d-retired"} <= by_process, by_process
    refused = [a for a in answers if a[1] not in (200, 0)]
    assert refused == [], refused[:5]
    assert len(answers) > 100
