"""The queue management API over HTTP: what the operators' monitoring screen calls."""

import uuid

import psycopg
import pytest

from .conftest import bearer, hs_token

ENDPOINTS = [
    ("GET", "/api/v1/admin/queues", None, None),
    ("GET", "/api/v1/admin/queues/stats", None, None),
    ("POST", "/api/v1/admin/queues/retry", None, {"queue": "payment"}),
    ("DELETE", "/api/v1/admin/queues/clean", {"queue": "payment", "state": "failed"}, None),
    ("POST", "/api/v1/admin/queues/pause", None, {"paused": True, "reason": "x"}),
    ("GET", "/api/v1/admin/queues/jobs/payment:1", None, None),
    ("POST", "/api/v1/admin/queues/jobs", None, {"queue": "payment", "payload": {}}),
]


def state_fingerprint(pg: psycopg.Connection) -> tuple:
    """What a request could change. Left out: what pg_cron does meanwhile (payment and refund
    checks it queues every minute, audit rows of its own jobs, which carry no request id)."""
    return pg.execute(
        "select (select count(*) from pgmq.q_payment"
        "   where message ->> 'key' not like 'check:%%'"
        "     and message ->> 'key' not like 'refund_check:%%'),"
        " (select count(*) from pgmq.q_payment_dlq),"
        " (select count(*) from pgmq.a_payment_dlq), (select count(*) from public.job_lineage),"
        " (select string_agg(paused::text, ',' order by queue_name) from public.queue_controls),"
        " (select count(*) from audit.log where request_id is not null)"
    ).fetchone()


@pytest.fixture
def admin(world) -> dict[str, str]:
    return bearer(hs_token(world.admin()))


@pytest.fixture
def dead_letters(pg: psycopg.Connection) -> list[str]:
    """Three dead letters in payment_dlq, as the worker leaves them."""
    pg.execute("select pgmq.purge_queue('payment_dlq')")
    pg.execute("select pgmq.purge_queue('payment')")
    ids = []
    for n in range(3):
        msg = {
            "key": f"dl-{uuid.uuid4()}",
            "payload": {"n": n, "card": {"cvv": "123"}},
            "origin": f"payment:{1000 + n}",
            "attempts": 5,
            "last_error": {"class": "ValueError", "message": "declined"},
        }
        row = pg.execute(
            "select pgmq.send('payment_dlq', %s::jsonb, 0)", (psycopg.types.json.Jsonb(msg),)
        ).fetchone()
        ids.append(f"payment_dlq:{row[0]}")
    return ids


@pytest.mark.parametrize(("method", "path", "params", "body"), ENDPOINTS)
def test_every_queue_endpoint_refuses_merchants_and_anon(
    api, world, pg, method, path, params, body
):
    owner = world.user("owner")
    world.merchant(owner)
    before = state_fingerprint(pg)
    forbidden = api.client.request(
        method, path, params=params, json=body, headers=bearer(hs_token(owner))
    )
    assert forbidden.status_code == 403, forbidden.text
    anonymous = api.client.request(method, path, params=params, json=body)
    assert anonymous.status_code == 401
    assert state_fingerprint(pg) == before


@pytest.mark.parametrize(
    ("method", "path", "params", "body"),
    [
        ("POST", "/api/v1/admin/queues/retry", None, {"queue": "emails"}),
        ("POST", "/api/v1/admin/queues/retry", None, {"queue": "payment", "delay_seconds": -1}),
        ("POST", "/api/v1/admin/queues/retry", None, {"queue": "payment", "limit": 10**9}),
        ("POST", "/api/v1/admin/queues/retry", None, {"job_ids": ["payment:abc"]}),
        ("POST", "/api/v1/admin/queues/retry", None, {"job_ids": []}),
        ("POST", "/api/v1/admin/queues/retry", None, {}),
        (
            "POST",
            "/api/v1/admin/queues/retry",
            None,
            {"queue": "payment", "job_ids": ["payment_dlq:1"]},
        ),
        ("POST", "/api/v1/admin/queues/retry", None, {"job_ids": ["payment:1"]}),
        ("DELETE", "/api/v1/admin/queues/clean", {"queue": "nope", "state": "failed"}, None),
        ("DELETE", "/api/v1/admin/queues/clean", {"queue": "payment", "state": "running"}, None),
        (
            "DELETE",
            "/api/v1/admin/queues/clean",
            {"queue": "payment", "state": "failed", "older_than_seconds": -5},
            None,
        ),
        (
            "DELETE",
            "/api/v1/admin/queues/clean",
            {"queue": "payment", "state": "failed", "limit": 0},
            None,
        ),
        ("POST", "/api/v1/admin/queues/pause", None, {"paused": True}),
        ("POST", "/api/v1/admin/queues/pause", None, {"paused": "maybe", "reason": "x"}),
        (
            "POST",
            "/api/v1/admin/queues/pause",
            None,
            {"paused": True, "queue": "nope", "reason": "x"},
        ),
        ("GET", "/api/v1/admin/queues/jobs/payment:-1", None, None),
        ("GET", "/api/v1/admin/queues/jobs/emails:1", None, None),
        ("GET", "/api/v1/admin/queues/jobs/payment:99999999999999999999", None, None),
        ("POST", "/api/v1/admin/queues/jobs", None, {"queue": "payment", "payload": [1]}),
        (
            "POST",
            "/api/v1/admin/queues/jobs",
            None,
            {"queue": "payment", "payload": {}, "delay_seconds": -3},
        ),
    ],
)
def test_bad_input_is_a_4xx_and_changes_nothing(
    api, admin, pg, dead_letters, method, path, params, body
):
    before = state_fingerprint(pg)
    response = api.client.request(method, path, params=params, json=body, headers=admin)
    assert response.status_code in (400, 404, 422), response.text
    assert "error" in response.json()
    assert state_fingerprint(pg) == before


def test_overview_lists_every_queue_with_depths_rates_and_state(api, admin, dead_letters):
    body = api.client.get("/api/v1/admin/queues", headers=admin).json()
    by_name = {q["queue"]: q for q in body["data"]}
    assert set(by_name) == {"payment", "webhook", "settlement", "gateway_health"}
    payment = by_name["payment"]
    assert payment["failed"] == 3
    assert {
        "pending",
        "delayed",
        "processing",
        "oldest_pending_age_s",
        "rates",
        "state",
        "latest_failed",
        "settings",
    } <= set(payment)
    assert payment["latest_failed"][0]["last_error"]["class"] == "ValueError"
    assert set(payment["rates"]) == {"enqueued", "completed", "failed"}
    assert set(payment["rates"]["completed"]) == {"1m", "5m", "1h"}


def test_stats_give_an_hour_of_minutes_and_the_workers(api, admin):
    body = api.client.get("/api/v1/admin/queues/stats", headers=admin).json()
    assert len(body["series"]["payment"]) == 60
    assert isinstance(body["workers"], list)


def test_retry_by_id_moves_dead_letters_back_once_with_lineage(api, admin, pg, dead_letters):
    first = api.client.post(
        "/api/v1/admin/queues/retry",
        headers=admin,
        json={"job_ids": dead_letters[:2], "delay_seconds": 0},
    )
    assert first.status_code == 200, first.text
    assert first.json()["retried"] == 2
    moved = first.json()["jobs"][0]
    job = api.client.get(f"/api/v1/admin/queues/jobs/{moved['to']}", headers=admin).json()
    assert job["state"] == "pending"
    assert job["lineage"][0]["from"] == moved["from"]
    assert job["payload"]["card"]["cvv"] == "[redacted]"
    again = api.client.post(
        "/api/v1/admin/queues/retry", headers=admin, json={"job_ids": dead_letters[:2]}
    )
    assert (again.json()["retried"], again.json()["skipped"]) == (0, 2)
    old = api.client.get(f"/api/v1/admin/queues/jobs/{dead_letters[0]}", headers=admin).json()
    assert old["state"] == "retried"
    audit = pg.execute(
        "select count(*) from audit.log where action = 'queue.retry' and new_values::text like %s",
        (f"%{moved['to']}%",),
    ).fetchone()
    assert audit == (1,)


def test_retry_all_of_a_queue_respects_the_limit(api, admin, dead_letters):
    response = api.client.post(
        "/api/v1/admin/queues/retry", headers=admin, json={"queue": "payment", "limit": 2}
    )
    assert response.json()["retried"] == 2
    rest = api.client.post("/api/v1/admin/queues/retry", headers=admin, json={"queue": "payment"})
    assert rest.json()["retried"] == 1


def test_clean_archives_failed_jobs_unless_deletion_is_asked(api, admin, pg, dead_letters):
    archived = api.client.request(
        "DELETE",
        "/api/v1/admin/queues/clean",
        headers=admin,
        params={"queue": "payment", "state": "failed", "older_than_seconds": 0, "limit": 2},
    )
    assert archived.json() == {
        "queue": "payment",
        "state": "failed",
        "cleaned": 2,
        "action": "archived",
    }
    job = api.client.get(f"/api/v1/admin/queues/jobs/{dead_letters[0]}", headers=admin).json()
    assert job["state"] == "discarded"  # still queryable
    deleted = api.client.request(
        "DELETE",
        "/api/v1/admin/queues/clean",
        headers=admin,
        params={"queue": "payment", "state": "failed", "older_than_seconds": 0, "delete": True},
    )
    assert deleted.json()["cleaned"] == 1
    gone = api.client.get(f"/api/v1/admin/queues/jobs/{dead_letters[2]}", headers=admin)
    assert gone.status_code == 404
    assert pg.execute("select count(*) from pgmq.q_payment_dlq").fetchone() == (0,)


def test_pause_and_resume_all_queues_is_audited(api, admin, pg):
    paused = api.client.post(
        "/api/v1/admin/queues/pause",
        headers=admin,
        json={"paused": True, "reason": "db maintenance"},
    )
    assert paused.status_code == 200
    assert paused.json()["queues"] == ["gateway_health", "payment", "settlement", "webhook"]
    overview = api.client.get("/api/v1/admin/queues", headers=admin).json()
    assert {q["state"] for q in overview["data"]} == {"paused"}
    assert overview["data"][0]["paused"]["reason"] == "db maintenance"
    resumed = api.client.post("/api/v1/admin/queues/pause", headers=admin, json={"paused": False})
    assert len(resumed.json()["queues"]) == 4
    audited = pg.execute(
        "select count(*) from audit.log where table_name = 'queue_controls' and action = 'update'"
        " and new_values ->> 'paused_reason' = 'db maintenance'"
    ).fetchone()
    assert audited == (4,)


def test_enqueue_then_inspect_a_job(api, admin):
    created = api.client.post(
        "/api/v1/admin/queues/jobs",
        headers=admin,
        json={
            "queue": "settlement",
            "payload": {"batch": 7, "api_secret": "s3cr3t"},
            "delay_seconds": 60,
            "job_key": f"settle-{uuid.uuid4()}",
        },
    )
    assert created.status_code == 201
    job = api.client.get(
        f"/api/v1/admin/queues/jobs/{created.json()['job_id']}", headers=admin
    ).json()
    assert job["state"] == "delayed"
    assert job["payload"] == {"batch": 7, "api_secret": "[redacted]"}
    assert "s3cr3t" not in str(job)


def test_job_payloads_are_masked_by_name_and_card_numbers_by_value(api, admin):
    """The review's cases: an Authorization header and a card number came back verbatim."""
    created = api.client.post(
        "/api/v1/admin/queues/jobs",
        headers=admin,
        json={
            "queue": "settlement",
            "payload": {
                "authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig",
                "card_number": "4111111111111111",
                "Proxy-Authorization": "Basic dXNlcjpwYXNz",
                "headers": {"Cookie": "session=abc", "X-Api-Key": "lsp_test_x"},
                "note": "customer card 4242 4242 4242 4242",
                "amount": 1000,
            },
            "delay_seconds": 3600,
        },
    )
    assert created.status_code == 201, created.text
    job = api.client.get(
        f"/api/v1/admin/queues/jobs/{created.json()['job_id']}", headers=admin
    ).json()
    assert job["payload"] == {
        "authorization": "[redacted]",
        "card_number": "[redacted]",
        "Proxy-Authorization": "[redacted]",
        "headers": {"Cookie": "[redacted]", "X-Api-Key": "[redacted]"},
        "note": "customer card ************4242",
        "amount": 1000,
    }
