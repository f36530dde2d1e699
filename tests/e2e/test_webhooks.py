"""Webhooks end to end: endpoints and secrets, signed delivery verified with the
standardwebhooks library, retries on the schedule, Retry-After, 410, auto-disable, manual
redelivery, the webhook test, SSRF refusals, isolation, and a worker killed mid-delivery."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from .test_api_keys import Merchant

ROOT = Path(__file__).resolve().parents[2]
HOOKS = "/api/v1/merchant/webhooks"


def wait_until(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


@pytest.fixture
def start_worker(authenticator_url, tmp_path):
    procs: list[subprocess.Popen] = []

    def start(schedule: str = "1,1,1") -> subprocess.Popen:
        env = {
            **os.environ,
            "LSP_DATABASE_URL": authenticator_url,
            "LSP_WEBHOOK_ALLOW_LOOPBACK": "true",
            "LSP_WEBHOOK_RETRY_SCHEDULE_S": schedule,
            "LSP_WEBHOOK_TIMEOUT_S": "3",
        }
        log = (tmp_path / f"worker{len(procs)}.log").open("wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edge_adapter.worker",
                "--queues",
                "webhook",
                "--poll-interval",
                "0.2",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def merchant(api, world, pg) -> Merchant:
    return Merchant(api, world, pg)


def endpoint(api, merchant, url, **fields) -> dict:
    response = api.client.post(
        HOOKS, headers=merchant.headers, json={"merchant_id": merchant.id, "url": url, **fields}
    )
    assert response.status_code == 201, response.text
    return response.json()


def emit(pg, merchant_id: str, type_: str = "payment.succeeded", data: dict | None = None) -> str:
    with pg.transaction():
        pg.execute("set local role service_role")
        return pg.execute(
            "select private.emit_event(%s, %s, %s::jsonb)",
            (merchant_id, type_, json.dumps(data or {"amount": 100})),
        ).fetchone()[0]


def verify(secret: str, request: dict) -> dict:
    headers = {k.lower(): v for k, v in request["headers"].items()}
    return Webhook(secret).verify(request["body"], headers)


def test_endpoint_secret_is_shown_once_and_the_test_event_verifies(api, merchant, receiver, pg):
    ep = endpoint(api, merchant, receiver.url)
    secret = ep["secret"]
    assert secret.startswith("whsec_")
    listed = api.client.get(
        HOOKS, headers=merchant.headers, params={"merchant_id": merchant.id}
    ).text
    assert secret not in listed and "secret_id" not in listed
    result = api.client.post(
        f"{HOOKS}/test", headers=merchant.headers, json={"endpoint_id": ep["id"]}
    ).json()
    assert result["delivered"] is True and result["status_code"] == 200
    assert result["latency_ms"] >= 0
    [request] = receiver.requests
    payload = verify(secret, request)
    assert payload["type"] == "webhook.test"
    assert request["headers"]["webhook-id"] == result["event_id"]
    events = api.client.get(
        f"{HOOKS}/events", headers=merchant.headers, params={"merchant_id": merchant.id}
    ).json()["data"]
    attempt = events[0]["deliveries"][0]["attempt_log"][0]
    assert attempt["status_code"] == 200 and attempt["response_body"] == "ok"


def test_the_worker_delivers_signed_events_and_retries_on_schedule(
    api, merchant, receiver, pg, start_worker
):
    ep = endpoint(api, merchant, receiver.url, event_types=["payment.*"])
    receiver.script = [(500, 0, {}), (503, 0, {"retry-after": "2"})]
    start_worker("1,1,1")
    event_id = emit(pg, merchant.id)
    emit(pg, merchant.id, "refund.created")  # filtered out by event_types
    assert wait_until(lambda: len(receiver.requests) >= 3, 20)
    times = [r["at"] for r in receiver.requests]
    assert times[1] - times[0] >= 0.7  # 1 s -20%
    assert times[2] - times[1] >= 1.9  # Retry-After: 2 beats the 1 s schedule
    assert set(receiver.ids()) == {event_id}
    for request in receiver.requests:
        verify(ep["secret"], request)
    status = wait_until(
        lambda: (
            pg.execute(
                "select status, attempts from public.webhook_deliveries where event_id = %s",
                (event_id,),
            ).fetchone()
            == ("delivered", 3)
        )
    )
    assert status
    time.sleep(1.5)
    assert len(receiver.requests) == 3


def test_410_disables_the_endpoint(api, merchant, receiver, pg, start_worker):
    ep = endpoint(api, merchant, receiver.url)
    receiver.script = [(410, 0, {})]
    start_worker()
    emit(pg, merchant.id)
    assert wait_until(
        lambda: pg.execute(
            "select not enabled from public.webhook_endpoints where id = %s", (ep["id"],)
        ).fetchone()[0]
    )
    emit(pg, merchant.id)
    time.sleep(1.5)
    assert len(receiver.requests) == 1


def test_retries_run_out_and_five_days_of_failure_disable_with_a_notification(
    api, merchant, receiver, pg, start_worker
):
    ep = endpoint(api, merchant, receiver.url)
    receiver.script = [(500, 0, {})] * 10
    start_worker("0.5,0.5")
    event_id = emit(pg, merchant.id)
    assert wait_until(
        lambda: pg.execute(
            "select status = 'failed' and attempts = 3 from public.webhook_deliveries"
            " where event_id = %s",
            (event_id,),
        ).fetchone()[0]
    )
    pg.execute(
        "update public.webhook_endpoints set failing_since = now() - interval '6 days'"
        " where id = %s",
        (ep["id"],),
    )
    emit(pg, merchant.id)
    assert wait_until(
        lambda: pg.execute(
            "select not enabled from public.webhook_endpoints where id = %s", (ep["id"],)
        ).fetchone()[0]
    )
    note = pg.execute(
        "select kind from public.notifications where merchant_id = %s"
        " and kind = 'webhook.endpoint_disabled'",
        (merchant.id,),
    ).fetchone()
    assert note == ("webhook.endpoint_disabled",)


def test_manual_redelivery_and_secret_rotation_sign_with_both_secrets(
    api, merchant, receiver, pg, start_worker
):
    ep = endpoint(api, merchant, receiver.url)
    start_worker()
    event_id = emit(pg, merchant.id)
    assert wait_until(lambda: len(receiver.requests) == 1)
    rotated = api.client.post(f"{HOOKS}/{ep['id']}/rotate-secret", headers=merchant.headers)
    new_secret = rotated.json()["secret"]
    assert new_secret != ep["secret"]
    delivery = pg.execute(
        "select id from public.webhook_deliveries where event_id = %s", (event_id,)
    ).fetchone()[0]
    again = api.client.post(f"{HOOKS}/deliveries/{delivery}/redeliver", headers=merchant.headers)
    assert again.status_code == 200
    assert wait_until(lambda: len(receiver.requests) == 2)
    second = receiver.requests[1]
    assert second["headers"]["webhook-id"] == event_id
    assert len(second["headers"]["webhook-signature"].split(" ")) == 2
    verify(ep["secret"], second)
    verify(new_secret, second)


def test_a_worker_killed_mid_delivery_loses_nothing(api, merchant, receiver, pg, start_worker):
    pg.execute(
        "update public.queue_controls set visibility_timeout_s = 4 where queue_name = 'webhook'"
    )
    try:
        endpoint(api, merchant, receiver.url)
        receiver.script = [(200, 1.0, {})] * 5
        first = start_worker()
        events = {emit(pg, merchant.id, data={"n": n}) for n in range(12)}
        assert wait_until(lambda: len(receiver.requests) >= 3)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=5)
        start_worker()
        assert wait_until(lambda: set(receiver.ids()) >= events, 30)
        # Duplicates are possible, but only ever with the event's own webhook-id.
        assert set(receiver.ids()) == events
    finally:
        pg.execute(
            "update public.queue_controls set visibility_timeout_s = 30"
            " where queue_name = 'webhook'"
        )


def test_ssrf_refusals_through_the_test_endpoint(api, merchant, receiver, pg):
    """Registration refuses these now; endpoints stored before that (or whose name resolves to
    such an address later) are still refused at delivery."""
    for url in (
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:10.0.0.1]/x",
    ):
        ep = endpoint(api, merchant, receiver.url)
        pg.execute("update public.webhook_endpoints set url = %s where id = %s", (url, ep["id"]))
        result = api.client.post(
            f"{HOOKS}/test", headers=merchant.headers, json={"endpoint_id": ep["id"]}
        ).json()
        assert result["delivered"] is False and result["error"].startswith("refused"), result
    receiver.script = [(302, 0, {"location": "http://10.0.0.1/internal"})]
    ep = endpoint(api, merchant, receiver.url)
    result = api.client.post(
        f"{HOOKS}/test", headers=merchant.headers, json={"endpoint_id": ep["id"]}
    ).json()
    assert (result["delivered"], result["status_code"]) == (False, 302)
    assert result["error"] == "redirects are not followed"


@pytest.mark.parametrize(
    "payload",
    [
        {"url": "ftp://example.com/x"},
        {"url": "not a url"},
        {"url": "https://user:pw@example.com/x"},
        {"url": "https://example.com/x", "event_types": ["Payment!"]},
        {"url": "https://example.com/x", "event_types": ["payment.nonsense"]},
        {"url": "https://example.com/x", "event_types": ["nothing.*"]},
        {"url": "https://example.com/x", "secret": "mine"},
        # Addresses no webhook may target, refused at registration (not only at delivery).
        {"url": "http://10.0.0.1/x"},
        {"url": "http://169.254.169.254/latest/meta-data"},
        {"url": "http://[::ffff:10.0.0.1]/x"},
        {"url": "http://\uff11\uff10.\uff10.\uff10.\uff11/x"},
        {"url": "http://0x7f000001.example/x".replace(".example", "")},
        {"url": "http://100.64.0.1/x"},
    ],
)
def test_bad_endpoints_are_refused(api, merchant, pg, payload):
    before = pg.execute("select count(*) from public.webhook_endpoints").fetchone()
    response = api.client.post(
        HOOKS, headers=merchant.headers, json={"merchant_id": merchant.id, **payload}
    )
    assert response.status_code == 400, response.text
    assert pg.execute("select count(*) from public.webhook_endpoints").fetchone() == before


def test_other_merchants_and_viewers_cannot_touch_endpoints(api, merchant, world, pg, receiver):
    ep = endpoint(api, merchant, receiver.url)
    other = Merchant(api, world, pg)
    viewer = merchant.add(world, "viewer")
    assert (
        api.client.get(
            HOOKS, headers=other.headers, params={"merchant_id": merchant.id}
        ).status_code
        == 403
    )
    for headers, expected in ((other.headers, 404), (viewer, 403)):
        assert (
            api.client.put(
                f"{HOOKS}/{ep['id']}", headers=headers, json={"enabled": False}
            ).status_code
            == expected
        )
        assert (
            api.client.post(
                f"{HOOKS}/test", headers=headers, json={"endpoint_id": ep["id"]}
            ).status_code
            == expected
        )
        assert (
            api.client.post(f"{HOOKS}/{ep['id']}/rotate-secret", headers=headers).status_code
            == expected
        )
    assert (
        api.client.get(HOOKS, headers=viewer, params={"merchant_id": merchant.id}).status_code
        == 200
    )
    assert receiver.requests == []
    assert api.client.get(HOOKS).status_code == 401


def test_key_rotation_emits_an_api_key_rotated_event(api, merchant, receiver, pg, start_worker):
    ep = endpoint(api, merchant, receiver.url, event_types=["api_key.rotated"])
    start_worker()
    key = merchant.new_key()
    api.client.post(
        "/api/v1/merchant/credentials/regenerate",
        headers=merchant.headers,
        json={"key_id": key["id"], "grace_seconds": 60},
    )
    assert wait_until(lambda: len(receiver.requests) == 1)
    payload = verify(ep["secret"], receiver.requests[0])
    assert payload["type"] == "api_key.rotated"
    assert payload["data"]["api_key_id"] == key["id"]
    assert uuid.UUID(payload["data"]["replaced_by"])


def test_retried_endpoint_create_and_secret_rotation_return_the_same_secret(api, merchant, pg):
    idem = {**merchant.headers, "idempotency-key": f"hook-{uuid.uuid4()}"}
    body = {"merchant_id": merchant.id, "url": "https://example.com/retried"}
    first = api.client.post(HOOKS, headers=idem, json=body)
    again = api.client.post(HOOKS, headers=idem, json=body)
    assert first.status_code == again.status_code == 201, again.text
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["secret"] == first.json()["secret"]
    assert again.json()["id"] == first.json()["id"]
    count = pg.execute(
        "select count(*) from public.webhook_endpoints where merchant_id = %s", (merchant.id,)
    ).fetchone()[0]
    assert count == 1
    moved = api.client.post(HOOKS, headers=idem, json={**body, "url": "https://example.com/x"})
    assert moved.status_code == 422

    rotate = {**merchant.headers, "idempotency-key": f"rot-{uuid.uuid4()}"}
    path = f"{HOOKS}/{first.json()['id']}/rotate-secret"
    rotated = api.client.post(path, headers=rotate)
    retried = api.client.post(path, headers=rotate)
    assert rotated.status_code == retried.status_code == 200, retried.text
    assert retried.json()["secret"] == rotated.json()["secret"] != first.json()["secret"]
    # One rotation happened: the first secret is the previous one, still signing.
    signing = pg.execute(
        "select count(*) from public.webhook_endpoints"
        " where id = %s and previous_secret_id is not null",
        (first.json()["id"],),
    ).fetchone()[0]
    assert signing == 1
    stored = pg.execute(
        "select string_agg(response::text, ' ') from private.idempotency_keys"
        " where key in (%s, %s)",
        (idem["idempotency-key"], rotate["idempotency-key"]),
    ).fetchone()[0]
    assert "whsec_" not in stored


def test_lists_page_with_a_cursor_and_credentials_show_webhook_status(api, merchant, receiver, pg):
    creds = api.client.get("/api/v1/merchant/credentials", headers=merchant.headers).json()
    assert creds["webhooks"] == {
        "endpoints": 0,
        "enabled": 0,
        "disabled": 0,
        "failing": 0,
        "last_delivery": None,
        "success_rate_24h": None,
    }
    first = endpoint(api, merchant, receiver.url)
    second = endpoint(api, merchant, "https://example.com/second")
    endpoint(api, merchant, "https://example.com/third")
    api.client.put(f"{HOOKS}/{second['id']}", headers=merchant.headers, json={"enabled": False})
    receiver.script = [(500, 0.0, {})]
    api.client.post(f"{HOOKS}/test", headers=merchant.headers, json={"endpoint_id": first["id"]})
    api.client.post(f"{HOOKS}/test", headers=merchant.headers, json={"endpoint_id": first["id"]})
    status = api.client.get("/api/v1/merchant/credentials", headers=merchant.headers).json()
    assert status["webhooks"]["endpoints"] == 3
    assert (status["webhooks"]["enabled"], status["webhooks"]["disabled"]) == (2, 1)
    assert status["webhooks"]["success_rate_24h"] == 0.5
    last = status["webhooks"]["last_delivery"]
    assert last["endpoint_id"] == first["id"] and last["status_code"] == 200

    # Endpoints, oldest first, two per page.
    page1 = api.client.get(HOOKS, headers=merchant.headers, params={"limit": 2}).json()
    page2 = api.client.get(
        HOOKS, headers=merchant.headers, params={"limit": 2, "cursor": page1["next_cursor"]}
    ).json()
    assert [e["id"] for e in page1["data"]] == [first["id"], second["id"]]
    assert len(page2["data"]) == 1 and page2["next_cursor"] is None
    # Events, newest first, filtered by type.
    for n in range(3):
        emit(pg, merchant.id, "payment.failed", {"n": n})
    failed = api.client.get(
        f"{HOOKS}/events", headers=merchant.headers, params={"type": "payment.failed", "limit": 2}
    ).json()
    rest = api.client.get(
        f"{HOOKS}/events",
        headers=merchant.headers,
        params={"type": "payment.failed", "limit": 2, "cursor": failed["next_cursor"]},
    ).json()
    seen = [e["payload"]["n"] for e in failed["data"] + rest["data"]]
    assert seen == [2, 1, 0] and rest["next_cursor"] is None
    bad = api.client.get(f"{HOOKS}/events", headers=merchant.headers, params={"cursor": "zz"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_parameter"


def test_event_types_are_a_catalogue(api, merchant, pg):
    listed = api.client.get(f"{HOOKS}/event-types", headers=merchant.headers)
    assert listed.status_code == 200
    types = {t["type"] for t in listed.json()["data"]}
    assert {"payment.succeeded", "refund.failed", "api_key.rotated"} <= types
    ok = endpoint(
        api, merchant, "https://example.com/a", event_types=["payment.*", "refund.failed"]
    )
    assert ok["event_types"] == ["payment.*", "refund.failed"]
    assert api.client.get(f"{HOOKS}/event-types").status_code == 401
    # Emitting a type outside the catalogue fails: every event a merchant gets is documented.
    with pytest.raises(Exception, match="webhook_events_type_fkey"):
        emit(pg, merchant.id, "payment.invented")


def test_deleting_an_endpoint_destroys_its_secrets_and_keeps_history(
    api, merchant, world, pg, receiver
):
    ep = endpoint(api, merchant, receiver.url)
    api.client.post(f"{HOOKS}/test", headers=merchant.headers, json={"endpoint_id": ep["id"]})
    api.client.post(f"{HOOKS}/{ep['id']}/rotate-secret", headers=merchant.headers)
    secrets = pg.execute(
        "select array[secret_id, previous_secret_id] from public.webhook_endpoints where id = %s",
        (ep["id"],),
    ).fetchone()[0]
    pending = emit(pg, merchant.id)  # a delivery still pending when the endpoint goes
    viewer = merchant.add(world, "viewer")
    other = Merchant(api, world, pg)
    assert api.client.delete(f"{HOOKS}/{ep['id']}", headers=viewer).status_code == 403
    assert api.client.delete(f"{HOOKS}/{ep['id']}", headers=other.headers).status_code == 404
    deleted = api.client.delete(f"{HOOKS}/{ep['id']}", headers=merchant.headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"id": ep["id"], "deleted": True, "pending_deliveries_skipped": 1}
    left = pg.execute(
        "select count(*) from vault.secrets where id = any(%s)", (secrets,)
    ).fetchone()[0]
    assert left == 0
    assert api.client.get(HOOKS, headers=merchant.headers).json()["data"] == []
    history = pg.execute(
        "select event_id, endpoint_id, status from public.webhook_deliveries"
        " where merchant_id = %s order by id",
        (merchant.id,),
    ).fetchall()
    assert len(history) == 2 and all(row[1] is None for row in history)
    assert history[1] == (pending, None, "skipped")
    events = api.client.get(f"{HOOKS}/events", headers=merchant.headers).json()["data"]
    assert {e["id"] for e in events} >= {pending}
    again = api.client.delete(f"{HOOKS}/{ep['id']}", headers=merchant.headers)
    assert again.status_code == 404
