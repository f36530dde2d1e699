"""Payments end to end, as a merchant's server and a customer would drive them: the API over
real HTTP, the worker as its own process, every provider's fake on its real paths, signed
provider webhooks back into the API, merchant webhooks out."""

import concurrent.futures
import json
import re
import threading
import time
import uuid

import httpx
import pytest

from .conftest import bearer, hs_token
from .payments_support import (
    FAILURE_VPA,
    PROVIDERS,
    SUCCESS_VPA,
    WAITING_VPA,
    Shop,
    Worker,
    pay_method,
    wait_until,
)


@pytest.fixture(scope="module")
def worker(authenticator_url, api, fake_providers_server, tmp_path_factory, super_url):
    import psycopg

    with psycopg.connect(super_url, autocommit=True) as conn:
        # Redeliveries within seconds, not minutes: the kill -9 tests wait for them.
        conn.execute(
            "update public.queue_controls set visibility_timeout_s = 8, backoff_base_s = 0.5,"
            " backoff_max_s = 2 where queue_name = 'payment'"
        )
    w = Worker(authenticator_url, api, fake_providers_server, tmp_path_factory.mktemp("pay"))
    w.start()
    yield w
    w.stop_all()
    with psycopg.connect(super_url, autocommit=True) as conn:
        conn.execute(
            "update public.queue_controls set visibility_timeout_s = 120, backoff_base_s = 1,"
            " backoff_max_s = 3600 where queue_name = 'payment'"
        )


@pytest.fixture
def shop(api, pg, fake_providers, world, worker) -> Shop:
    return Shop(api, pg, fake_providers, world)


# Every provider: success, decline, pending then a signed webhook, refund -----------------------
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_payment_succeeds_once_through_each_provider_and_refunds(shop, provider):
    gw = shop.gateway(provider)
    shop.route_to(gw)
    method, _ = pay_method(provider)
    vpa = SUCCESS_VPA[provider]
    created = shop.pay(method, vpa)
    assert created["status"] == "processing" and created["id"].startswith("pay_")
    payment = shop.wait_status(created["id"], "requires_action", "succeeded")
    if payment["status"] == "requires_action":
        assert payment["next_action"]["type"] in ("redirect", "upi_collect", "upi_intent")
        shop.customer(payment, "success")
    payment = shop.wait_status(created["id"], "succeeded")
    assert payment["gateway"] == {"id": gw, "provider": provider}
    assert payment["amount_captured"] == 10_000
    assert [a["status"] for a in payment["attempts"]] == ["succeeded"]
    assert shop.captures(created["id"]) == 1

    partial = shop.api.client.post(
        f"/api/v1/payments/{created['id']}/refunds", headers=shop.headers, json={"amount": 2500}
    )
    assert partial.status_code == 201, partial.text
    assert partial.json()["status"] == "pending"
    shop.wait_status(created["id"], "partially_refunded")
    rest = shop.api.client.post(
        f"/api/v1/payments/{created['id']}/refunds", headers=shop.headers, json={}
    )
    assert rest.status_code == 201 and rest.json()["amount"] == 7500
    refunded = shop.wait_status(created["id"], "refunded")
    assert refunded["amount_refunded"] == 10_000
    assert sorted(r["status"] for r in refunded["refunds"]) == ["succeeded", "succeeded"]
    over = shop.api.client.post(
        f"/api/v1/payments/{created['id']}/refunds", headers=shop.headers, json={"amount": 1}
    )
    assert over.status_code == 422
    assert shop.captures(created["id"]) == 1
    wait_until(lambda: shop.events(created["id"]).count("payment.refunded") == 1)
    events = shop.events(created["id"])
    assert events[0] == "payment.created" and events.count("payment.succeeded") == 1
    assert set(events) <= {
        "payment.created",
        "payment.requires_action",
        "payment.succeeded",
        "payment.partially_refunded",
        "payment.refunded",
    }


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_declined_payment_fails_with_a_unified_code(shop, provider):
    gw = shop.gateway(provider)
    shop.route_to(gw)
    method, _ = pay_method(provider)
    created = shop.pay(method, FAILURE_VPA[provider])
    payment = shop.wait_status(created["id"], "requires_action", "failed")
    if payment["status"] == "requires_action":
        shop.customer(payment, "failure")
    payment = shop.wait_status(created["id"], "failed")
    assert payment["failure"]["code"]
    assert payment["attempts"][-1]["status"] == "failed"
    assert payment["attempts"][-1]["error"]["code"] == payment["failure"]["code"]
    assert shop.captures(created["id"]) == 0
    wait_until(lambda: "payment.failed" in shop.events(created["id"]))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_waiting_for_the_customer_then_the_providers_webhook_completes_it(shop, provider, pg):
    gw = shop.gateway(provider)
    shop.route_to(gw)
    method, vpa = pay_method(provider)
    created = shop.pay(method, vpa)
    payment = shop.wait_status(created["id"], "requires_action")
    assert payment["next_action"] and payment["action_expires_at"]
    assert shop.captures(created["id"]) == 0
    shop.customer(payment, "success")
    # Nothing polls here: the provider's signed webhook, applied through the queue, does it.
    payment = shop.wait_status(created["id"], "succeeded")
    assert shop.captures(created["id"]) == 1
    applied = pg.execute(
        "select count(*) from public.provider_events where gateway_id = %s and status = 'applied'",
        (gw,),
    ).fetchone()[0]
    assert applied >= 1
    assert shop.events(created["id"])[:3] == [
        "payment.created",
        "payment.requires_action",
        "payment.succeeded",
    ]


# Faults cascade to the next gateway; unknown outcomes never charge twice -----------------------
# PayU's card checkout is a form the customer's browser posts: we never call PayU for it, so
# its faults show on UPI collect (server to server) only.
CASCADES = [
    (provider, fault)
    for provider in ("razorpay", "cashfree", "phonepe", "paytm", "stripe")
    for fault in ("hang", "error", "rate_limit")
] + [("payu", "rate_limit")]


@pytest.mark.parametrize(("provider", "fault"), CASCADES)
def test_a_failing_gateway_cascades_to_the_next(shop, fake_providers, provider, fault):
    first = shop.gateway(provider, priority=1)
    second = shop.gateway("sandbox", priority=2)
    shop.route_to(first, second)
    fake_providers.mode(provider, fault)
    if provider == "payu":
        created = shop.pay("upi", WAITING_VPA)
    else:
        created = shop.pay("card")  # a redirect: nothing reaches the customer we never saw
    payment = shop.wait_status(created["id"], "requires_action", timeout=30)
    attempts = payment["attempts"]
    assert [a["provider"] for a in attempts] == [provider, "sandbox"]
    assert attempts[0]["status"] == "failed" and attempts[0]["error"]["decision"] == "next"
    assert payment["gateway"]["id"] == second
    shop.customer(payment, "success")
    shop.wait_status(created["id"], "succeeded")
    assert shop.captures(created["id"]) == 1


def test_rate_limited_upi_cascades_at_once(shop, fake_providers):
    first = shop.gateway("razorpay", priority=1)
    second = shop.gateway("sandbox", priority=2)
    shop.route_to(first, second)
    fake_providers.mode("razorpay", "rate_limit")
    created = shop.pay("upi", "success@sandbox")
    payment = shop.wait_status(created["id"], "succeeded")
    assert [a["error"]["code"] if a["error"] else None for a in payment["attempts"]] == [
        "gateway_rate_limited",
        None,
    ]


def test_an_answer_lost_after_the_provider_acted_is_looked_up_not_charged_again(
    shop, fake_providers
):
    gw = shop.gateway("sandbox", priority=1)
    backup = shop.gateway("razorpay", priority=500)
    shop.route_to(gw, backup)
    fake_providers.mode("sandbox", "error_after_commit")
    created = shop.pay("upi", "success@sandbox")
    payment = shop.wait_status(created["id"], "succeeded")
    assert [a["provider"] for a in payment["attempts"]] == ["sandbox"]
    assert shop.captures(created["id"]) == 1


def test_an_undecided_upi_collect_waits_instead_of_cascading(shop, fake_providers, pg):
    gw = shop.gateway("sandbox", priority=1)
    backup = shop.gateway("razorpay", priority=500)
    shop.route_to(gw, backup)
    fake_providers.mode("sandbox", "hang")
    created = shop.pay("upi", "success@sandbox")
    wait_until(
        lambda: (
            pg.execute(
                "select status from public.payment_attempts where payment_id = %s", (created["id"],)
            ).fetchone()
            == ("unknown",)
        ),
        timeout=15,
    )
    assert shop.status(created["id"]) == "processing"
    fake_providers.mode("sandbox", "ok")  # the provider recovers: the retry looks, then charges
    payment = shop.wait_status(created["id"], "succeeded", timeout=30)
    assert [a["provider"] for a in payment["attempts"]] == ["sandbox"]
    assert shop.captures(created["id"]) == 1


def test_kill_9_of_the_worker_mid_charge_completes_once(shop, fake_providers, worker, pg):
    gw = shop.gateway("sandbox")
    shop.route_to(gw)
    fake_providers.mode("sandbox", "ok", latency_ms=1500)
    created = shop.pay("upi", "success@sandbox")
    wait_until(
        lambda: (
            pg.execute(
                "select count(*) from public.payment_attempts where payment_id = %s",
                (created["id"],),
            ).fetchone()[0]
            == 1
        )
    )
    time.sleep(0.3)  # the charge request is on its way to the provider
    try:
        for proc in worker.procs:
            if proc.poll() is None:
                worker.kill(proc)
        time.sleep(1.5)  # the provider finishes charging while no worker lives
        assert shop.captures(created["id"]) == 1
        assert shop.status(created["id"]) == "processing"
    finally:
        worker.start()
    payment = shop.wait_status(created["id"], "succeeded", timeout=30)
    assert len(payment["attempts"]) == 1
    assert shop.captures(created["id"]) == 1


# Inbound webhooks: good, bad, replayed, stale, wrong gateway --------------------------------------
@pytest.mark.parametrize("provider", PROVIDERS)
def test_provider_webhooks_are_verified_deduplicated_and_never_regress(
    shop, fake_providers, provider, pg
):
    gw = shop.gateway(provider)
    shop.route_to(gw)
    method, vpa = pay_method(provider)
    created = shop.pay(method, vpa)
    payment = shop.wait_status(created["id"], "requires_action")
    shop.customer(payment, "success")
    shop.wait_status(created["id"], "succeeded")
    sent = [
        w
        for w in fake_providers.client.get("/_webhooks/sent").json()
        if w["provider"] == provider and w.get("status") == 200
    ]
    assert sent, "the provider sent a webhook"
    hook = sent[-1]
    url, body, headers = hook["url"], hook["body"].encode(), hook["headers"]
    events_before = pg.execute("select count(*) from public.provider_events").fetchone()[0]

    replay = httpx.post(url, content=body, headers=headers, timeout=5)
    assert replay.status_code == 200 and replay.json()["duplicate"] is True

    bad_body, bad_headers = tamper(provider, body, headers)
    bad = httpx.post(url, content=bad_body, headers=bad_headers, timeout=5)
    assert bad.status_code in (400, 401), bad.text
    assert pg.execute(
        "select status from public.provider_events where gateway_id = %s order by id desc limit 1",
        (gw,),
    ).fetchone() == ("rejected",)

    unknown = httpx.post(
        f"{shop.api.base_url}/api/v1/providers/{provider}/webhooks/{uuid.uuid4()}",
        content=body,
        headers=headers,
        timeout=5,
    )
    assert unknown.status_code == 404
    other_provider = "sandbox" if provider != "sandbox" else "razorpay"
    wrong = httpx.post(
        f"{shop.api.base_url}/api/v1/providers/{other_provider}/webhooks/{gw}",
        content=body,
        headers=headers,
        timeout=5,
    )
    assert wrong.status_code == 404

    # Another gateway of the same provider (same test credentials): verified, but no attempt
    # of that gateway matches, so nothing is applied.
    other_gw = shop.gateway(provider)
    elsewhere = httpx.post(shop.webhook_url(provider, other_gw), content=body, headers=headers)
    assert elsewhere.status_code == 200
    wait_until(
        lambda: (
            pg.execute(
                "select status from public.provider_events where gateway_id = %s", (other_gw,)
            ).fetchone()
            == ("ignored",)
        )
    )
    assert shop.status(created["id"]) == "succeeded"
    assert shop.captures(created["id"]) == 1
    assert pg.execute("select count(*) from public.provider_events").fetchone()[0] == (
        events_before + 2
    )


def tamper(provider: str, body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """The same webhook with something its signature covers changed."""
    if provider == "phonepe":  # a shared secret in Authorization, not a body signature
        return body, {**headers, "authorization": "0" * 64}
    if provider == "payu":  # the reverse hash is a form field
        return re.sub(
            rb"hash=([0-9a-f])",
            lambda m: b"hash=" + (b"1" if m[1] != b"1" else b"2"),
            body,
            count=1,
        ), headers
    if provider == "paytm":  # head.signature covers the body exactly as sent
        return body.replace(b'"body":{', b'"body":{"x":1,', 1), headers
    for currency, other in ((b"INR", b"USD"), (b'"inr"', b'"usd"')):
        if currency in body:
            return body.replace(currency, other, 1), headers
    raise AssertionError(f"nothing covered to change in {body[:300]!r}")


def test_a_stale_failure_after_success_moves_nothing(shop, pg):
    gw = shop.gateway("sandbox")
    shop.route_to(gw)
    created = shop.pay("upi", "success@sandbox")
    payment = shop.wait_status(created["id"], "succeeded")
    attempt = payment["attempts"][0]
    # A failure event for the same charge arriving late (out of order), correctly signed.
    from standardwebhooks import Webhook

    from edge_adapter.fake_providers import FAKE_CREDENTIALS

    body = json.dumps(
        {
            "type": "charge.failed",
            "timestamp": "2026-01-01T00:00:00Z",
            "data": {
                "id": attempt["provider_order_id"],
                "object": "charge",
                "reference": attempt["id"],
                "status": "failed",
                "amount": 10_000,
                "currency": "INR",
                "failure_code": "payment_declined",
                "metadata": {"payment_id": created["id"]},
            },
        }
    )
    msg_id = f"msg_{uuid.uuid4().hex}"
    now = int(time.time())
    from datetime import UTC, datetime

    signature = Webhook(FAKE_CREDENTIALS["sandbox"]["webhook_secret"]).sign(
        msg_id, datetime.fromtimestamp(now, UTC), body
    )
    response = httpx.post(
        shop.webhook_url("sandbox", gw),
        content=body,
        headers={
            "webhook-id": msg_id,
            "webhook-timestamp": str(now),
            "webhook-signature": signature,
            "content-type": "application/json",
        },
    )
    assert response.status_code == 200, response.text
    wait_until(
        lambda: (
            pg.execute(
                "select status from public.provider_events where event_id = %s", (msg_id,)
            ).fetchone()
            == ("ignored",)
        )
    )
    assert shop.status(created["id"]) == "succeeded"
    assert shop.get(created["id"])["attempts"][0]["status"] == "succeeded"


# Idempotency -------------------------------------------------------------------------------------
def test_payment_creation_is_idempotent(shop, pg):
    gw = shop.gateway("sandbox")
    shop.route_to(gw)
    key = f"order-{uuid.uuid4()}"
    body = {"amount": 4200, "currency": "INR", "method": "upi", "upi": {"vpa": "success@sandbox"}}
    headers = {**shop.headers, "Idempotency-Key": key}
    first = shop.api.client.post("/api/v1/payments", headers=headers, json=body)
    again = shop.api.client.post("/api/v1/payments", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    changed = shop.api.client.post(
        "/api/v1/payments", headers=headers, json={**body, "amount": 4300}
    )
    assert changed.status_code == 422
    assert changed.json()["error"]["code"] == "idempotency_key_reused"
    assert pg.execute(
        "select count(*) from public.payments where merchant_id = %s", (shop.id,)
    ).fetchone() == (1,)
    # Keys are per merchant: another merchant's same key is a new request.
    # After 24 h a key is forgotten.
    pg.execute(
        "update private.idempotency_keys set created_at = now() - interval '25 hours'"
        " where key = %s",
        (key,),
    )
    later = shop.api.client.post("/api/v1/payments", headers=headers, json=body)
    assert later.status_code == 201 and later.json()["id"] != first.json()["id"]
    assert "idempotent-replayed" not in later.headers


def test_a_request_still_in_flight_gets_409_with_retry_after(shop, super_url):
    import psycopg

    key = f"slow-{uuid.uuid4()}"
    body = {"amount": 100, "currency": "INR", "method": "upi"}
    # Hold the key's lock as the first request would while it runs (a test key's key space).
    with psycopg.connect(super_url, autocommit=True) as conn:
        conn.execute(
            "select pg_advisory_lock(hashtextextended(%s, 7))", (f"merchant:{shop.id}:test|{key}",)
        )
        busy = shop.api.client.post(
            "/api/v1/payments", headers={**shop.headers, "Idempotency-Key": key}, json=body
        )
        assert busy.status_code == 409
        assert busy.json()["error"]["code"] == "idempotency_key_in_use"
        assert busy.headers["retry-after"] == "1"
    done = shop.api.client.post(
        "/api/v1/payments", headers={**shop.headers, "Idempotency-Key": key}, json=body
    )
    assert done.status_code == 201


def test_the_routes_moved_onto_idempotency_replay_and_refuse_reuse(api, world, pg):
    admin = bearer(hs_token(world.admin()))
    merchant = world.merchant()
    wallet = api.client.post(
        f"/api/v1/admin/merchants/{merchant}/wallets",
        headers=admin,
        json={"currency": "INR", "mode": "test"},
    ).json()["id"]
    cases = [
        ("/api/v1/admin/merchants", {"name": "Idem Co"}, {"name": "Other Co"}),
        (
            "/api/v1/admin/queues/jobs",
            {"queue": "settlement", "payload": {"n": 1}, "delay_seconds": 3600},
            {"queue": "settlement", "payload": {"n": 2}, "delay_seconds": 3600},
        ),
        (
            f"/api/v1/admin/wallets/{wallet}/adjustments",
            {"amount": 10, "reason": "credit"},
            {"amount": 11, "reason": "credit"},
        ),
        (
            "/api/v1/admin/gateways",
            {
                "provider": "sandbox",
                "display_name": "idem gw",
                "credentials": {"api_key": "k", "api_secret": "s"},
            },
            {
                "provider": "sandbox",
                "display_name": "idem gw 2",
                "credentials": {"api_key": "k", "api_secret": "s"},
            },
        ),
    ]
    for path, body, other in cases:
        headers = {**admin, "Idempotency-Key": f"k-{uuid.uuid4()}"}
        first = api.client.post(path, headers=headers, json=body)
        assert first.status_code == 201, (path, first.text)
        again = api.client.post(path, headers=headers, json=body)
        assert (again.status_code, again.json()) == (201, first.json()), path
        assert again.headers["idempotent-replayed"] == "true", path
        reused = api.client.post(path, headers=headers, json=other)
        assert reused.status_code == 422, path
        assert reused.json()["error"]["code"] == "idempotency_key_reused", path
    bad = api.client.post(
        "/api/v1/admin/merchants",
        headers={**admin, "Idempotency-Key": "x" * 256},
        json={"name": "x"},
    )
    assert bad.status_code == 400


# Refunds under concurrency, cancel, test/live, isolation ----------------------------------------
def test_concurrent_refunds_never_exceed_the_captured_amount(shop):
    gw = shop.gateway("sandbox")
    shop.route_to(gw)
    created = shop.pay("upi", "success@sandbox", amount=10_000)
    shop.wait_status(created["id"], "succeeded")
    barrier = threading.Barrier(12)

    def refund(_: int) -> int:
        with httpx.Client(base_url=shop.api.base_url, timeout=10) as client:
            barrier.wait()
            return client.post(
                f"/api/v1/payments/{created['id']}/refunds",
                headers=shop.headers,
                json={"amount": 1000},
            ).status_code

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(refund, range(12)))
    assert codes.count(201) == 10 and codes.count(422) == 2, codes
    payment = shop.wait_status(created["id"], "refunded")
    assert payment["amount_refunded"] == 10_000
    assert sum(r["amount"] for r in payment["refunds"]) == 10_000


def test_cancel_stops_a_payment_waiting_for_the_customer(shop):
    gw = shop.gateway("sandbox")
    shop.route_to(gw)
    created = shop.pay("upi", WAITING_VPA)
    shop.wait_status(created["id"], "requires_action")
    cancelled = shop.api.client.post(
        f"/api/v1/payments/{created['id']}/cancel", headers=shop.headers
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = shop.api.client.post(f"/api/v1/payments/{created['id']}/cancel", headers=shop.headers)
    assert again.status_code == 422
    payment = shop.get(created["id"])
    assert payment["attempts"][0]["status"] == "cancelled"
    wait_until(lambda: "payment.cancelled" in shop.events(created["id"]))


def test_test_and_live_payments_use_their_own_gateways(shop, api, pg):
    test_gw = shop.gateway("sandbox")
    shop.route_to(test_gw)
    live_key = api.client.post(
        "/api/v1/merchant/credentials",
        headers=shop.owner_headers,
        json={"name": "live", "mode": "live"},
    ).json()["key"]
    body = {"amount": 100, "currency": "INR", "method": "upi", "upi": {"vpa": "success@sandbox"}}
    refused = api.client.post("/api/v1/payments", headers=bearer(live_key), json=body)
    assert refused.status_code == 422  # the merchant is not enabled for live yet
    as_jwt = api.client.post(
        "/api/v1/payments", headers=shop.owner_headers, json={**body, "mode": "live"}
    )
    assert as_jwt.status_code == 422
    assert (
        api.client.put(
            f"/api/v1/admin/merchants/{shop.id}/live", headers=shop.admin, json={"enabled": True}
        ).status_code
        == 200
    )
    live = api.client.post("/api/v1/payments", headers=bearer(live_key), json=body).json()
    assert live["mode"] == "live"
    failed = shop.wait_status(live["id"], "failed")
    assert failed["failure"]["code"] == "no_gateway_available"  # only a test gateway is allowed
    live_gw = shop.gateway("sandbox", environment="live")
    shop.route_to(test_gw, live_gw)
    again = api.client.post("/api/v1/payments", headers=bearer(live_key), json=body).json()
    assert shop.wait_status(again["id"], "succeeded")["gateway"]["id"] == live_gw
    from_test_key = shop.pay("upi", "success@sandbox")
    assert from_test_key["mode"] == "test"
    assert shop.wait_status(from_test_key["id"], "succeeded")["gateway"]["id"] == test_gw
    mismatch = api.client.post(
        "/api/v1/payments", headers=bearer(live_key), json={**body, "mode": "test"}
    )
    assert mismatch.status_code == 400


def test_merchants_cannot_see_or_touch_each_others_payments(shop, api, pg, fake_providers, world):
    gw = shop.gateway("sandbox")
    shop.route_to(gw)
    mine = shop.pay("upi", "success@sandbox")
    shop.wait_status(mine["id"], "succeeded")
    other = Shop(api, pg, fake_providers, world)
    other.route_to(gw)
    theirs = other.pay("upi", "success@sandbox")
    for headers in (other.headers, other.owner_headers):
        assert api.client.get(f"/api/v1/payments/{mine['id']}", headers=headers).status_code == 404
        assert (
            api.client.post(f"/api/v1/payments/{mine['id']}/cancel", headers=headers).status_code
            == 404
        )
        assert (
            api.client.post(
                f"/api/v1/payments/{mine['id']}/refunds", headers=headers, json={}
            ).status_code
            == 404
        )
        listed = api.client.get("/api/v1/payments", headers=headers).json()["data"]
        assert {p["id"] for p in listed} == {theirs["id"]}
        assert (
            api.client.get(
                "/api/v1/payments", headers=headers, params={"merchant_id": shop.id}
            ).status_code
            == 403
        )
        assert api.client.get("/api/v1/admin/payments", headers=headers).status_code == 403
    viewer = world.user("viewer")
    pg.execute("insert into public.merchant_members values (%s, %s, 'viewer')", (shop.id, viewer))
    viewer_headers = bearer(hs_token(viewer))
    assert (
        api.client.get(f"/api/v1/payments/{mine['id']}", headers=viewer_headers).status_code == 200
    )
    assert (
        api.client.post(
            "/api/v1/payments",
            headers=viewer_headers,
            json={"amount": 100, "currency": "INR", "method": "upi"},
        ).status_code
        == 403
    )
    admin_list = api.client.get(
        "/api/v1/admin/payments", headers=shop.admin, params={"merchant_id": other.id}
    ).json()["data"]
    assert {p["id"] for p in admin_list} == {theirs["id"]}
    anon = api.client.get("/api/v1/payments")
    assert anon.status_code == 401


def test_lists_paginate_with_a_cursor_and_filter(shop):
    gw = shop.gateway("sandbox")
    shop.route_to(gw)
    made = [shop.pay("upi", "success@sandbox", amount=100 + i)["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = shop.api.client.get("/api/v1/payments", headers=shop.headers, params=params).json()
        seen += [p["id"] for p in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))
    small = shop.api.client.get(
        "/api/v1/payments", headers=shop.headers, params={"amount_max": 101}
    ).json()["data"]
    assert {p["id"] for p in small} == set(made[:2])
    bad = shop.api.client.get("/api/v1/payments", headers=shop.headers, params={"cursor": "nope"})
    assert bad.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"amount": True, "currency": "INR", "method": "upi"},
        {"amount": 10.5, "currency": "INR", "method": "upi"},
        {"amount": 0, "currency": "INR", "method": "upi"},
        {"amount": 100, "currency": "inr", "method": "upi"},
        {"amount": 100, "currency": "ZZZ", "method": "upi"},
        {"amount": 100, "currency": "INR", "method": "cash"},
        {"amount": 100, "currency": "INR", "method": "card"},  # no return_url
        {"amount": 100, "currency": "INR", "method": "card", "upi": {"vpa": "a@b"}},
        {"amount": 100, "currency": "INR", "method": "upi", "upi": {"vpa": "not a vpa"}},
        {"amount": 100, "currency": "INR", "method": "upi", "metadata": {"n": 1}},
        {
            "amount": 100,
            "currency": "INR",
            "method": "upi",
            "metadata": {f"k{i}": "v" for i in range(21)},
        },
        {"amount": 100, "currency": "INR", "method": "upi", "customer": {"email": "nope"}},
        {"amount": 100, "currency": "INR", "method": "upi", "card_number": "4111111111111111"},
    ],
)
def test_bad_payment_input_is_a_400_and_creates_nothing(shop, pg, body):
    response = shop.api.client.post("/api/v1/payments", headers=shop.headers, json=body)
    assert response.status_code == 400, response.text
    assert pg.execute(
        "select count(*) from public.payments where merchant_id = %s", (shop.id,)
    ).fetchone() == (0,)


def test_a_payment_the_customer_never_completes_expires_and_a_late_success_still_counts(shop, pg):
    gw = shop.gateway("sandbox")
    shop.route_to(gw)
    created = shop.pay("upi", WAITING_VPA)
    payment = shop.wait_status(created["id"], "requires_action")
    # The window passes (default 15 minutes): the next scheduled check is the final one.
    pg.execute(
        "update public.payments set action_expires_at = now() - interval '1 s',"
        " next_check_at = now() where id = %s",
        (created["id"],),
    )
    pg.execute("select private.schedule_payment_checks()")
    expired = shop.wait_status(created["id"], "expired")
    assert expired["failure"]["code"] == "expired"
    assert expired["attempts"][0]["status"] == "cancelled"
    wait_until(lambda: "payment.expired" in shop.events(created["id"]))
    # The customer approves after all: the money moved, so it is recorded, and flagged.
    shop.customer(payment, "success")
    late = shop.wait_status(created["id"], "succeeded")
    assert late["late_success"] is True
    assert shop.captures(created["id"]) == 1


def test_provider_secrets_and_customer_data_stay_out_of_answers_and_logs(shop, api, worker):
    gw = shop.gateway("razorpay")
    shop.route_to(gw)
    created = shop.pay("upi", SUCCESS_VPA["razorpay"])
    payment = shop.wait_status(created["id"], "requires_action", "succeeded")
    text = json.dumps(payment)
    from edge_adapter.fake_providers import FAKE_CREDENTIALS

    for secret in FAKE_CREDENTIALS["razorpay"].values():
        assert secret not in text
    logs = api.logs() + worker.log_text()
    for value in ("buyer@example.com", "9876543210", *FAKE_CREDENTIALS["razorpay"].values()):
        assert value not in logs, value


# After QA: modes, refund rules, archived gateways, customer input ---------------------------
def live_key_for(shop, api) -> dict[str, str]:
    assert (
        api.client.put(
            f"/api/v1/admin/merchants/{shop.id}/live", headers=shop.admin, json={"enabled": True}
        ).status_code
        == 200
    )
    key = api.client.post(
        "/api/v1/merchant/credentials",
        headers=shop.owner_headers,
        json={"name": "live", "mode": "live"},
    ).json()["key"]
    return bearer(key)


def test_an_api_key_works_in_its_own_mode_only(shop, api, pg):
    shop.route_to(shop.gateway("sandbox"), shop.gateway("sandbox", environment="live"))
    live = live_key_for(shop, api)
    body = {"amount": 5000, "currency": "INR", "method": "upi", "upi": {"vpa": "success@sandbox"}}
    # One Idempotency-Key, two modes: two payments, never a replay across modes.
    idem = {"idempotency-key": f"mode-{uuid.uuid4()}"}
    as_test = api.client.post("/api/v1/payments", headers={**shop.headers, **idem}, json=body)
    as_live = api.client.post("/api/v1/payments", headers={**live, **idem}, json=body)
    assert as_test.status_code == as_live.status_code == 201, as_live.text
    assert "idempotent-replayed" not in as_live.headers
    assert (as_test.json()["mode"], as_live.json()["mode"]) == ("test", "live")
    live_id = as_live.json()["id"]
    shop.wait_status(live_id, "succeeded")
    shop.wait_status(as_test.json()["id"], "succeeded")

    # The test key neither sees nor touches the live payment.
    assert api.client.get(f"/api/v1/payments/{live_id}", headers=shop.headers).status_code == 404
    refund = api.client.post(
        f"/api/v1/payments/{live_id}/refunds", headers=shop.headers, json={"amount": 100}
    )
    assert refund.status_code == 404
    cancel = api.client.post(f"/api/v1/payments/{live_id}/cancel", headers=shop.headers)
    assert cancel.status_code == 404
    listed = api.client.get("/api/v1/payments", headers=shop.headers).json()["data"]
    assert {p["mode"] for p in listed} == {"test"}
    asked = api.client.get("/api/v1/payments", headers=shop.headers, params={"mode": "live"})
    assert asked.status_code == 400
    events = api.client.get(
        "/api/v1/merchant/webhooks/events", headers=shop.headers, params={"limit": 200}
    ).json()["data"]
    assert all(e["payload"].get("mode", "test") == "test" for e in events)
    assert any(e["payload"].get("id") == as_test.json()["id"] for e in events)
    # The live key sees its own; the owner (a user) sees both.
    assert api.client.get(f"/api/v1/payments/{live_id}", headers=live).status_code == 200
    both = api.client.get("/api/v1/payments", headers=shop.owner_headers).json()["data"]
    assert {p["mode"] for p in both} == {"test", "live"}
    # Row level security says the same for a key reading tables directly.
    with pg.transaction():
        pg.execute("set local role authenticated")
        claims = {
            "role": "authenticated",
            "api_key_id": str(uuid.uuid4()),
            "merchant_id": shop.id,
            "key_mode": "test",
        }
        pg.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        modes = pg.execute("select distinct mode from public.payments").fetchall()
        pg.execute("rollback")
    assert modes in ([("test",)], [])


def test_refund_refusals_have_their_own_codes(shop):
    shop.route_to(shop.gateway("sandbox"))
    waiting = shop.pay("upi", WAITING_VPA)
    not_yet = shop.api.client.post(
        f"/api/v1/payments/{waiting['id']}/refunds", headers=shop.headers, json={}
    )
    assert not_yet.status_code == 422
    assert not_yet.json()["error"]["code"] == "payment_not_refundable"
    paid = shop.wait_status(shop.pay("upi", "success@sandbox")["id"], "succeeded")
    refunds = f"/api/v1/payments/{paid['id']}/refunds"
    too_much = shop.api.client.post(refunds, headers=shop.headers, json={"amount": 10_001})
    assert too_much.json()["error"]["code"] == "refund_exceeds_available"
    assert shop.api.client.post(refunds, headers=shop.headers, json={}).status_code == 201
    nothing = shop.api.client.post(refunds, headers=shop.headers, json={})
    assert nothing.status_code == 422, nothing.text
    assert nothing.json()["error"]["code"] == "nothing_to_refund"
    assert shop.get(paid["id"])["refunds"][0]["mode"] == "test"


def test_every_partial_refund_emits_partially_refunded(shop):
    shop.route_to(shop.gateway("sandbox"))
    paid = shop.wait_status(shop.pay("upi", "success@sandbox")["id"], "succeeded")
    for _ in range(3):
        made = shop.api.client.post(
            f"/api/v1/payments/{paid['id']}/refunds", headers=shop.headers, json={"amount": 3000}
        )
        assert made.status_code == 201
    wait_until(lambda: shop.get(paid["id"])["amount_refunded"] == 9000, timeout=30)
    refunded = [
        r[0]
        for r in shop.pg.execute(
            "select (payload ->> 'amount_refunded')::bigint from public.webhook_events"
            " where merchant_id = %s and type = 'payment.partially_refunded'"
            " and payload ->> 'id' = %s order by created_at",
            (shop.id, paid["id"]),
        )
    ]
    assert refunded == [3000, 6000, 9000]


def test_force_archiving_a_gateway_keeps_its_credentials_until_payments_settle(shop, pg):
    gw = shop.gateway("sandbox")
    shop.route_to(gw)
    waiting = shop.wait_status(shop.pay("upi", WAITING_VPA)["id"], "requires_action")
    base = f"/api/v1/admin/gateways/{gw}"
    assert shop.api.client.delete(base, headers=shop.admin).status_code == 422
    archived = shop.api.client.delete(base, headers=shop.admin, params={"force": "true"})
    assert archived.status_code == 200, archived.text
    assert archived.json()["credentials_kept_until_settled"] is True
    # The customer pays after the archive: the provider's webhook still lands and counts.
    shop.customer(waiting, "success")
    done = shop.wait_status(waiting["id"], "succeeded")
    assert done["amount_captured"] == 10_000 and shop.captures(waiting["id"]) == 1
    # Nothing in flight any more: pg_cron's purge destroys the credentials.
    assert pg.execute("select private.purge_archived_credentials()").fetchone()[0] >= 1
    left = pg.execute(
        "select credentials_secret_id from public.gateways where id = %s", (gw,)
    ).fetchone()[0]
    assert left is None


def test_customer_input_is_normalised_or_refused(shop, pg):
    shop.route_to(shop.gateway("sandbox"))
    customer = {"email": "b@example.com", "phone": "+91 98765-43210", "ip": "2001:db8::7"}
    made = shop.pay("upi", "SUCCESS@SANDBOX", customer=customer)
    row = pg.execute(
        "select customer_phone, upi_vpa from public.payments where id = %s", (made["id"],)
    ).fetchone()
    assert row == ("+919876543210", "success@sandbox")
    assert shop.wait_status(made["id"], "succeeded")["status"] == "succeeded"
    for bad in (
        {"customer": {"ip": "999.1.1.1"}},
        {"customer": {"ip": "10.0.0.0/8"}},
        {"customer": {"phone": "call me"}},
        {"amount": 2**53},
    ):
        body = {"amount": 100, "currency": "INR", "method": "upi", **bad}
        refused = shop.api.client.post("/api/v1/payments", headers=shop.headers, json=body)
        assert refused.status_code == 400, (bad, refused.text)
    too_big = shop.api.client.post(
        "/api/v1/payments",
        headers=shop.headers,
        json={"amount": 2**53, "currency": "INR", "method": "upi"},
    )
    assert "at most" in too_big.json()["error"]["message"]
    huge = shop.api.client.post(
        "/api/v1/payments",
        headers=shop.headers,
        json={"amount": 2**63, "currency": "INR", "method": "upi"},
    )
    assert huge.status_code == 400
    assert huge.json()["error"]["details"][0]["field"] == "amount"
