"""Product alerts and notifications through the API, and a gateway going down end to end: the
fake provider errors -> scheduled probes through the worker -> down -> an alert fires in the
same transaction -> an SSE subscriber receives it and the operators' destination gets it as
a signed webhook -> the provider recovers -> the alert resolves. (The rule engine itself,
kind by kind, is pgTAP 032.)"""

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from edge_adapter.fake_providers import FAKE_CREDENTIALS, overrides

from .conftest import ROOT, bearer, hs_token
from .test_stream import Shop, Stream

RULES = "/api/v1/admin/alert-rules"
ALERTS = "/api/v1/admin/alerts"
DESTINATIONS = "/api/v1/admin/alert-destinations"


@pytest.fixture
def admin(world) -> dict[str, str]:
    return bearer(hs_token(world.admin()))


@pytest.fixture
def no_destinations(api, admin) -> Iterator[None]:
    """Destinations receive every alert of the shared test database: none outlive a test."""
    yield
    api.client.put(DESTINATIONS, headers=admin, json={"destinations": []})


def wait_until(check, timeout: float = 30.0, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {check}"
        time.sleep(every)


def test_rules_are_listed_and_changed_by_admins_only(api, world, admin):
    rules = api.client.get(RULES, headers=admin)
    assert rules.status_code == 200
    kinds = {r["kind"] for r in rules.json()["data"]}
    assert kinds == {
        "gateway_down",
        "gateway_degraded",
        "gateway_success_drop",
        "gateway_latency_spike",
        "queue_backlog",
        "queue_stalled",
        "dead_letter_growth",
        "webhook_endpoint_failing",
        "rate_limit_breaches",
        "payment_failure_spike",
        "provider_settlement_mismatch",
    }
    drop = next(r for r in rules.json()["data"] if r["id"] == "gateway_success_drop")
    changed = api.client.put(
        RULES,
        headers=admin,
        json={"rules": [{"id": "gateway_success_drop", "min_volume": 50, "threshold": 0.25}]},
    )
    assert changed.status_code == 200, changed.text
    now = next(r for r in changed.json()["data"] if r["id"] == "gateway_success_drop")
    assert (now["min_volume"], now["threshold"], now["clear_threshold"]) == (
        50,
        0.25,
        drop["clear_threshold"],  # fields not sent keep their value
    )
    for body, status in (
        ({"rules": [{"id": "gateway_success_drop", "enabled": "yes"}]}, 400),
        ({"rules": [{"id": "gateway_success_drop", "threshold": "0.3"}]}, 400),
        ({"rules": [{"id": "gateway_success_drop", "window_s": 10}]}, 400),
        ({"rules": [{"id": "gateway_success_drop", "clear_threshold": 0.9}]}, 400),
        ({"rules": [{"id": "no_such_rule", "enabled": True}]}, 404),
    ):
        response = api.client.put(RULES, headers=admin, json=body)
        assert response.status_code == status, (body, response.text)
    restore = {k: drop[k] for k in ("threshold", "clear_threshold", "min_volume")}
    assert (
        api.client.put(
            RULES, headers=admin, json={"rules": [{"id": "gateway_success_drop", **restore}]}
        ).status_code
        == 200
    )
    member = Shop(world).headers
    assert api.client.get(RULES, headers=member).status_code == 403
    assert api.client.put(RULES, headers=member, json={"rules": [{"id": "x"}]}).status_code == 403
    assert api.client.get(ALERTS, headers=member).status_code == 403
    assert api.client.get(DESTINATIONS, headers=member).status_code == 403


def refusal(response: httpx.Response) -> tuple[int, str, str]:
    """Status, code, and the message with each field's problem (validation errors)."""
    error = response.json()["error"]
    details = error.get("details")
    listed = details if isinstance(details, list) else []
    problems = "".join(f"; {d['field']}: {d['problem']}" for d in listed)
    return response.status_code, error["code"], error["message"] + problems


def test_rule_values_that_would_silence_a_rule_are_refused_in_words(api, pg, admin):
    put = lambda *rules: api.client.put(RULES, headers=admin, json={"rules": list(rules)})  # noqa: E731
    assert refusal(put({"id": "payment_failure_spike", "threshold": 5})) == (
        400,
        "invalid_parameter",
        "threshold of rule payment_failure_spike must be above 0 and at most 1 "
        "(kind payment_failure_spike, unit: fraction)",
    )
    assert refusal(put({"id": "queue_backlog", "clear_threshold": 61})) == (
        400,
        "invalid_parameter",
        "clear_threshold of rule queue_backlog must be at most its threshold 60 "
        "(it resolves below clear_threshold)",
    )
    assert refusal(put({"id": "queue_backlog", "threshold": 70}, {"id": "queue_backlog"})) == (
        400,
        "invalid_parameter",
        "rule queue_backlog is listed twice",
    )
    assert refusal(put({"id": "gateway_latency_spike", "clear_threshold": 1}))[2] == (
        "clear_threshold of rule gateway_latency_spike must be above 1 and at most 100 "
        "(kind gateway_latency_spike, unit: ratio)"
    )
    # What no kind allows is refused by the model before the database.
    for change, field in (
        ({"threshold": 1e300}, "threshold"),
        ({"clear_threshold": -1}, "clear_threshold"),
        ({"min_volume": 99999999999}, "min_volume"),
    ):
        status, code, message = refusal(put({"id": "queue_backlog", **change}))
        assert (status, code) == (400, "invalid_request") and field in message, message
    assert "1000000" in refusal(put({"id": "queue_backlog", "min_volume": 99999999999}))[2]
    # null keeps the value, as the schema documents; a change that changes nothing writes
    # nothing (updated_at and updated_by stay).
    pg.execute("update public.alert_rules set updated_by = null where id = 'queue_backlog'")
    before = next(
        r for r in api.client.get(RULES, headers=admin).json()["data"] if r["id"] == "queue_backlog"
    )
    same = put({"id": "queue_backlog", "enabled": None, "threshold": before["threshold"]})
    assert same.status_code == 200, same.text
    after = next(r for r in same.json()["data"] if r["id"] == "queue_backlog")
    assert after == before and after["enabled"] is True and after["updated_by"] is None


def test_alerts_are_listed_acknowledged_and_merchants_see_their_own(api, world, pg, admin):
    shop = Shop(world)
    other = Shop(world)
    # A merchant-scoped condition: half of this merchant's payments failed.
    pg.execute(
        "insert into public.payments (merchant_id, mode, amount, currency, method, status)"
        " select %s, 'test', 100, 'INR', 'upi', 'failed' from generate_series(1, 25)",
        (shop.id,),
    )
    pg.execute("select private.evaluate_alerts(array['payment_failure_spike'])")
    listed = api.client.get(ALERTS, headers=admin, params={"state": "firing", "limit": 200})
    assert listed.status_code == 200
    alert = next(a for a in listed.json()["data"] if a["subject"]["id"] == shop.id)
    assert (alert["kind"], alert["merchant_id"], alert["value"]) == (
        "payment_failure_spike",
        shop.id,
        1,
    )
    own = api.client.get("/api/v1/merchant/alerts", headers=shop.headers).json()["data"]
    assert [a["id"] for a in own] == [alert["id"]]
    assert api.client.get("/api/v1/merchant/alerts", headers=other.headers).json()["data"] == []
    assert (
        api.client.get(
            "/api/v1/merchant/alerts", headers=other.headers, params={"merchant_id": shop.id}
        ).status_code
        == 403
    )
    ack = f"{ALERTS}/{alert['id']}/acknowledge"
    assert api.client.post(ack, headers=shop.headers).status_code == 403
    noted = api.client.post(ack, headers=admin, json={"note": "x"})
    assert refusal(noted)[:2] == (400, "invalid_request")  # no fields, like every route
    state = pg.execute("select state from public.alerts where id = %s", (alert["id"],))
    assert state.fetchone()[0] == "firing"
    first = api.client.post(ack, headers={**admin, "Idempotency-Key": f"ack-{alert['id']}"})
    assert first.status_code == 200 and first.json()["state"] == "acknowledged"
    again = api.client.post(ack, headers={**admin, "Idempotency-Key": f"ack-{alert['id']}"})
    assert again.headers.get("idempotent-replayed") == "true" and again.json() == first.json()
    assert api.client.get(ALERTS, headers=admin, params={"state": "open", "limit": 200}).json()
    pg.execute(
        "insert into public.payments (merchant_id, mode, amount, currency, method, status)"
        " select %s, 'test', 100, 'INR', 'upi', 'succeeded' from generate_series(1, 100)",
        (shop.id,),
    )
    pg.execute("select private.evaluate_alerts(array['payment_failure_spike'])")
    resolved = api.client.get("/api/v1/merchant/alerts", headers=shop.headers).json()["data"][0]
    assert (resolved["state"], resolved["resolution"]) == ("resolved", "cleared")
    assert api.client.post(ack, headers=admin).status_code == 422  # resolved already
    assert api.client.post(f"{ALERTS}/{shop.id}/acknowledge", headers=admin).status_code == 404
    pg.execute(
        "insert into public.payments (merchant_id, mode, amount, currency, method, status)"
        " select %s, 'test', 100, 'INR', 'upi', 'failed' from generate_series(1, 25)",
        (other.id,),
    )
    pg.execute("select private.evaluate_alerts(array['payment_failure_spike'])")
    page = api.client.get(ALERTS, headers=admin, params={"limit": 1}).json()
    assert len(page["data"]) == 1 and page["next_cursor"]
    after = api.client.get(
        ALERTS, headers=admin, params={"limit": 1, "cursor": page["next_cursor"]}
    ).json()
    assert after["data"][0]["fired_at"] <= page["data"][0]["fired_at"]
    assert after["data"][0]["id"] != page["data"][0]["id"]
    assert api.client.get(ALERTS, headers=admin, params={"state": "nope"}).status_code == 400


def test_members_list_their_notifications_and_mark_them_read(api, world, pg, admin):
    shop = Shop(world)
    developer = world.user("developer")
    pg.execute(
        "insert into public.merchant_members values (%s, %s, 'developer')", (shop.id, developer)
    )
    rows = pg.execute(
        "insert into public.notifications (merchant_id, user_id, kind, title) values"
        " (%s, %s, 'api_key.rotated', 'for the owner'),"
        " (%s, %s, 'api_key.rotated', 'for the developer'),"
        " (%s, null, 'webhook.endpoint_disabled', 'for everyone') returning id",
        (shop.id, shop.owner, shop.id, developer, shop.id),
    ).fetchall()
    mine, theirs, everyone = (r[0] for r in rows)
    for note in (mine, everyone):  # only its addressees mark it read, not a platform admin
        assert (
            api.client.post(
                f"/api/v1/merchant/notifications/{note}/read", headers=admin
            ).status_code
            == 404
        )
    assert (
        pg.execute(
            "select count(*) from public.notifications where id in (%s, %s) and read_at is null",
            (mine, everyone),
        ).fetchone()[0]
        == 2
    )
    listed = api.client.get("/api/v1/merchant/notifications", headers=shop.headers).json()
    assert [n["title"] for n in listed["data"]] == ["for everyone", "for the owner"]
    read = api.client.post(f"/api/v1/merchant/notifications/{mine}/read", headers=shop.headers)
    assert read.status_code == 200 and read.json()["read_at"]
    again = api.client.post(f"/api/v1/merchant/notifications/{mine}/read", headers=shop.headers)
    assert again.json()["read_at"] == read.json()["read_at"]  # idempotent
    unread = api.client.get(
        "/api/v1/merchant/notifications", headers=shop.headers, params={"unread": "true"}
    ).json()["data"]
    assert [n["id"] for n in unread] == [everyone]
    assert (
        api.client.post(
            f"/api/v1/merchant/notifications/{theirs}/read", headers=shop.headers
        ).status_code
        == 404  # another member's
    )
    stranger = Shop(world)
    assert (
        api.client.post(
            f"/api/v1/merchant/notifications/{everyone}/read", headers=stranger.headers
        ).status_code
        == 404
    )
    key = api.client.post(
        "/api/v1/merchant/credentials",
        headers=shop.headers,
        json={"merchant_id": shop.id, "name": "n"},
    ).json()["key"]
    as_key = api.client.get("/api/v1/merchant/notifications", headers=bearer(key)).json()["data"]
    assert [n["title"] for n in as_key] == ["for everyone"]  # API keys see merchant-wide ones
    assert (
        api.client.post(
            f"/api/v1/merchant/notifications/{everyone}/read", headers=bearer(key)
        ).status_code
        == 403
    )


def test_destinations_are_replaced_as_a_set_and_secrets_shown_once(
    api, admin, receiver, no_destinations
):
    url = receiver.url
    first = api.client.put(
        DESTINATIONS, headers=admin, json={"destinations": [{"url": url, "description": "pager"}]}
    )
    assert first.status_code == 200, first.text
    (dest,) = first.json()["data"]
    assert dest["secret"].startswith("whsec_") and dest["merchant_id"] is None
    assert dest["event_types"] == ["alert.*"]
    listed = api.client.get(DESTINATIONS, headers=admin).json()["data"]
    assert [d["url"] for d in listed] == [url] and "secret" not in listed[0]
    same = api.client.put(DESTINATIONS, headers=admin, json={"destinations": [{"url": url}]})
    assert [d["id"] for d in same.json()["data"]] == [dest["id"]]
    assert "secret" not in same.json()["data"][0]
    for body in (
        {"destinations": [{"url": "ftp://x"}]},
        {"destinations": [{"url": url}, {"url": url}]},
        {"destinations": [{"url": url, "colour": "red"}]},
    ):
        assert api.client.put(DESTINATIONS, headers=admin, json=body).status_code == 400, body
    assert (
        api.client.put(DESTINATIONS, headers=admin, json={"destinations": []}).json()["data"] == []
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/x",
        "http://0x7f.1/x",
        "http://2130706433/x",
        "https://[::ffff:a9fe:a9fe]/x",
        "https://[fd00::1]/x",
        "https://100.64.0.1/x",
        "http://metadata.google.internal/x",
    ],
)
def test_destinations_that_could_never_receive_are_refused(api, world, admin, url, no_destinations):
    answer = api.client.put(DESTINATIONS, headers=admin, json={"destinations": [{"url": url}]})
    status, code, message = refusal(answer)
    assert (status, code) == (400, "invalid_request") and "cannot receive webhooks" in message
    assert api.client.get(DESTINATIONS, headers=admin).json()["data"] == []
    shop = Shop(world)  # one helper: merchant endpoints are refused the same way
    endpoint = api.client.post(
        "/api/v1/merchant/webhooks", headers=shop.headers, json={"merchant_id": shop.id, "url": url}
    )
    assert refusal(endpoint)[:2] == (400, "invalid_request")


def test_readded_destinations_get_a_new_secret_and_admins_rotate_one(
    api, admin, receiver, no_destinations
):
    upper = "HTTP" + receiver.url[len("http") :]  # a scheme is case-insensitive
    first = api.client.put(DESTINATIONS, headers=admin, json={"destinations": [{"url": upper}]})
    assert first.status_code == 200, first.text
    (dest,) = first.json()["data"]
    assert dest["url"] == receiver.url and dest["secret"].startswith("whsec_")
    assert api.client.put(DESTINATIONS, headers=admin, json={"destinations": []}).status_code == 200
    again = api.client.put(
        DESTINATIONS, headers=admin, json={"destinations": [{"url": receiver.url, "enabled": None}]}
    )
    (back,) = again.json()["data"]
    assert (back["id"], back["enabled"]) == (dest["id"], True)
    assert back["secret"].startswith("whsec_") and back["secret"] != dest["secret"]
    rotated = api.client.post(
        f"/api/v1/merchant/webhooks/{dest['id']}/rotate-secret", headers=admin
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"] not in (dest["secret"], back["secret"])
    assert rotated.json()["previous_secret_expires_at"]


def test_a_gateway_going_down_alerts_live_and_at_the_destination_then_resolves(
    api, world, pg, admin, receiver, fake_providers, authenticator_url, tmp_path, no_destinations
):
    gateway = api.client.post(
        "/api/v1/admin/gateways",
        headers=admin,
        json={
            "provider": "razorpay",
            "display_name": "alert target",
            "status": "active",
            "credentials": FAKE_CREDENTIALS["razorpay"],
        },
    ).json()["id"]
    secret = api.client.put(
        DESTINATIONS, headers=admin, json={"destinations": [{"url": receiver.url}]}
    ).json()["data"][0]["secret"]
    env = {
        **os.environ,
        "LSP_DATABASE_URL": authenticator_url,
        "LSP_PROVIDER_BASE_URLS": overrides(fake_providers.base),
        "LSP_GATEWAY_CHECK_TIMEOUT_S": "1",
        "LSP_WEBHOOK_ALLOW_LOOPBACK": "true",
        "LSP_WEBHOOK_RETRY_SCHEDULE_S": "1,1,1",
        "LSP_WEBHOOK_TIMEOUT_S": "3",
    }
    # The test schedules probes itself, exactly as pg_cron's minute job does.
    pg.execute("update cron.job set active = false where jobname = 'lsp-gateway-probes'")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge_adapter.worker",
            "--queues",
            "gateway_health,webhook",
            "--poll-interval",
            "0.2",
        ],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / "worker.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    seen: list[dict] = []
    stream = Stream(api.base_url, {"topics": "admin:alerts,admin:gateways"}, admin, timeout=60)
    stream.until("ready")

    def listen() -> None:
        with contextlib.suppress(httpx.HTTPError):  # until the test closes the stream
            while (event := stream.next()) is not None:
                if event.event and event.data:
                    seen.append({"event": event.event, **event.data})

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()

    def probes() -> int:
        return pg.execute(
            "select count(*) from public.gateway_probes where gateway_id = %s", (gateway,)
        ).fetchone()[0]

    def run_probes(rounds: int) -> None:
        target = probes() + rounds
        for _ in range(rounds):
            with pg.transaction():
                pg.execute("set local role service_role")
                pg.execute("select private.enqueue_gateway_probes()")
        wait_until(lambda: probes() >= target)

    def health(to: str) -> list[dict]:
        return [
            e
            for e in seen
            if e["event"] == "gateway.health_changed"
            and e["data"]["gateway_id"] == gateway
            and e["data"]["to"] == to
        ]

    def down_alerts(event: str) -> list[dict]:
        return [
            e
            for e in seen
            if e["event"] == event
            and e["data"]["subject"]["id"] == gateway
            and e["data"]["kind"] == "gateway_down"
        ]

    def delivered(event_type: str) -> dict | None:
        for request in list(receiver.requests):
            data = json.loads(request["body"])["data"]
            if (
                json.loads(request["body"])["type"] == event_type
                and data["subject"]["id"] == gateway
                and data["kind"] == "gateway_down"
            ):
                return request
        return None

    try:
        run_probes(2)
        fake_providers.mode("razorpay", "error")
        run_probes(3)
        assert pg.execute(
            "select health_state from public.gateways where id = %s", (gateway,)
        ).fetchone() == ("down",)
        changed = wait_until(lambda: health("down"))
        assert changed[0]["data"]["from"] == "degraded"
        # Published by the probe's own transaction: no waiting for the minute's evaluation.
        (firing,) = wait_until(lambda: down_alerts("alert.firing"), timeout=5)
        assert firing["topic"] == "admin:alerts" and firing["data"]["severity"] == "critical"
        request = wait_until(lambda: delivered("alert.firing"))
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert Webhook(secret).verify(request["body"], headers)["data"]["kind"] == "gateway_down"
        run_probes(1)  # still down: the same alert, nothing new
        fake_providers.mode("razorpay", "ok")
        run_probes(2)
        (resolved,) = wait_until(lambda: down_alerts("alert.resolved"), timeout=5)
        assert resolved["data"]["id"] == firing["data"]["id"]
        assert len(down_alerts("alert.firing")) == 1
        wait_until(lambda: delivered("alert.resolved"))
    finally:
        pg.execute("update cron.job set active = true where jobname = 'lsp-gateway-probes'")
        stream.close()
        worker.terminate()
        worker.wait(timeout=20)
        pg.execute("update public.gateways set status = 'inactive' where id = %s", (gateway,))
