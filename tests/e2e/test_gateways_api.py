"""Gateway management over HTTP: CRUD with Vault-held credentials, connectivity tests,
priority, health, routing, and a canary proving credentials never leak."""

import concurrent.futures
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from edge_adapter.fake_providers import FAKE_CREDENTIALS
from tests.conftest import insert_attempt

from .conftest import bearer, hs_token

BASE = "/api/v1/admin/gateways"


def currency(pg: psycopg.Connection) -> str:
    """An ISO 4217 currency no gateway takes yet, so routing sees only this test's gateways
    (never JPY, which a test uses as the currency nobody takes)."""
    row = pg.execute(
        "select c.code from public.currencies as c where c.code not in ('INR', 'JPY')"
        " and not exists (select 1 from public.gateways as g where c.code = any(g.currencies))"
        " order by random() limit 1"
    ).fetchone()
    assert row, "every currency is taken"
    return row[0]


def body(provider: str = "razorpay", **fields) -> dict:
    data = {
        "provider": provider,
        "display_name": f"{provider} {uuid.uuid4().hex[:6]}",
        "credentials": dict(FAKE_CREDENTIALS[provider]),
        "status": "active",
        "currencies": ["INR"],
    }
    data.update(fields)
    return data


@pytest.fixture
def admin(world) -> dict[str, str]:
    return bearer(hs_token(world.admin()))


@pytest.fixture
def merchant(world) -> dict[str, str]:
    owner = world.user("owner")
    world.merchant(owner)
    return bearer(hs_token(owner))


def create(api, admin, **fields) -> dict:
    response = api.client.post(BASE, json=body(**fields), headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def gateway_row(pg: psycopg.Connection, gateway_id: str) -> tuple:
    return pg.execute(
        "select status, display_name, priority, credentials_secret_id, daily_limit"
        " from public.gateways where id = %s",
        (gateway_id,),
    ).fetchone()


# Refusals --------------------------------------------------------------------------------------
ROUTES = [
    ("GET", BASE, None),
    ("GET", f"{BASE}/catalog", None),
    ("GET", f"{BASE}/health", None),
    ("POST", BASE, body()),
    ("PUT", f"{BASE}/{uuid.uuid4()}", {"display_name": "x"}),
    ("DELETE", f"{BASE}/{uuid.uuid4()}", None),
    ("POST", f"{BASE}/{uuid.uuid4()}/test", None),
    ("PUT", f"{BASE}/priority", {"gateway_ids": [str(uuid.uuid4())]}),
    (
        "POST",
        f"{BASE}/route",
        {"merchant_id": str(uuid.uuid4()), "amount": 100, "currency": "INR", "method": "upi"},
    ),
]


@pytest.mark.parametrize(("method", "path", "payload"), ROUTES)
def test_merchants_get_403_and_anon_401_with_no_outbound_call(
    api, merchant, pg, fake_providers, method, path, payload
):
    before = pg.execute("select count(*) from public.gateways").fetchone()
    response = api.client.request(method, path, json=payload, headers=merchant)
    assert response.status_code == 403, response.text
    assert api.client.request(method, path, json=payload).status_code == 401
    assert pg.execute("select count(*) from public.gateways").fetchone() == before
    assert fake_providers.calls() == {}


def test_a_merchant_cannot_trigger_a_connectivity_test(api, admin, merchant, fake_providers):
    gw = create(api, admin)
    fake_providers.reset()
    assert api.client.post(f"{BASE}/{gw['id']}/test", headers=merchant).status_code == 403
    assert fake_providers.calls() == {}


# Catalogue and create ----------------------------------------------------------------------------
def test_catalogue_describes_every_provider(api, admin):
    catalog = api.client.get(f"{BASE}/catalog", headers=admin).json()["data"]
    providers = {p["provider"]: p for p in catalog}
    assert set(providers) == {
        "sandbox",
        "razorpay",
        "cashfree",
        "payu",
        "phonepe",
        "paytm",
        "stripe",
    }
    razorpay = {f["name"]: f for f in providers["razorpay"]["credential_fields"]}
    assert razorpay["key_secret"]["secret"] is True and razorpay["key_id"]["secret"] is False
    assert providers["cashfree"]["base_urls"]["live"] == "https://api.cashfree.com"


@pytest.mark.parametrize(
    "payload",
    [
        {**body(), "provider": "paypal"},
        {k: v for k, v in body().items() if k != "display_name"},
        body(credentials={"key_id": "rzp_test_x"}),
        body(credentials={**FAKE_CREDENTIALS["razorpay"], "password": "x"}),
        body(currencies=["rupees"]),
        body(currencies=[]),
        body(methods=["cash"]),
        body(min_amount=500, max_amount=100),
        body(min_amount=-5),
        body(daily_limit=0),
        body(config={"api_secret": "nope"}),
        body(status="archived"),
        body(regions=["india"]),
        body(priority=-1),
    ],
)
def test_invalid_gateways_are_refused_and_nothing_is_saved(api, admin, pg, payload):
    before = pg.execute("select count(*) from public.gateways").fetchone()
    secrets_before = pg.execute("select count(*) from vault.secrets").fetchone()
    response = api.client.post(BASE, json=payload, headers=admin)
    assert response.status_code == 400, response.text
    assert pg.execute("select count(*) from public.gateways").fetchone() == before
    assert pg.execute("select count(*) from vault.secrets").fetchone() == secrets_before


def test_create_with_test_refuses_to_save_when_the_check_fails(api, admin, pg, fake_providers):
    bad = body(
        "cashfree",
        test=True,
        credentials={**FAKE_CREDENTIALS["cashfree"], "client_secret": "wrong"},
    )
    response = api.client.post(BASE, json=bad, headers=admin)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["test"]["error_class"] == "auth_failed"
    assert pg.execute(
        "select count(*) from public.gateways where display_name = %s", (bad["display_name"],)
    ).fetchone() == (0,)
    fake_providers.mode("cashfree", "error")
    down = api.client.post(BASE, json=body("cashfree", test=True), headers=admin)
    assert down.status_code == 422
    assert down.json()["error"]["details"]["test"]["error_class"] == "unexpected_response"


def test_create_with_a_passing_test_saves_and_masks(api, admin, pg, fake_providers):
    gw = create(api, admin, provider="stripe", test=True)
    assert gw["last_test"]["ok"] is True
    # Stored as every check result is: with when it ran.
    assert datetime.fromisoformat(gw["last_test"]["at"]) > datetime.now(UTC) - timedelta(minutes=5)
    assert gw["credentials"] == {"secret_key": "sk****et", "webhook_secret": "wh****01"}
    secret_id = gateway_row(pg, gw["id"])[3]
    stored = pg.execute(
        "select decrypted_secret from vault.decrypted_secrets where id = %s", (secret_id,)
    ).fetchone()[0]
    assert "sk_test_fake_stripe_secret" in stored
    assert (
        "sk_test_fake_stripe_secret"
        not in pg.execute(
            "select secret from vault.secrets where id = %s", (secret_id,)
        ).fetchone()[0]
    )


def test_short_secrets_are_fully_masked_and_nested_values_too(api, admin):
    gw = create(
        api,
        admin,
        provider="phonepe",
        credentials={"client_id": "FAKE_CLIENT", "client_version": "1", "client_secret": "tiny"},
    )
    assert gw["credentials"] == {
        "client_id": "FAKE_CLIENT",
        "client_version": "1",
        "client_secret": "********",
    }


def test_create_is_idempotent(api, admin, pg):
    payload = body()
    headers = {**admin, "Idempotency-Key": str(uuid.uuid4())}
    first = api.client.post(BASE, json=payload, headers=headers).json()
    second = api.client.post(BASE, json=payload, headers=headers).json()
    assert first["id"] == second["id"]
    assert pg.execute(
        "select count(*) from public.gateways where display_name = %s", (payload["display_name"],)
    ).fetchone() == (1,)


# Update, rotate, archive -------------------------------------------------------------------------
def test_partial_update_never_silently_re_enables(api, admin, pg):
    gw = create(api, admin, status="inactive", daily_limit=5000)
    response = api.client.put(f"{BASE}/{gw['id']}", json={"display_name": "Renamed"}, headers=admin)
    assert response.status_code == 200
    status, name, _, _, limit = gateway_row(pg, gw["id"])
    assert (status, name, limit) == ("inactive", "Renamed", 5000)
    cleared = api.client.put(f"{BASE}/{gw['id']}", json={"daily_limit": None}, headers=admin)
    assert cleared.json()["daily_limit"] is None


def test_credential_rotation_replaces_the_vault_secret_after_a_24_hour_overlap(api, admin, pg):
    gw = create(api, admin)
    old_secret = gateway_row(pg, gw["id"])[3]
    rotated = api.client.put(
        f"{BASE}/{gw['id']}",
        headers=admin,
        json={
            "credentials": {"key_id": "rzp_test_rotated01", "key_secret": "rotated_secret_value"}
        },
    )
    assert rotated.status_code == 200
    assert rotated.json()["credentials"]["key_secret"] == "ro****ue"
    assert rotated.json()["credentials_rotated_at"] is not None
    new_secret = gateway_row(pg, gw["id"])[3]
    assert new_secret != old_secret
    # The old secret still verifies inbound webhooks for 24 h, then it is destroyed.
    until = pg.execute(
        "select valid_until - now() from private.gateway_previous_credentials where secret_id = %s",
        (old_secret,),
    ).fetchone()[0]
    assert 23 * 3600 < until.total_seconds() <= 24 * 3600
    pg.execute(
        "update private.gateway_previous_credentials set valid_until = now() - interval '1 s'"
        " where secret_id = %s",
        (old_secret,),
    )
    pg.execute("select private.expire_previous_credentials()")
    assert pg.execute(
        "select count(*) from vault.secrets where id = %s", (old_secret,)
    ).fetchone() == (0,)
    assert pg.execute(
        "select count(*) from vault.secrets where id = %s", (new_secret,)
    ).fetchone() == (1,)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"provider": "stripe"},
        {"status": "archived"},
        {"credentials": {"key_id": "only"}},
        {"bogus": 1},
    ],
)
def test_bad_updates_change_nothing(api, admin, pg, changes):
    gw = create(api, admin)
    before = gateway_row(pg, gw["id"])
    response = api.client.put(f"{BASE}/{gw['id']}", json=changes, headers=admin)
    assert response.status_code == 400, response.text
    assert gateway_row(pg, gw["id"]) == before


def test_archive_refuses_in_flight_work_unless_forced_and_keeps_history(api, admin, pg, world):
    gw = create(api, admin)
    merchant_id = world.merchant()
    world.attempt(merchant_id, gw["id"], 1000, status="pending")
    world.attempt(merchant_id, gw["id"], 2000, status="created")
    secret = gateway_row(pg, gw["id"])[3]
    refused = api.client.delete(f"{BASE}/{gw['id']}", headers=admin)
    assert refused.status_code == 422
    assert gateway_row(pg, gw["id"])[0] == "active"
    forced = api.client.delete(f"{BASE}/{gw['id']}", params={"force": True}, headers=admin)
    assert forced.status_code == 200
    assert forced.json()["status"] == "archived"
    # Kept while the two attempts are open (their webhooks and checks need them)...
    assert forced.json()["credentials_kept_until_settled"] is True
    assert gateway_row(pg, gw["id"])[3] == secret
    assert pg.execute("select private.purge_archived_credentials()").fetchone() == (0,)
    # ...and destroyed once they settle.
    pg.execute(
        "update public.payment_attempts set status = 'failed' where gateway_id = %s", (gw["id"],)
    )
    assert pg.execute("select private.purge_archived_credentials()").fetchone() == (1,)
    assert gateway_row(pg, gw["id"])[3] is None
    assert pg.execute("select count(*) from vault.secrets where id = %s", (secret,)).fetchone() == (
        0,
    )
    assert pg.execute(
        "select count(*) from public.payment_attempts where gateway_id = %s", (gw["id"],)
    ).fetchone() == (2,)
    listed = api.client.get(BASE, headers=admin).json()["data"]
    assert gw["id"] not in {g["id"] for g in listed}
    with_archived = api.client.get(BASE, params={"include_archived": True}, headers=admin).json()
    assert gw["id"] in {g["id"] for g in with_archived["data"]}
    assert api.client.post(f"{BASE}/{gw['id']}/test", headers=admin).status_code == 422
    assert (
        api.client.put(f"{BASE}/{gw['id']}", json={"display_name": "x"}, headers=admin).status_code
        == 422
    )


# Connectivity tests ---------------------------------------------------------------------
def test_the_test_endpoint_checks_and_records_without_echoing_credentials(
    api, admin, pg, fake_providers
):
    gw = create(api, admin, provider="paytm")
    ok = api.client.post(f"{BASE}/{gw['id']}/test", headers=admin)
    assert ok.status_code == 200 and ok.json()["ok"] is True
    fake_providers.mode("paytm", "hang")
    slow = api.client.post(f"{BASE}/{gw['id']}/test", headers=admin).json()
    assert (slow["ok"], slow["error_class"]) == (False, "timeout")
    listed = next(
        g for g in api.client.get(BASE, headers=admin).json()["data"] if g["id"] == gw["id"]
    )
    assert listed["last_test"]["error_class"] == "timeout"
    assert FAKE_CREDENTIALS["paytm"]["merchant_key"] not in ok.text + str(slow)
    probes = pg.execute(
        "select source, ok from public.gateway_probes where gateway_id = %s order by id",
        (gw["id"],),
    ).fetchall()
    assert probes == [("manual", True), ("manual", False)]


# Priority --------------------------------------------------------------------------------------
def current_order(api, admin) -> list[str]:
    return [g["id"] for g in api.client.get(BASE, headers=admin).json()["data"]]


def test_priority_reorders_atomically_with_one_audit_entry(api, admin, pg):
    create(api, admin)
    create(api, admin)
    order = current_order(api, admin)
    before = pg.execute("select count(*) from audit.log").fetchone()[0]
    response = api.client.put(f"{BASE}/priority", json={"gateway_ids": order[::-1]}, headers=admin)
    assert response.status_code == 200, response.text
    assert current_order(api, admin) == order[::-1]
    assert pg.execute("select count(*) from audit.log").fetchone()[0] == before + 1
    assert pg.execute(
        "select count(*) from audit.log where action = 'gateway.reorder'"
        " and id > (select max(id) - 1 from audit.log)"
    ).fetchone() == (1,)


def test_bad_priority_lists_are_refused_and_nothing_changes(api, admin, pg):
    create(api, admin)
    archived = create(api, admin)
    api.client.delete(f"{BASE}/{archived['id']}", headers=admin)
    order = current_order(api, admin)
    for ids in (
        order[:-1],
        [*order, str(uuid.uuid4())],
        [*order, order[0]],
        [*order, archived["id"]],
    ):
        response = api.client.put(f"{BASE}/priority", json={"gateway_ids": ids}, headers=admin)
        assert response.status_code == 400, ids
    assert current_order(api, admin) == order


def test_concurrent_reorders_leave_one_of_the_orders_whole(api, admin):
    create(api, admin)
    create(api, admin)
    order = current_order(api, admin)
    orders = [order, order[::-1], order[1:] + order[:1]]

    def put(ids):
        return api.client.put(
            f"{BASE}/priority", json={"gateway_ids": ids}, headers=admin
        ).status_code

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(put, orders * 4))
    assert set(codes) == {200}
    assert current_order(api, admin) in orders


# Routing and daily limits ---------------------------------------------------------------------
def route(api, admin, merchant_id, amount, cur, method="upi", region="IN"):
    response = api.client.post(
        f"{BASE}/route",
        headers=admin,
        json={
            "merchant_id": merchant_id,
            "amount": amount,
            "currency": cur,
            "method": method,
            "region": region,
        },
    )
    assert response.status_code == 200, response.text
    return [c["gateway_id"] for c in response.json()["candidates"]]


def test_routing_applies_every_rule(api, admin, pg, world):
    cur = currency(pg)
    m = world.merchant()
    best = create(api, admin, currencies=[cur], methods=["upi", "card"], regions=["IN"])
    card_only = create(api, admin, currencies=[cur], methods=["card"])
    small = create(api, admin, currencies=[cur], max_amount=500)
    big_only = create(api, admin, currencies=[cur], min_amount=10000)
    other_region = create(api, admin, currencies=[cur], regions=["SG"])
    inactive = create(api, admin, currencies=[cur], status="inactive")
    limited = create(api, admin, currencies=[cur], daily_limit=1500)
    down = create(api, admin, currencies=[cur])
    pg.execute("update public.gateways set health_state = 'down' where id = %s", (down["id"],))

    upi_1000 = route(api, admin, m, 1000, cur)
    assert set(upi_1000) == {best["id"], limited["id"]}
    assert card_only["id"] in route(api, admin, m, 1000, cur, method="card")
    assert small["id"] in route(api, admin, m, 400, cur)
    assert big_only["id"] in route(api, admin, m, 20000, cur)
    assert other_region["id"] in route(api, admin, m, 1000, cur, region="SG")
    assert best["id"] in route(api, admin, m, 1000, cur, region="IN-KA")
    assert inactive["id"] not in route(api, admin, m, 1000, cur) + route(api, admin, m, 400, cur)
    assert route(api, admin, m, 1000, "JPY") == [] or best["id"] not in route(
        api, admin, m, 1000, "JPY"
    )

    # Daily limit: 1000 reserved leaves room for 500, not 501.
    world.attempt(m, limited["id"], 1000, cur)
    assert limited["id"] in route(api, admin, m, 500, cur)
    assert limited["id"] not in route(api, admin, m, 501, cur)


def test_priority_orders_candidates_and_success_rate_breaks_ties(api, admin, pg, world):
    cur = currency(pg)
    m = world.merchant()
    a = create(api, admin, currencies=[cur])
    b = create(api, admin, currencies=[cur])
    pg.execute("update public.gateways set priority = 5 where id in (%s, %s)", (a["id"], b["id"]))
    for gw, outcomes in ((a, ["failed"] * 3 + ["succeeded"]), (b, ["succeeded"] * 4)):
        for outcome in outcomes:
            world.attempt(m, gw["id"], 100, cur, outcome, 120)
    assert route(api, admin, m, 100, cur)[:2] == [b["id"], a["id"]]
    pg.execute("update public.gateways set priority = 4 where id = %s", (a["id"],))
    assert route(api, admin, m, 100, cur)[:2] == [a["id"], b["id"]]
    listed = {g["id"]: g for g in api.client.get(BASE, headers=admin).json()["data"]}
    assert listed[a["id"]]["success_rate"]["1h"] == 0.25
    assert listed[b["id"]]["transactions"]["24h"] == {"succeeded": 4, "failed": 0}
    assert listed[b["id"]]["latency_ms"] == {"p50": 200, "p95": 200}


def test_concurrent_payments_cannot_jointly_overshoot_a_daily_limit(
    api, admin, pg, world, super_url
):
    cur = currency(pg)
    m = world.merchant()
    gw = create(api, admin, currencies=[cur], daily_limit=10_000)

    def pay(_: int) -> bool:
        with psycopg.connect(super_url, autocommit=True) as conn:
            try:
                insert_attempt(conn, m, gw["id"], 1000, cur)
                return True
            except psycopg.errors.RaiseException:
                return False

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(pay, range(30)))
    assert results.count(True) == 10
    listed = next(
        g for g in api.client.get(BASE, headers=admin).json()["data"] if g["id"] == gw["id"]
    )
    assert listed["today"]["volume"] == 10_000 and listed["today"]["remaining"] == 0


def test_a_failed_payment_releases_its_reservation(api, admin, pg, world):
    cur = currency(pg)
    m = world.merchant()
    gw = create(api, admin, currencies=[cur], daily_limit=1000)
    tx = world.attempt(m, gw["id"], 1000, cur)
    assert route(api, admin, m, 100, cur) == []
    pg.execute("update public.payment_attempts set status = 'failed' where id = %s", (tx,))
    assert route(api, admin, m, 100, cur) == [gw["id"]]


@pytest.mark.parametrize(
    "payload",
    [
        {"merchant_id": "nope", "amount": 100, "currency": "INR", "method": "upi"},
        {"merchant_id": str(uuid.uuid4()), "amount": 0, "currency": "INR", "method": "upi"},
        {"merchant_id": str(uuid.uuid4()), "amount": 10, "currency": "inr", "method": "upi"},
        {"merchant_id": str(uuid.uuid4()), "amount": 10, "currency": "INR", "method": "cash"},
    ],
)
def test_routing_rejects_bad_input(api, admin, payload):
    assert api.client.post(f"{BASE}/route", json=payload, headers=admin).status_code == 400


# Canary ------------------------------------------------------------------------------------------
def test_planted_credentials_appear_in_no_response_log_audit_row_or_error(api, admin, pg, world):
    canary = f"canary-{uuid.uuid4().hex}"
    creds = {
        "key_id": f"rzp_test_{canary}",
        "key_secret": f"secret-{canary}",
        "webhook_secret": f"whsec-{canary}",
    }
    seen: list[str] = []
    created = api.client.post(BASE, json=body(credentials=creds), headers=admin)
    seen.append(created.text)
    gid = created.json()["id"]
    for response in (
        api.client.get(BASE, headers=admin),
        api.client.get(f"{BASE}/health", headers=admin),
        api.client.post(f"{BASE}/{gid}/test", headers=admin),
        api.client.put(
            f"{BASE}/{gid}", json={"credentials": {**creds, "bogus": canary}}, headers=admin
        ),
        api.client.put(f"{BASE}/{gid}", json={"credentials": {"key_id": canary}}, headers=admin),
        api.client.post(BASE, json=body(credentials={**creds, "extra": canary}), headers=admin),
        api.client.post(
            BASE, json={**body(credentials=creds), "currencies": canary}, headers=admin
        ),
        api.client.put(
            f"{BASE}/{gid}",
            json={"credentials": {"key_id": "rzp_test_new", "key_secret": f"rotated-{canary}"}},
            headers=admin,
        ),
        api.client.delete(f"{BASE}/{gid}", headers=admin),
        api.client.get(BASE, params={"include_archived": True}, headers=admin),
    ):
        seen.append(response.text)
    secret_parts = [f"secret-{canary}", f"whsec-{canary}", f"rotated-{canary}"]
    for text in seen:
        for part in secret_parts:
            assert part not in text
    assert not pg.execute(
        "select count(*) from audit.log where old_values::text like %s or new_values::text like %s",
        (f"%{canary}%secret%", f"%secret-{canary}%"),
    ).fetchone()[0]
    for part in secret_parts:
        assert pg.execute(
            "select count(*) from audit.log where coalesce(old_values::text, '')"
            " || coalesce(new_values::text, '') like %s",
            (f"%{part}%",),
        ).fetchone() == (0,)
        assert part not in api.logs()
