"""Merchant API keys and rate limiting over HTTP: lifecycle, authentication with reason
codes, cross-merchant isolation, rotation with a grace window, and a limiter that never
over-admits."""

import concurrent.futures
import threading
import time
import uuid

import psycopg
import pytest

from edge_adapter import apikeys

from .conftest import bearer, hs_token

CREDS = "/api/v1/merchant/credentials"


class Merchant:
    def __init__(self, api, world, pg) -> None:
        self.api = api
        self.pg = pg
        self.owner = world.user("owner")
        self.id = world.merchant(self.owner)
        self.headers = bearer(hs_token(self.owner))

    def add(self, world, role: str) -> dict[str, str]:
        user = world.user(role)
        self.pg.execute(
            "insert into public.merchant_members values (%s, %s, %s)", (self.id, user, role)
        )
        return bearer(hs_token(user))

    def new_key(self, **fields) -> dict:
        response = self.api.client.post(
            CREDS, headers=self.headers, json={"merchant_id": self.id, "name": "server", **fields}
        )
        assert response.status_code == 201, response.text
        return response.json()


@pytest.fixture
def merchant(api, world, pg) -> Merchant:
    return Merchant(api, world, pg)


def get(api, key: str, **params):
    return api.client.get(CREDS, headers=bearer(key), params=params)


def test_a_new_key_is_shown_once_and_stored_only_as_a_digest(api, merchant, pg):
    created = merchant.new_key(mode="live")
    key = created["key"]
    assert key.startswith("lsp_live_") and len(key) == len("lsp_live_") + 30
    assert created["display"] == f"{key[:13]}…{key[-4:]}"
    listed = api.client.get(
        CREDS, headers=merchant.headers, params={"merchant_id": merchant.id}
    ).text
    assert key not in listed and key[13:-4] not in listed
    stored = pg.execute(
        "select key_hash from public.api_keys where id = %s", (created["id"],)
    ).fetchone()[0]
    assert bytes(stored) == apikeys.digest(key, "dev-only-api-key-pepper-change-me-in-production")
    assert key.encode() not in bytes(stored)
    assert pg.execute(
        "select count(*) from audit.log where new_values::text like %s", (f"%{key[9:]}%",)
    ).fetchone() == (0,)


def test_the_key_authenticates_and_acts_only_for_its_merchant(api, merchant, world, pg):
    key = merchant.new_key()["key"]
    ok = get(api, key)
    assert ok.status_code == 200
    assert ok.json()["merchant_id"] == merchant.id
    assert ok.headers["ratelimit-limit"] == "600"
    other = Merchant(api, world, pg)
    assert get(api, key, merchant_id=other.id).status_code == 403
    assert api.client.post(CREDS, headers=bearer(key), json={"name": "more"}).status_code == 403
    assert api.client.get("/api/v1/admin/queues", headers=bearer(key)).status_code == 403


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("lsp_test_short", "malformed_key"),
        ("lsp_prod_" + "a" * 30, "malformed_key"),
    ],
)
def test_malformed_keys_are_refused_before_any_lookup(api, token, reason):
    response = get(api, token)
    assert response.status_code == 401
    assert response.json()["error"]["details"]["reason"] == reason


def test_a_typo_fails_the_checksum_and_an_unknown_key_is_unknown(api, merchant):
    key = merchant.new_key()["key"]
    typo = key[:20] + ("A" if key[20] != "A" else "B") + key[21:]
    assert get(api, typo).json()["error"]["details"]["reason"] == "invalid_checksum"
    stranger = apikeys.generate("test", "whatever").key
    assert get(api, stranger).json()["error"]["details"]["reason"] == "unknown_key"


def test_revoked_expired_and_suspended_keys_get_their_reason(api, merchant, pg, world):
    revoked = merchant.new_key()
    assert (
        api.client.delete(f"{CREDS}/{revoked['id']}", headers=merchant.headers).status_code == 200
    )
    assert get(api, revoked["key"]).json()["error"]["details"]["reason"] == "revoked_key"
    expired = merchant.new_key()
    pg.execute(
        "update public.api_keys set expires_at = now() - interval '1 second' where id = %s",
        (expired["id"],),
    )
    assert get(api, expired["key"]).json()["error"]["details"]["reason"] == "expired_key"
    live = merchant.new_key()
    pg.execute("update public.merchants set status = 'suspended' where id = %s", (merchant.id,))
    assert get(api, live["key"]).json()["error"]["details"]["reason"] == "merchant_inactive"


def test_roles_owners_and_developers_manage_viewers_only_see(api, merchant, world, pg):
    developer = merchant.add(world, "developer")
    viewer = merchant.add(world, "viewer")
    made = api.client.post(
        CREDS, headers=developer, json={"merchant_id": merchant.id, "name": "dev key"}
    )
    assert made.status_code == 201
    assert (
        api.client.post(
            CREDS, headers=viewer, json={"merchant_id": merchant.id, "name": "x"}
        ).status_code
        == 403
    )
    seen = api.client.get(CREDS, headers=viewer, params={"merchant_id": merchant.id})
    assert seen.status_code == 200 and len(seen.json()["data"]) == 1
    assert "key" not in seen.json()["data"][0]
    assert api.client.delete(f"{CREDS}/{made.json()['id']}", headers=viewer).status_code == 403
    outsider = Merchant(api, world, pg)
    assert (
        api.client.get(
            CREDS, headers=outsider.headers, params={"merchant_id": merchant.id}
        ).status_code
        == 403
    )
    assert (
        api.client.delete(f"{CREDS}/{made.json()['id']}", headers=outsider.headers).status_code
        == 404
    )
    assert get(api, made.json()["key"]).status_code == 200  # untouched


def test_regenerate_without_grace_invalidates_the_old_key_at_once(api, merchant, pg):
    old = merchant.new_key()
    rotated = api.client.post(
        f"{CREDS}/regenerate", headers=merchant.headers, json={"key_id": old["id"]}
    )
    assert rotated.status_code == 201
    assert get(api, old["key"]).json()["error"]["details"]["reason"] == "revoked_key"
    assert get(api, rotated.json()["key"]).status_code == 200
    notes = pg.execute(
        "select kind, user_id::text from public.notifications where merchant_id = %s",
        (merchant.id,),
    ).fetchall()
    assert notes == [("api_key.rotated", merchant.owner)]


def test_regenerate_with_a_grace_window_keeps_both_keys_working_until_it_ends(api, merchant):
    old = merchant.new_key()
    rotated = api.client.post(
        f"{CREDS}/regenerate",
        headers=merchant.headers,
        json={"key_id": old["id"], "grace_seconds": 2},
    ).json()
    assert get(api, old["key"]).status_code == 200
    assert get(api, rotated["key"]).status_code == 200
    time.sleep(2.2)
    assert get(api, old["key"]).status_code == 401
    assert get(api, rotated["key"]).status_code == 200
    again = api.client.post(
        f"{CREDS}/regenerate", headers=merchant.headers, json={"key_id": old["id"]}
    )
    assert again.status_code == 422


@pytest.mark.parametrize(
    "payload",
    [
        {"name": ""},
        {"name": "x", "mode": "prod"},
        {"name": "x", "expires_at": "yesterday"},
        {"name": "x", "extra": 1},
    ],
)
def test_bad_key_requests_change_nothing(api, merchant, pg, payload):
    before = pg.execute("select count(*) from public.api_keys").fetchone()
    response = api.client.post(
        CREDS, headers=merchant.headers, json={"merchant_id": merchant.id, **payload}
    )
    assert response.status_code == 400, response.text
    assert pg.execute("select count(*) from public.api_keys").fetchone() == before


@pytest.mark.parametrize(
    "payload",
    [
        {"key_id": "nope"},
        {"key_id": str(uuid.uuid4())},
        {"key_id": str(uuid.uuid4()), "grace_seconds": 90000},
    ],
)
def test_bad_regenerate_requests(api, merchant, payload):
    response = api.client.post(f"{CREDS}/regenerate", headers=merchant.headers, json=payload)
    assert response.status_code in (400, 404)


def test_an_expiry_in_the_past_is_refused(api, merchant):
    response = api.client.post(
        CREDS,
        headers=merchant.headers,
        json={"merchant_id": merchant.id, "name": "x", "expires_at": "2020-01-01T00:00:00Z"},
    )
    assert response.status_code == 400


def test_last_used_is_stamped_in_batches(api, merchant, pg):
    created = merchant.new_key()
    for _ in range(5):
        assert get(api, created["key"]).status_code == 200
    deadline = time.monotonic() + 5
    stamp = None
    while time.monotonic() < deadline and stamp is None:
        stamp = pg.execute(
            "select last_used_at from public.api_keys where id = %s", (created["id"],)
        ).fetchone()[0]
        time.sleep(0.1)
    assert stamp is not None
    updates = pg.execute(
        "select count(*) from audit.log where table_name = 'api_keys'"
        " and action = 'update' and row_id = %s",
        (created["id"],),
    ).fetchone()[0]
    assert updates <= 2  # five requests, one or two batched stamps


# Rate limiting -----------------------------------------------------------------------------
def test_parallel_clients_never_get_more_than_the_limit(api, merchant, world, pg):
    admin = bearer(hs_token(world.admin()))
    assert (
        api.client.put(
            f"/api/v1/admin/merchants/{merchant.id}/rate-limits",
            headers=admin,
            json={"api_key_per_min": 60, "user_per_min": 60},
        ).status_code
        == 200
    )
    created = merchant.new_key()
    key = created["key"]

    def call(_: int) -> tuple[int, dict]:
        response = get(api, key)
        return response.status_code, dict(response.headers)

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        results = list(pool.map(call, range(40)))
    allowed = [r for r in results if r[0] == 200]
    limited = [r for r in results if r[0] == 429]
    # Burst 10, refilling one a second: never more than 10 plus what refilled meanwhile.
    assert 10 <= len(allowed) <= 12, len(allowed)
    assert len(allowed) + len(limited) == 40
    headers = limited[0][1]
    assert int(headers["retry-after"]) >= 1
    assert headers["ratelimit-limit"] == "60" and headers["ratelimit-remaining"] == "0"

    def breaches() -> int:
        return pg.execute(
            "select coalesce(sum(breaches), 0) from private.rate_limit_breaches where bucket = %s",
            (f"key:{created['id']}",),
        ).fetchone()[0]

    # Every refusal is counted for alerting (in batches, so wait for the flush).
    deadline = time.monotonic() + 5
    while breaches() < len(limited) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert breaches() == len(limited)


def test_a_key_seen_before_is_judged_again_on_every_request(api, merchant, world, pg):
    """After its first request a key is admitted inside its call's own round trip: status and
    limit must hold exactly as before, for failing calls and bad input too."""
    admin = bearer(hs_token(world.admin()))
    api.client.put(
        f"/api/v1/admin/merchants/{merchant.id}/rate-limits",
        headers=admin,
        json={"api_key_per_min": 60, "user_per_min": 60},
    ).raise_for_status()
    created = merchant.new_key()
    key = created["key"]
    assert get(api, key, merchant_id=merchant.id).status_code == 200  # first sighting
    ok = get(api, key, merchant_id=merchant.id)
    assert ok.status_code == 200 and ok.headers["ratelimit-limit"] == "60"
    assert ok.headers["ratelimit-remaining"] == "8"  # a burst of 10, two spent
    # Calls the database refuses still spend tokens (burst 10: two spent above).
    other = Merchant(api, world, pg)
    statuses = [get(api, key, merchant_id=other.id).status_code for _ in range(12)]
    assert statuses.count(403) in (8, 9) and statuses[-1] == 429, statuses
    # Over the limit, bad input is still a 429 first (and nothing else happens).
    limited = get(api, key, merchant_id="not-a-uuid")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    # Revoked: the very next request is refused, bad input or not.
    pg.execute("update public.api_keys set revoked_at = now() where id = %s", (created["id"],))
    for params in ({"merchant_id": merchant.id}, {"merchant_id": "not-a-uuid"}):
        refused = get(api, key, **params)
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]["details"]["reason"] == "revoked_key"


def test_the_limiter_is_exact_under_concurrency_in_the_database(super_url):
    bucket = f"test:{uuid.uuid4()}"

    def take(_: int) -> bool:
        with psycopg.connect(super_url, autocommit=True) as conn:
            return conn.execute(
                "select allowed from private.rate_limit_take(%s, 6, 5)", (bucket,)
            ).fetchone()[0]

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        results = list(pool.map(take, range(50)))
    assert results.count(True) == 5  # burst 5; the next token is 10 s away


GATE = "select private.api_key_gate(%s, 0.1, true)"


def gate_outcome(url: str, digest: bytes) -> str:
    """One gate in its own transaction: 'admitted' or the refusal's SQLSTATE and detail."""
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute(GATE, (digest,))
            return "admitted"
        except psycopg.Error as exc:
            return f"{exc.sqlstate} {exc.diag.message_detail}"


def key_row(world, pg, per_min: int) -> tuple[str, bytes]:
    """A key written straight to the table (digest of a random secret) and its merchant's
    limit: the gate's own tests need no API."""
    merchant = world.merchant()
    digest = uuid.uuid4().bytes * 2
    pg.execute(
        "insert into public.merchant_rate_limits (merchant_id, api_key_per_min) values (%s, %s)",
        (merchant, per_min),
    )
    pg.execute(
        "insert into public.api_keys (merchant_id, name, mode, prefix, last4, key_hash)"
        " values (%s, 'gate', 'test', 'lsp_test_GATE', 'gate', %s)",
        (merchant, digest),
    )
    return merchant, digest


def parallel_gates(conns: list[psycopg.Connection], digest: bytes, each: int) -> list[str]:
    """`each` gates per connection, all connections released at once: 'admitted' or the
    refusal's SQLSTATE and message."""
    start = threading.Barrier(len(conns))

    def gates(conn: psycopg.Connection) -> list[str]:
        start.wait()
        outcomes = []
        for _ in range(each):
            try:
                conn.execute(GATE, (digest,))
                outcomes.append("admitted")
            except psycopg.Error as exc:
                outcomes.append(f"{exc.sqlstate} {exc.diag.message_primary}")
        return outcomes

    with concurrent.futures.ThreadPoolExecutor(len(conns)) as pool:
        return [o for got in pool.map(gates, conns) for o in got]


@pytest.fixture
def ten_connections(super_url):
    conns = [psycopg.connect(super_url, autocommit=True) for _ in range(10)]
    yield conns
    for conn in conns:
        conn.close()


def test_the_gate_is_exact_under_concurrency_from_a_cold_start(world, pg, ten_connections):
    """Parallel gates for a key nobody has used: several build its admission row at once,
    and still exactly the burst is admitted and the rest refused."""
    for _ in range(3):
        _, digest = key_row(world, pg, per_min=6)  # burst 10, the next token 10 s away
        outcomes = parallel_gates(ten_connections, digest, each=3)
        assert outcomes.count("admitted") == 10, outcomes
        assert outcomes.count("PT429 too many requests") == 20, outcomes


def test_a_cold_key_under_parallel_first_requests_is_only_admitted(world, pg, ten_connections):
    """With room to spare, racing first requests are all admitted: none is refused because
    the row appeared between its step and its second look, none fails on the row's
    concurrent creation (both seen with wrk against a fresh key)."""
    for _ in range(20):
        _, digest = key_row(world, pg, per_min=1_000_000)
        outcomes = parallel_gates(ten_connections, digest, each=5)
        assert outcomes == ["admitted"] * 50, [o for o in outcomes if o != "admitted"]


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_a_revocation_racing_a_gate_applies_from_its_commit(super_url, world, pg, warm):
    """A revocation in flight makes a concurrent gate wait for its commit, then refuse; a gate
    in flight makes the revocation wait, and the row it built is then marked stale."""
    _, digest = key_row(world, pg, per_min=600)
    if warm:
        assert gate_outcome(super_url, digest) == "admitted"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        # The revocation first, open: the gate waits for it.
        with psycopg.connect(super_url) as admin:
            admin.execute(
                "update public.api_keys set revoked_at = now() where key_hash = %s", (digest,)
            )
            waiting = pool.submit(gate_outcome, super_url, digest)
            time.sleep(0.3)
            assert not waiting.done()
            admin.commit()
        assert waiting.result(timeout=10) == "PT401 revoked"

    _, digest = key_row(world, pg, per_min=600)
    if warm:
        assert gate_outcome(super_url, digest) == "admitted"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        # A rebuild first, open: the revocation waits for it, then marks its row stale.
        with psycopg.connect(super_url) as gate:
            if warm:  # a stale row (another burst fraction) makes the gate rebuild it
                gate.execute("select private.api_key_gate(%s, 0.2, true)", (digest,))
            else:
                gate.execute(GATE, (digest,))
            revoking = pool.submit(
                pg.execute,
                "update public.api_keys set revoked_at = now() where key_hash = %s",
                (digest,),
            )
            time.sleep(0.3)
            assert not revoking.done()
            gate.commit()
        revoking.result(timeout=10)
    assert gate_outcome(super_url, digest) == "PT401 revoked"


def test_dashboard_users_are_limited_per_user(api, merchant, world):
    admin = bearer(hs_token(world.admin()))
    api.client.put(
        f"/api/v1/admin/merchants/{merchant.id}/rate-limits",
        headers=admin,
        json={"api_key_per_min": 600, "user_per_min": 30},
    )
    codes = [api.client.get("/api/v1/me", headers=merchant.headers).status_code for _ in range(15)]
    assert codes.count(200) in (10, 11) and 429 in codes


def test_rate_limit_settings_are_admin_only_and_validated(api, merchant, world):
    path = f"/api/v1/admin/merchants/{merchant.id}/rate-limits"
    body = {"api_key_per_min": 10, "user_per_min": 10}
    assert api.client.put(path, headers=merchant.headers, json=body).status_code == 403
    assert api.client.put(path, json=body).status_code == 401
    admin = bearer(hs_token(world.admin()))
    assert api.client.put(path, headers=admin, json={**body, "user_per_min": 0}).status_code == 400
    missing = f"/api/v1/admin/merchants/{uuid.uuid4()}/rate-limits"
    assert api.client.put(missing, headers=admin, json=body).status_code == 404


def test_a_member_of_one_merchant_needs_no_merchant_id(api, merchant, world, pg):
    listed = api.client.get(CREDS, headers=merchant.headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["merchant_id"] == merchant.id
    created = api.client.post(CREDS, headers=merchant.headers, json={"name": "no id"})
    assert created.status_code == 201, created.text
    # A member of a second merchant must say which one, and is told the choices.
    other = Merchant(api, world, pg)
    pg.execute(
        "insert into public.merchant_members values (%s, %s, 'viewer')", (other.id, merchant.owner)
    )
    ambiguous = api.client.get(CREDS, headers=merchant.headers)
    assert ambiguous.status_code == 400
    assert merchant.id in ambiguous.json()["error"]["message"]
    assert other.id in ambiguous.json()["error"]["message"]
    chosen = api.client.get(CREDS, headers=merchant.headers, params={"merchant_id": other.id})
    assert chosen.status_code == 200 and chosen.json()["merchant_id"] == other.id


def test_a_retried_create_or_regenerate_returns_the_same_key(api, merchant, pg):
    """Idempotency-Key on key routes: a replay within 24 h answers with the first key (kept
    encrypted in Vault meanwhile, never in the replay row), other parameters are a 422."""
    idem = {**merchant.headers, "idempotency-key": f"create-{uuid.uuid4()}"}
    body = {"merchant_id": merchant.id, "name": "retried"}
    first = api.client.post(CREDS, headers=idem, json=body)
    again = api.client.post(CREDS, headers=idem, json=body)
    assert first.status_code == again.status_code == 201, again.text
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json() and again.json()["key"].startswith("lsp_test_")
    assert get(api, again.json()["key"]).status_code == 200
    count = pg.execute(
        "select count(*) from public.api_keys where merchant_id = %s and name = 'retried'",
        (merchant.id,),
    ).fetchone()[0]
    assert count == 1
    row = pg.execute(
        "select response::text, secret_id from private.idempotency_keys where key = %s",
        (idem["idempotency-key"],),
    ).fetchone()
    assert first.json()["key"] not in row[0] and row[1] is not None
    other = api.client.post(CREDS, headers=idem, json={**body, "name": "another"})
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"

    regen = {**merchant.headers, "idempotency-key": f"regen-{uuid.uuid4()}"}
    rotated = api.client.post(
        f"{CREDS}/regenerate", headers=regen, json={"key_id": first.json()["id"]}
    )
    retried = api.client.post(
        f"{CREDS}/regenerate", headers=regen, json={"key_id": first.json()["id"]}
    )
    assert rotated.status_code == retried.status_code == 201, retried.text
    assert retried.json()["key"] == rotated.json()["key"]
    assert get(api, retried.json()["key"]).status_code == 200

    # Past the replay window the row and its Vault secret go together.
    pg.execute(
        "update private.idempotency_keys set created_at = now() - interval '25 hours'"
        " where key in (%s, %s)",
        (idem["idempotency-key"], regen["idempotency-key"]),
    )
    secrets = [
        r[0]
        for r in pg.execute(
            "select secret_id from private.idempotency_keys where key in (%s, %s)",
            (idem["idempotency-key"], regen["idempotency-key"]),
        ).fetchall()
    ]
    assert pg.execute("select private.idempotency_retention()").fetchone()[0] >= 2
    left = pg.execute(
        "select count(*) from vault.secrets where id = any(%s)", (secrets,)
    ).fetchone()[0]
    assert left == 0


def test_a_suspended_merchant_gets_no_new_keys(api, merchant, pg):
    existing = merchant.new_key()
    pg.execute("update public.merchants set status = 'suspended' where id = %s", (merchant.id,))
    before = pg.execute("select count(*) from public.api_keys").fetchone()
    created = api.client.post(
        CREDS, headers=merchant.headers, json={"merchant_id": merchant.id, "name": "x"}
    )
    assert created.status_code == 422, created.text
    assert "suspended" in created.json()["error"]["message"]
    rotated = api.client.post(
        f"{CREDS}/regenerate", headers=merchant.headers, json={"key_id": existing["id"]}
    )
    assert rotated.status_code == 422, rotated.text
    assert pg.execute("select count(*) from public.api_keys").fetchone() == before


def test_keys_page_with_a_cursor(api, merchant):
    made = [merchant.new_key(name=f"k{n}")["id"] for n in range(3)]
    page1 = api.client.get(CREDS, headers=merchant.headers, params={"limit": 2}).json()
    page2 = api.client.get(
        CREDS, headers=merchant.headers, params={"limit": 2, "cursor": page1["next_cursor"]}
    ).json()
    assert [k["id"] for k in page1["data"] + page2["data"]] == made[::-1]
    assert page2["next_cursor"] is None
    assert api.client.get(CREDS, headers=merchant.headers, params={"limit": 0}).status_code == 400


def test_me_with_an_api_key_names_the_key_and_its_merchant(api, merchant):
    key = merchant.new_key(name="server")
    me = api.client.get("/api/v1/me", headers=bearer(key["key"]))
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["caller"] == "api_key" and body["user_id"] is None
    assert body["api_key"]["id"] == key["id"] and body["api_key"]["display"] == key["display"]
    assert body["merchant"]["id"] == merchant.id and body["merchant"]["status"] == "active"
    user = api.client.get("/api/v1/me", headers=merchant.headers).json()
    assert user["caller"] == "user" and user["api_key"] is None and user["merchant"] is None
