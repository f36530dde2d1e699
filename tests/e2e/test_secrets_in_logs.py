"""Secrets never reach a log. Arguments travel to Postgres as bound parameters, never inside
the SQL text (Postgres logs a failed statement's text), so canaries planted through every
failing path — gateway create and update, credential rotation, webhook secrets, API-key
digests, JWT claims and forwarded headers — appear neither in the Postgres server log nor
in the adapter's own log."""

import os
import re
import uuid
from pathlib import Path

from edge_adapter.fake_providers import FAKE_CREDENTIALS

from .conftest import bearer, hs_token


def server_log() -> str:
    return (Path(os.environ["LSP_TEST_PGDATA"]) / "server.log").read_text(errors="replace")


def test_canaries_planted_through_failing_paths_reach_no_log(api, world, pg):
    canary = f"CANARY{uuid.uuid4().hex}"
    admin_id = world.admin()
    admin = {**bearer(hs_token(admin_id)), "user-agent": f"agent-{canary}-ua"}
    log_before = len(server_log())

    # Gateway create refused by the database (min above max) with a secret in the body.
    refused = api.client.post(
        "/api/v1/admin/gateways",
        headers=admin,
        json={
            "provider": "stripe",
            "display_name": "x",
            "min_amount": 1000,
            "max_amount": 1,
            "credentials": {"secret_key": f"sk_test_{canary}"},
        },
    )
    assert refused.status_code == 400, refused.text
    # Update refused (unknown field) and a rotation refused (an archived gateway).
    gw = api.client.post(
        "/api/v1/admin/gateways",
        headers=admin,
        json={
            "provider": "sandbox",
            "display_name": "canary gw",
            "credentials": dict(FAKE_CREDENTIALS["sandbox"]),
        },
    ).json()["id"]
    bad_update = api.client.put(
        f"/api/v1/admin/gateways/{gw}",
        headers=admin,
        json={"credentials": {"api_key": "k", "api_secret": f"s{canary}"}, "currencies": ["ZZZ"]},
    )
    assert bad_update.status_code == 400, bad_update.text
    assert api.client.delete(f"/api/v1/admin/gateways/{gw}", headers=admin).status_code == 200
    rotation = api.client.put(
        f"/api/v1/admin/gateways/{gw}",
        headers=admin,
        json={"credentials": {"api_key": "k", "api_secret": f"r{canary}"}},
    )
    assert rotation.status_code == 422, rotation.text

    # Webhook secrets: a real one is created, then a failing rotation on another merchant.
    owner = world.user("owner")
    world.merchant(owner)
    owner_h = {**bearer(hs_token(owner)), "x-forwarded-for": f"10.0.0.1, {canary}"}
    endpoint = api.client.post(
        "/api/v1/merchant/webhooks",
        headers=owner_h,
        json={"url": "https://example.com/hooks", "description": f"d-{canary}"},
    ).json()
    webhook_secret = endpoint["secret"]
    stranger = bearer(hs_token(world.user("stranger")))
    assert (
        api.client.post(
            f"/api/v1/merchant/webhooks/{endpoint['id']}/rotate-secret", headers=stranger
        ).status_code
        == 404
    )
    # API keys: one made, then a failing create (the digest travels, the key must not).
    key = api.client.post(
        "/api/v1/merchant/credentials", headers=owner_h, json={"name": "canary"}
    ).json()["key"]
    failing = api.client.post(
        "/api/v1/merchant/credentials",
        headers=owner_h,
        json={"name": "past", "expires_at": "2020-01-01T00:00:00Z"},
    )
    assert failing.status_code == 400, failing.text
    # An idempotent create (its full key is kept in Vault for replays), then its key reused
    # with other parameters: the second call fails carrying a new full key as a parameter.
    idem = {**owner_h, "idempotency-key": f"k-{canary}"}
    replayable = api.client.post("/api/v1/merchant/credentials", headers=idem, json={"name": "i"})
    assert replayable.status_code == 201, replayable.text
    reused = api.client.post("/api/v1/merchant/credentials", headers=idem, json={"name": "j"})
    assert reused.status_code == 422, reused.text
    # A JWT whose claims carry a canary, on a failing call.
    claims_token = hs_token(admin_id, email=f"{canary}@example.com")
    assert (
        api.client.put(
            f"/api/v1/admin/merchants/{uuid.uuid4()}/status",
            headers=bearer(claims_token),
            json={"status": "active"},
        ).status_code
        == 404
    )

    log = server_log()[log_before:]
    assert "ERROR" in log, "the failing calls were logged (so the check below can fail)"
    replayable_key = replayable.json()["key"]
    for secret in (canary, webhook_secret, key, key[9:], replayable_key, replayable_key[9:]):
        assert secret not in log, f"{secret[:12]}... reached the Postgres log"
    assert not re.search(r"\\\\x[0-9a-f]{64}", log), "a key digest reached the Postgres log"
    assert "set_config('request.jwt.claims', '{" not in log, "claims were inlined"
    adapter_log = api.logs()
    for secret in (canary, webhook_secret, key, replayable_key):
        assert secret not in adapter_log, f"{secret[:12]}... reached the adapter's log"
