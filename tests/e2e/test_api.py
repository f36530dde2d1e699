"""The REST surface end to end: authentication, authorization decided by Postgres, input
validation, error shape, request ids, audit trail, OpenAPI, and no secrets in logs."""

import time
import uuid

import jwt
import pytest

from .conftest import JWKS_KID, bearer, hs_token, new_request_id

ADMIN_ROUTES = [
    ("GET", "/api/v1/admin/audit-logs", None),
    ("POST", "/api/v1/admin/merchants", {"name": "Nope Ltd"}),
    ("POST", "/api/v1/admin/platform-admins", {"user_id": str(uuid.uuid4())}),
]


def test_healthz_and_openapi(api):
    assert api.client.get("/healthz").json() == {"status": "ok"}
    spec = api.client.get("/openapi.json").json()
    assert "/api/v1/admin/audit-logs" in spec["paths"]
    params = {p["name"] for p in spec["paths"]["/api/v1/admin/audit-logs"]["get"]["parameters"]}
    assert {"actor", "table", "action", "row_id", "from", "to", "cursor", "limit"} <= params


@pytest.mark.parametrize(
    ("make_header", "reason"),
    [
        (lambda: {}, "missing_token"),
        (lambda: {"Authorization": "Token abc"}, "malformed_token"),
        (lambda: bearer("not.a.jwt"), "malformed_token"),
        (lambda: bearer(hs_token(str(uuid.uuid4()), exp=int(time.time()) - 5)), "token_expired"),
        (
            lambda: bearer(hs_token(str(uuid.uuid4()), nbf=int(time.time()) + 600)),
            "token_not_yet_valid",
        ),
        (lambda: bearer(hs_token(str(uuid.uuid4()), _secret="x" * 40)), "bad_signature"),
        (lambda: bearer(hs_token(str(uuid.uuid4()), aud="other-app")), "wrong_audience"),
        (lambda: bearer(hs_token(None, role="anon")), "unsupported_role"),
    ],
)
def test_bad_tokens_get_401_with_a_reason(api, make_header, reason):
    response = api.client.get("/api/v1/me", headers=make_header())
    assert response.status_code == 401
    body = response.json()
    assert body["error"]["code"] == "unauthorized"
    assert body["error"]["details"]["reason"] == reason
    assert "invalid_token" in response.headers["www-authenticate"]


def test_authentication_comes_before_input_validation(api):
    response = api.client.get("/api/v1/admin/audit-logs?limit=-1")
    assert response.status_code == 401


def test_asymmetric_tokens_verify_through_jwks(api, world, rsa_key):
    uid = world.user()
    now = int(time.time())
    claims = {"sub": uid, "role": "authenticated", "aud": "authenticated", "exp": now + 60}
    good = jwt.encode(claims, rsa_key, "RS256", headers={"kid": JWKS_KID})
    response = api.client.get("/api/v1/me", headers=bearer(good))
    assert response.status_code == 200
    assert response.json()["user_id"] == uid

    unknown = jwt.encode(claims, rsa_key, "RS256", headers={"kid": "rotated-away"})
    response = api.client.get("/api/v1/me", headers=bearer(unknown))
    assert response.status_code == 401
    assert response.json()["error"]["details"]["reason"] == "unknown_key"


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_a_merchant_on_an_admin_route_gets_403_and_nothing_changes(
    api, world, pg, method, path, body
):
    owner = world.user("owner")
    world.merchant(owner)
    before = pg.execute("select count(*) from audit.log").fetchone()
    response = api.client.request(method, path, json=body, headers=bearer(hs_token(owner)))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert pg.execute("select count(*) from audit.log").fetchone() == before


def test_me_shows_the_callers_memberships_only(api, world):
    owner = world.user("owner")
    merchant = world.merchant(owner, "Mine Ltd")
    world.merchant(world.user("other"), "Theirs Ltd")
    body = api.client.get("/api/v1/me", headers=bearer(hs_token(owner))).json()
    assert body["is_admin"] is False
    assert body["memberships"] == [
        {"merchant_id": merchant, "merchant_name": "Mine Ltd", "role": "owner"}
    ]


def test_admin_creates_a_merchant_idempotently_and_the_audit_log_shows_it(api, world, pg):
    admin = world.admin()
    owner = world.user("owner")
    headers = {**bearer(hs_token(admin)), "Idempotency-Key": str(uuid.uuid4())}
    request_id = new_request_id()
    name = f"Audit Trail {uuid.uuid4().hex[:8]} Ltd"
    body = {"name": name, "owner_user_id": owner, "country": "IN"}
    first = api.client.post(
        "/api/v1/admin/merchants", json=body, headers={**headers, "x-request-id": request_id}
    )
    assert first.status_code == 201, first.text
    assert first.headers["x-request-id"] == request_id
    again = api.client.post("/api/v1/admin/merchants", json=body, headers=headers)
    assert again.json()["id"] == first.json()["id"]
    count = pg.execute("select count(*) from public.merchants where name = %s", (name,)).fetchone()
    assert count == (1,)

    logs = api.client.get(
        "/api/v1/admin/audit-logs",
        params={"table": "merchants", "row_id": first.json()["id"], "action": "insert"},
        headers=bearer(hs_token(admin)),
    )
    assert logs.status_code == 200
    items = logs.json()["data"]
    assert len(items) == 1
    assert items[0]["actor_id"] == admin
    assert items[0]["actor_role"] == "authenticated"
    assert items[0]["request_id"] == request_id


def test_audit_logs_paginate_with_a_cursor(api, world):
    admin = world.admin()
    for i in range(5):
        world.merchant(name=f"Page {i}")
    headers = bearer(hs_token(admin))
    first = api.client.get("/api/v1/admin/audit-logs?limit=2", headers=headers).json()
    second = api.client.get(
        "/api/v1/admin/audit-logs",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=headers,
    ).json()
    ids = [i["id"] for i in first["data"]] + [i["id"] for i in second["data"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/admin/audit-logs?limit=0", None),
        ("GET", "/api/v1/admin/audit-logs?limit=100000", None),
        ("GET", "/api/v1/admin/audit-logs?action=drop", None),
        ("GET", "/api/v1/admin/audit-logs?actor=not-a-uuid", None),
        ("GET", "/api/v1/admin/audit-logs?from=yesterday", None),
        ("GET", "/api/v1/admin/audit-logs?unknown=1", None),
        ("GET", "/api/v1/admin/audit-logs?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", None),
        ("POST", "/api/v1/admin/merchants", {"name": ""}),
        ("POST", "/api/v1/admin/merchants", {"name": "X", "country": "india"}),
        ("POST", "/api/v1/admin/merchants", {"name": "X", "is_admin": True}),
        ("POST", "/api/v1/admin/merchants", [1, 2]),
        ("POST", "/api/v1/admin/merchants", "{not json"),
        ("POST", "/api/v1/admin/merchants", '{"name": "a\\u0000b"}'),
        ("POST", "/api/v1/admin/merchants", '{"name": "x", "idempotency_key": "k\\u0000"}'),
        ("GET", "/api/v1/admin/audit-logs?table=a%00b", None),
        (
            "POST",
            f"/api/v1/admin/wallets/{uuid.uuid4()}/adjustments",
            {"amount": 10**30, "reason": "x"},
        ),
        ("PUT", f"/api/v1/admin/merchants/{uuid.uuid4()}/status", {"status": "gone"}),
        # Found by schemathesis: an offset Postgres cannot hold, a missing idempotency key.
        ("GET", "/api/v1/merchant/usage?from=2026-01-01T00:00:00-18:20", None),
        (
            "POST",
            f"/api/v1/admin/wallets/{uuid.uuid4()}/adjustments",
            {"amount": 5},
        ),
        ("PUT", "/api/v1/admin/merchants/123/status", {"status": "active"}),
        # Money is a strict integer of minor units; currencies are ISO 4217; accounts named.
        (
            "POST",
            f"/api/v1/admin/wallets/{uuid.uuid4()}/adjustments",
            {"amount": True, "reason": "x"},
        ),
        (
            "POST",
            f"/api/v1/admin/wallets/{uuid.uuid4()}/adjustments",
            {"amount": 10.0, "reason": "x"},
        ),
        (
            "POST",
            f"/api/v1/admin/merchants/{uuid.uuid4()}/wallets",
            {"currency": "ZZZ"},
        ),
        (
            "POST",
            f"/api/v1/admin/wallets/{uuid.uuid4()}/adjustments",
            {"amount": 10, "reason": "x", "account": "pending"},
        ),
        ("POST", "/api/v1/admin/merchants", {"name": "X", "idempotency_key": "moved-to-header"}),
        (
            "POST",
            f"/api/v1/admin/wallets/{uuid.uuid4()}/adjustments",
            {"amount": "ten", "reason": "x"},
        ),
    ],
)
def test_bad_input_gets_400_and_changes_nothing(api, world, pg, method, path, body):
    admin = world.admin()
    before = pg.execute("select count(*) from audit.log").fetchone()
    kwargs: dict = {"headers": bearer(hs_token(admin))}
    if isinstance(body, str):
        kwargs["content"] = body
        kwargs["headers"]["content-type"] = "application/json"
    elif body is not None:
        kwargs["json"] = body
    response = api.client.request(method, path, **kwargs)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) >= {"code", "message", "details"}
    assert "Traceback" not in response.text
    assert pg.execute("select count(*) from audit.log").fetchone() == before


def test_business_rules_and_missing_rows_map_to_422_and_404(api, world):
    admin = world.admin()
    owner = world.user("owner")
    merchant = world.merchant(owner)
    headers = bearer(hs_token(admin))
    last_owner = api.client.delete(f"/api/v1/merchants/{merchant}/members/{owner}", headers=headers)
    assert last_owner.status_code == 422
    assert last_owner.json()["error"]["code"] == "rule_violated"
    wallet = api.client.post(
        f"/api/v1/admin/merchants/{merchant}/wallets",
        json={"currency": "INR", "mode": "test"},
        headers=headers,
    )
    assert wallet.status_code == 200, wallet.text
    overdraw = api.client.post(
        f"/api/v1/admin/wallets/{wallet.json()['id']}/adjustments",
        json={"amount": -100, "reason": "payout by hand"},
        headers={**headers, "Idempotency-Key": "po-1"},
    )
    assert overdraw.status_code == 409
    assert overdraw.json()["error"]["code"] == "insufficient_balance"
    missing = api.client.put(
        f"/api/v1/admin/merchants/{uuid.uuid4()}/status",
        json={"status": "active"},
        headers=headers,
    )
    assert missing.status_code == 404


def test_owner_manages_members_through_the_api(api, world, pg):
    owner = world.user("owner")
    merchant = world.merchant(owner)
    dev = world.user("dev")
    headers = bearer(hs_token(owner))
    added = api.client.put(
        f"/api/v1/merchants/{merchant}/members/{dev}", json={"role": "developer"}, headers=headers
    )
    assert added.status_code == 200 and added.json()["role"] == "developer"
    self_promote = api.client.put(
        f"/api/v1/merchants/{merchant}/members/{dev}",
        json={"role": "owner"},
        headers=bearer(hs_token(dev)),
    )
    assert self_promote.status_code == 403
    role = pg.execute(
        "select role from public.merchant_members where merchant_id = %s and user_id = %s",
        (merchant, dev),
    ).fetchone()
    assert role == ("developer",)


def test_unknown_paths_and_methods_use_the_error_shape(api):
    assert api.client.get("/api/v1/nope").json()["error"]["code"] == "not_found"
    response = api.client.delete("/api/v1/me", headers=bearer(hs_token(str(uuid.uuid4()))))
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_logs_are_json_and_carry_no_tokens(api, world):
    uid = world.user()
    token = hs_token(uid)
    request_id = new_request_id()
    api.client.get("/api/v1/me", headers={**bearer(token), "x-request-id": request_id})
    time.sleep(0.2)
    logs = api.logs()
    assert request_id in logs
    assert token not in logs and token.split(".")[1] not in logs
    line = next(line for line in logs.splitlines() if request_id in line)
    import json

    entry = json.loads(line)
    assert entry["path"] == "/api/v1/me" and entry["status"] == 200 and entry["user_id"] == uid


def test_an_adjustment_key_reused_with_other_parameters_is_422(api, world, pg):
    admin = world.admin()
    merchant = world.merchant()
    headers = {**bearer(hs_token(admin)), "Idempotency-Key": f"adj-{uuid.uuid4()}"}
    wallet = api.client.post(
        f"/api/v1/admin/merchants/{merchant}/wallets",
        json={"currency": "INR", "mode": "test"},
        headers=headers,
    ).json()
    path = f"/api/v1/admin/wallets/{wallet['id']}/adjustments"
    body = {"amount": 500, "reason": "first"}
    first = api.client.post(path, json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = api.client.post(path, json=body, headers=headers)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = api.client.post(path, json={**body, "reason": "second"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    rows = pg.execute(
        "select count(*), min(reason) from public.wallet_adjustments where merchant_id = %s",
        (merchant,),
    ).fetchone()
    assert rows == (1, "first")
