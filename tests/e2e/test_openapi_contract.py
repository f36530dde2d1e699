"""The OpenAPI document is a contract the running API keeps (issue 16 §5).

1. Every route answers the shape it documents: one valid call per route, its response
   validated by schemathesis' checks (status, content type, headers, body schema), and no
   answer carries a field the document does not name.
2. schemathesis fuzzes every operation (examples, coverage and fuzzing phases; no stateful
   links, no identifiers reused from answers) as three callers: an admin JWT, a merchant
   owner's JWT and that merchant's API key, with the checks not_a_server_error,
   status_code_conformance, content_type_conformance, response_headers_conformance and
   response_schema_conformance. Bounded: LSP_SCHEMATHESIS_EXAMPLES (default 5) examples
   per operation, about 15 s per caller here. Run longer by hand with more examples, or
   with LSP_SCHEMATHESIS_MAX_TIME seconds per caller (fuzzing then repeats until the time
   is spent), and LSP_SCHEMATHESIS_SEED for other cases (the default seed is fixed, so CI
   runs the same cases).

The run shares the test database with the other tests, so it works on a merchant made for
it and leaves nothing behind that others would trip over: the routes that act on every
queue (pause, clean, retry, enqueue), set settlement holidays or replace the alert
destinations are not fuzzed, nor marking notifications read as an admin (the first test
calls them with inputs that change nothing outside this test, or puts things back); each
fuzzing run must leave the merchants, admins, memberships, gateways, API keys, queue
controls, alert rules and destinations, holidays, payout accounts, pricing and other
merchants' notifications that existed before it as they were; the jobs its payments,
webhook events and settlements queued are removed afterwards.
"""

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import ANY
from xml.etree import ElementTree

import httpx
import psycopg
import pytest
import schemathesis
from schemathesis import checks

from edge_adapter.api.routes import ROUTES
from tests.conftest import World, insert_attempt

from .conftest import bearer, hs_token

CHECK_NAMES = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
CHECKS = [getattr(checks, name) for name in CHECK_NAMES]
EXAMPLES = int(os.environ.get("LSP_SCHEMATHESIS_EXAMPLES", "5"))
MAX_TIME = int(os.environ.get("LSP_SCHEMATHESIS_MAX_TIME", "0"))  # 0: until the examples are done
TIMEOUT = max(MAX_TIME, 60 + 6 * EXAMPLES) + 60  # a hung run fails instead of stalling CI
SEED = int(os.environ.get("LSP_SCHEMATHESIS_SEED", "20250115"))
# Routes that act on every queue of the shared database, or on platform-wide settings that
# random valid inputs would change for every test (a holiday on a random day, an empty list
# of alert destinations): the happy path covers them.
NOT_FUZZED = (
    "admin_pause_queue",
    "admin_clean_queue",
    "admin_retry_jobs",
    "enqueue_job",
    "admin_set_settlement_holiday",
    "admin_put_alert_destinations",
)
# As an admin: notification ids are small integers, so random ones mark other tests'
# notifications read (members reach only their own).
NOT_FUZZED_AS = {"admin": ("merchant_mark_notification_read",)}
UNLIMITED = 1_000_000
# schemathesis reuses identifiers it finds in answers (and in 4xx messages) as inputs of
# other operations: as an admin it would suspend other tests' merchants, archive their
# gateways, grant or revoke platform admins (itself included). Each operation gets
# generated values only; the first test covers the 2xx answers.
NO_HARVESTING = """
[phases.examples]
extra-data-sources.responses = false

[phases.coverage]
extra-data-sources.responses = false

[phases.fuzzing]
extra-data-sources.responses = false
error-feedback.enabled = false
"""


class Run:
    """A merchant made for the run, its owner, an admin and the merchant's API key."""

    def __init__(self, api: Any, conn: psycopg.Connection) -> None:
        self.api = api
        self.conn = conn
        world = World(conn)
        self.admin_id = world.admin()
        self.owner_id = world.user("owner")
        self.merchant = world.merchant(self.owner_id, name="Contract Merchant")
        # The admin is a viewer here too, so the merchant's raised user limit covers it.
        conn.execute(
            "insert into public.merchant_members values (%s, %s, 'viewer')",
            (self.merchant, self.admin_id),
        )
        ttl = {"exp": int(time.time()) + 3 * 3600}  # long hand-made runs stay authenticated
        self.admin = bearer(hs_token(self.admin_id, **ttl))
        self.owner = bearer(hs_token(self.owner_id, **ttl))
        self.limits = api.client.put(
            f"/api/v1/admin/merchants/{self.merchant}/rate-limits",
            headers=self.admin,
            json={"api_key_per_min": UNLIMITED, "user_per_min": UNLIMITED},
        )
        assert self.limits.status_code == 200, self.limits.text
        self.new_key = api.client.post(
            "/api/v1/merchant/credentials",
            headers=self.owner,
            json={"merchant_id": self.merchant, "name": "contract"},
        )
        assert self.new_key.status_code == 201, self.new_key.text
        self.key = bearer(self.new_key.json()["key"])

    def forget_queued_work(self) -> None:
        """Jobs this merchant's payments, refunds, webhook events and settlements queued, and
        the reconciliation checks they would get, are not for the tests that run after."""
        m = self.merchant
        self.conn.execute(
            "delete from pgmq.q_payment where message -> 'payload' ->> 'payment_id' in"
            " (select id from public.payments where merchant_id = %s)"
            " or message -> 'payload' ->> 'refund_id' in"
            " (select id from public.refunds where merchant_id = %s)",
            (m, m),
        )
        self.conn.execute(
            "delete from pgmq.q_webhook where message -> 'payload' ->> 'delivery_id' in"
            " (select id::text from public.webhook_deliveries where merchant_id = %s)",
            (m,),
        )
        self.conn.execute(
            "delete from pgmq.q_settlement where message -> 'payload' ->> 'settlement_id' in"
            " (select id from public.settlements where merchant_id = %s)"
            " or message -> 'payload' ->> 'wallet_id' in"
            " (select id::text from public.wallets where merchant_id = %s)",
            (m, m),
        )
        self.conn.execute(
            "update public.payments set next_check_at = null where merchant_id = %s", (m,)
        )
        self.conn.execute(
            "update public.refunds set next_check_at = null where merchant_id = %s", (m,)
        )
        self.conn.execute(
            "update public.webhook_endpoints set enabled = false where merchant_id = %s", (m,)
        )


@pytest.fixture(scope="module")
def run(api, super_url: str) -> Iterator[Run]:
    with psycopg.connect(super_url, autocommit=True) as conn:
        r = Run(api, conn)
        yield r
        r.forget_queued_work()


@pytest.fixture(scope="module")
def document(api) -> dict[str, Any]:
    response = api.client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


@pytest.fixture(scope="module")
def schema(document):
    return schemathesis.openapi.from_dict(document)


# 1. One valid call per route ------------------------------------------------------------------
def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def undocumented(
    document: dict[str, Any], schema: dict[str, Any], value: Any, at: str = "$"
) -> list[str]:
    """The paths of fields in `value` that `schema` does not name (objects with named
    properties only; free-form objects such as config or payload are free)."""
    schema = resolve(document, schema)
    if value is None:
        return []
    if "anyOf" in schema:
        kinds = {dict: "object", list: "array"}
        wanted = kinds.get(type(value))
        for branch in schema["anyOf"]:
            branch = resolve(document, branch)
            if wanted and branch.get("type") == wanted:
                return undocumented(document, branch, value, at)
        return []
    if isinstance(value, dict):
        properties = schema.get("properties")
        if properties is None:
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                return [
                    p
                    for k, v in value.items()
                    for p in undocumented(document, extra, v, f"{at}.{k}")
                ]
            return []
        found = [f"{at}.{k}" for k in value if k not in properties]
        for k, v in value.items():
            if k in properties:
                found += undocumented(document, properties[k], v, f"{at}.{k}")
        return found
    if isinstance(value, list) and "items" in schema:
        return [
            p
            for i, v in enumerate(value)
            for p in undocumented(document, schema["items"], v, f"{at}[{i}]")
        ]
    return []


class Caller:
    """Calls routes as they are documented and holds each answer to the document."""

    def __init__(self, api: Any, schema: Any, document: dict[str, Any]) -> None:
        self.api = api
        self.schema = schema
        self.document = document
        self.seen: set[tuple[str, str]] = set()

    def check(
        self, method: str, path: str, response: httpx.Response, **params: Any
    ) -> dict[str, Any]:
        operation = self.schema[path][method]
        case = operation.Case(**params)
        case.validate_response(response, checks=CHECKS)
        assert 200 <= response.status_code < 300, f"{method} {path}: {response.text}"
        body = response.json()
        doc_op = self.document["paths"][path][method.lower()]
        content = doc_op["responses"][str(response.status_code)]["content"]
        extra = undocumented(self.document, content["application/json"]["schema"], body)
        assert not extra, f"{method} {path} answers fields the document does not name: {extra}"
        self.seen.add((method, path))
        return body

    def call(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        *,
        path_parameters: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
        body: Any = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        url = path.format(**(path_parameters or {}))
        headers = dict(headers)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        response = self.api.client.request(
            method, url, headers=headers, params=query, json=body if body is not None else None
        )
        params: dict[str, Any] = {"headers": headers}
        if path_parameters:
            params["path_parameters"] = path_parameters
        if query:
            params["query"] = query
        if body is not None:
            params["body"] = body
        return self.check(method, path, response, **params)


def test_every_route_answers_the_shape_it_documents(api, run, schema, document, receiver):
    c = Caller(api, schema, document)
    admin, owner, key, m = run.admin, run.owner, run.key, run.merchant
    c.check(
        "PUT",
        "/api/v1/admin/merchants/{merchant_id}/rate-limits",
        run.limits,
        path_parameters={"merchant_id": m},
    )
    c.check("POST", "/api/v1/merchant/credentials", run.new_key)
    for who in (admin, owner, key):
        me = c.call("GET", "/api/v1/me", who)
    assert me["caller"] == "api_key" and me["merchant"]["id"] == m
    c.call("GET", "/api/v1/admin/audit-logs", admin, query={"table": "merchants", "limit": 5})

    # Merchants, members, admins, wallet: on a second merchant with its own owner, so the
    # run's owner stays in one merchant (its routes then need no merchant_id).
    idem = f"contract-{uuid.uuid4()}"
    user = World(run.conn).user("member")
    owner2_id = World(run.conn).user("owner")
    owner2 = bearer(hs_token(owner2_id))
    made = c.call(
        "POST",
        "/api/v1/admin/merchants",
        admin,
        body={"name": "Contract Co", "owner_user_id": owner2_id},
        idempotency_key=idem,
    )
    replay = api.client.post(
        "/api/v1/admin/merchants",
        headers={**admin, "Idempotency-Key": idem},
        json={"name": "Contract Co", "owner_user_id": owner2_id},
    )
    assert c.check("POST", "/api/v1/admin/merchants", replay) == made
    assert replay.headers["idempotent-replayed"] == "true"
    m2 = {"merchant_id": made["id"]}
    c.call(
        "PUT",
        "/api/v1/admin/merchants/{merchant_id}/status",
        admin,
        path_parameters=m2,
        body={"status": "active"},
    )
    member = {**m2, "user_id": user}
    c.call(
        "PUT",
        "/api/v1/merchants/{merchant_id}/members/{user_id}",
        owner2,
        path_parameters=member,
        body={"role": "developer"},
    )
    c.call(
        "DELETE",
        "/api/v1/merchants/{merchant_id}/members/{user_id}",
        owner2,
        path_parameters=member,
    )
    c.call("POST", "/api/v1/admin/platform-admins", admin, body={"user_id": user})
    c.call(
        "DELETE",
        "/api/v1/admin/platform-admins/{user_id}",
        admin,
        path_parameters={"user_id": user},
    )
    c.call(
        "PUT",
        "/api/v1/admin/merchants/{merchant_id}/live",
        admin,
        path_parameters=m2,
        body={"enabled": True},
    )
    c.call(
        "PUT",
        "/api/v1/admin/merchants/{merchant_id}/gateways",
        admin,
        path_parameters=m2,
        body={"gateway_ids": []},
    )

    # Queues, with inputs that change nothing outside this test.
    c.call("GET", "/api/v1/admin/queues", admin)
    c.call("GET", "/api/v1/admin/queues/stats", admin)
    c.call(
        "POST", "/api/v1/admin/queues/retry", admin, body={"job_ids": ["settlement_dlq:999999999"]}
    )
    c.call(
        "DELETE",
        "/api/v1/admin/queues/clean",
        admin,
        query={
            "queue": "settlement",
            "state": "completed",
            "older_than_seconds": 315360000,
            "limit": 1,
        },
    )
    paused = run.conn.execute(
        "select paused from public.queue_controls where queue_name = 'settlement'"
    ).fetchone()
    assert paused == (False,)
    c.call(
        "POST", "/api/v1/admin/queues/pause", admin, body={"paused": False, "queue": "settlement"}
    )
    job = c.call(
        "POST",
        "/api/v1/admin/queues/jobs",
        admin,
        body={"queue": "settlement", "payload": {"contract": True}, "delay_seconds": 604800},
        idempotency_key=f"contract-{uuid.uuid4()}",
    )
    try:
        c.call(
            "GET",
            "/api/v1/admin/queues/jobs/{job_id}",
            admin,
            path_parameters={"job_id": job["job_id"]},
        )
    finally:
        msg_id = int(job["job_id"].split(":")[1])
        run.conn.execute("select pgmq.delete('settlement', %s::bigint)", (msg_id,))

    # Gateways: one made here (inactive: never routed to), archived at the end.
    c.call("GET", "/api/v1/admin/gateways/catalog", admin)
    c.call("GET", "/api/v1/admin/gateways/health", admin)
    gw = c.call(
        "POST",
        "/api/v1/admin/gateways",
        admin,
        body={
            "provider": "sandbox",
            "display_name": "contract",
            "credentials": {"api_key": "contract-key", "api_secret": "contract-secret"},
        },
        idempotency_key=f"contract-{uuid.uuid4()}",
    )
    g = {"gateway_id": gw["id"]}
    listed = c.call("GET", "/api/v1/admin/gateways", admin)
    order = [x["id"] for x in listed["data"] if x["status"] != "archived"]
    c.call("PUT", "/api/v1/admin/gateways/priority", admin, body={"gateway_ids": order})
    c.call(
        "PUT",
        "/api/v1/admin/gateways/{gateway_id}",
        admin,
        path_parameters=g,
        body={"display_name": "contract 2"},
    )
    c.call("POST", "/api/v1/admin/gateways/{gateway_id}/test", admin, path_parameters=g)
    c.call(
        "POST",
        "/api/v1/admin/gateways/route",
        admin,
        body={"merchant_id": m, "amount": 1000, "currency": "INR", "method": "upi"},
    )

    # Payments: one made through the API and cancelled, one succeeded (made as the worker
    # would record it) and refunded.
    pay = c.call(
        "POST",
        "/api/v1/payments",
        key,
        body={
            "amount": 1000,
            "currency": "INR",
            "method": "upi",
            "upi": {"vpa": "success@sandbox"},
            "metadata": {"order": "contract"},
        },
        idempotency_key=f"contract-{uuid.uuid4()}",
    )
    p = {"payment_id": pay["id"]}
    c.call("GET", "/api/v1/payments", key, query={"limit": 5})
    c.call("GET", "/api/v1/admin/payments", admin, query={"merchant_id": m, "limit": 5})
    c.call("POST", "/api/v1/payments/{payment_id}/cancel", key, path_parameters=p)
    attempt = insert_attempt(run.conn, m, gw["id"], 1000, status="succeeded", latency_ms=120)
    paid = run.conn.execute(
        "update public.payments as p set status = 'succeeded', amount_captured = p.amount,"
        " gateway_id = a.gateway_id, provider = a.provider, attempt_count = 1"
        " from public.payment_attempts as a where a.id = %s and p.id = a.payment_id"
        " returning p.id",
        (attempt,),
    ).fetchone()
    assert paid
    c.call(
        "POST",
        "/api/v1/payments/{payment_id}/refunds",
        key,
        path_parameters={"payment_id": paid[0]},
        body={"amount": 400, "reason": "contract"},
        idempotency_key=f"contract-{uuid.uuid4()}",
    )
    detail = c.call(
        "GET", "/api/v1/payments/{payment_id}", key, path_parameters={"payment_id": paid[0]}
    )
    assert detail["attempts"] and detail["refunds"]
    c.call(
        "DELETE",
        "/api/v1/admin/gateways/{gateway_id}",
        admin,
        path_parameters=g,
        query={"force": True},
    )
    again = c.call("DELETE", "/api/v1/admin/gateways/{gateway_id}", admin, path_parameters=g)
    assert again["already_archived"] is True

    # Developer tools: keys, usage, webhooks.
    creds = {"merchant_id": m}
    spare = c.call("POST", "/api/v1/merchant/credentials", owner, body={**creds, "name": "spare"})
    c.call(
        "POST",
        "/api/v1/merchant/credentials/regenerate",
        owner,
        body={"key_id": spare["id"], "grace_seconds": 60},
    )
    c.call(
        "DELETE",
        "/api/v1/merchant/credentials/{key_id}",
        owner,
        path_parameters={"key_id": spare["id"]},
    )
    c.call("GET", "/api/v1/merchant/credentials", owner, query=creds)
    c.call("GET", "/api/v1/merchant/usage", key)
    ep = c.call(
        "POST",
        "/api/v1/merchant/webhooks",
        owner,
        body={
            **creds,
            "url": receiver.url,
            "event_types": ["webhook.test"],
            "description": "contract",
        },
        idempotency_key=f"contract-{uuid.uuid4()}",
    )
    e = {"endpoint_id": ep["id"]}
    sent = c.call("POST", "/api/v1/merchant/webhooks/test", owner, body=e)
    assert sent["delivered"] is True
    c.call("GET", "/api/v1/merchant/webhooks", key)
    c.call("GET", "/api/v1/merchant/webhooks/events", key, query={"type": "webhook.test"})
    c.call(
        "POST",
        "/api/v1/merchant/webhooks/deliveries/{delivery_id}/redeliver",
        owner,
        path_parameters={"delivery_id": str(sent["delivery_id"])},
    )
    c.call(
        "PUT",
        "/api/v1/merchant/webhooks/{endpoint_id}",
        owner,
        path_parameters=e,
        body={"description": "contract 2"},
    )
    c.call(
        "POST",
        "/api/v1/merchant/webhooks/{endpoint_id}/rotate-secret",
        owner,
        path_parameters=e,
        idempotency_key=f"contract-{uuid.uuid4()}",
    )
    c.call("GET", "/api/v1/merchant/webhooks/event-types", key)
    c.call("DELETE", "/api/v1/merchant/webhooks/{endpoint_id}", owner, path_parameters=e)

    live_events_and_alerts(c, run, receiver)
    ledger_and_settlements(c, run, gw["id"])
    analytics(c, run)

    run.forget_queued_work()
    table = {(r.method, r.path) for r in ROUTES} | {("GET", STREAM)}
    assert table <= c.seen, f"routes without a documented-shape check: {sorted(table - c.seen)}"


STREAM = "/api/v1/stream"


def read_stream(c: Caller, headers: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
    """Open a live stream, read it up to its `ready` event, hang up and hold what came to the
    document (as schemathesis reads a stream: what arrived before it stops reading)."""
    with c.api.client.stream("GET", STREAM, headers=headers, params=query) as opened:
        body = b""
        for chunk in opened.iter_bytes():
            body += chunk
            if b"event: ready" in body and body.endswith(b"\n\n"):
                break
        answer = httpx.Response(
            opened.status_code, headers=opened.headers, content=body, request=opened.request
        )
    answer.elapsed = opened.elapsed
    case = c.schema[STREAM]["GET"].Case(headers=headers, query=query)
    case.validate_response(answer, checks=CHECKS)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert b"retry: " in body and b"event: ready" in body
    c.seen.add(("GET", STREAM))
    ready = body.split(b"event: ready\ndata: ", 1)[1].split(b"\n", 1)[0]
    return json.loads(ready)


def live_events_and_alerts(c: Caller, run: Run, receiver: Any) -> None:
    """Stream tokens and streams, alert destinations (put back as they were), rules (set to
    what they are), an alert on the run's merchant, notifications."""
    admin, owner, key, m = run.admin, run.owner, run.key, run.merchant
    topic = f"merchant:{m}:notifications"
    token = c.call("POST", "/api/v1/stream/tokens", key, body={"topics": [topic]})
    assert token["topics"] == [topic]
    assert read_stream(c, {}, {"access_token": token["token"]})["topics"] == [topic]
    assert read_stream(c, owner, {"topics": f"merchant:{m}:payments"})["last_event_id"] >= 0
    c.call("POST", "/api/v1/stream/tokens", owner, body={"topics": [f"merchant:{m}:alerts"]})
    admin_topics = c.call("POST", "/api/v1/stream/tokens", admin, body={"topics": ["admin:alerts"]})
    assert read_stream(c, admin, {"topics": ",".join(admin_topics["topics"])})

    listed = c.call("GET", "/api/v1/admin/alert-destinations", admin)["data"]
    kept = [{k: d[k] for k in ("url", "description", "enabled")} for d in listed]
    added = c.call(
        "PUT",
        "/api/v1/admin/alert-destinations",
        admin,
        body={"destinations": [*kept, {"url": receiver.url, "description": "contract"}]},
    )
    [new] = [d for d in added["data"] if d["url"] == receiver.url]
    assert new["secret"].startswith("whsec_") and new["merchant_id"] is None
    back = c.call("PUT", "/api/v1/admin/alert-destinations", admin, body={"destinations": kept})
    assert [d["url"] for d in back["data"]] == [d["url"] for d in listed]

    rules = c.call("GET", "/api/v1/admin/alert-rules", admin)["data"]
    fields = ("id", "enabled", "severity", "threshold", "clear_threshold", "min_volume", "window_s")
    same = [{k: r[k] for k in fields} for r in rules[:1]]
    assert c.call("PUT", "/api/v1/admin/alert-rules", admin, body={"rules": same})["data"] == [
        {**r, "updated_at": ANY, "updated_by": ANY} for r in rules
    ]

    # Half of the run's merchant's payments failed: a merchant-scoped alert fires.
    run.conn.execute(
        "insert into public.payments (merchant_id, mode, amount, currency, method, status)"
        " select %s, 'test', 100, 'INR', 'upi', 'failed' from generate_series(1, 25)",
        (m,),
    )
    run.conn.execute("select private.evaluate_alerts(array['payment_failure_spike'])")
    firing = c.call("GET", "/api/v1/admin/alerts", admin, query={"state": "open", "limit": 200})
    assert any(a["merchant_id"] == m for a in firing["data"])
    [alert] = c.call("GET", "/api/v1/merchant/alerts", key, query={"state": "open"})["data"]
    assert c.call("GET", "/api/v1/merchant/alerts", owner)["data"][0]["id"] == alert["id"]
    c.call("GET", "/api/v1/merchant/alerts", admin, query={"merchant_id": m})
    acked = c.call(
        "POST",
        "/api/v1/admin/alerts/{alert_id}/acknowledge",
        admin,
        path_parameters={"alert_id": alert["id"]},
        idempotency_key=f"contract-{uuid.uuid4()}",
    )
    assert acked["state"] == "acknowledged" and acked["acknowledged_at"]

    # Setting the bank account notifies the owners.
    none = c.call("GET", "/api/v1/merchant/bank-account", key)
    assert none["id"] is None and none["merchant_id"] == m
    bank = c.call(
        "PUT",
        "/api/v1/merchant/bank-account",
        owner,
        body={"holder_name": "Contract Co", "ifsc": "HDFC0001234", "account_number": "501001234"},
        idempotency_key=f"contract-{uuid.uuid4()}",
    )
    assert bank["account_number"] == "XXXXXXXX1234"
    assert c.call("GET", "/api/v1/merchant/bank-account", owner)["id"] == bank["id"]
    unread = c.call("GET", "/api/v1/merchant/notifications", owner, query={"unread": True})
    note = next(n for n in unread["data"] if n["kind"] == "bank_account.changed")
    read = c.call(
        "POST",
        "/api/v1/merchant/notifications/{notification_id}/read",
        owner,
        path_parameters={"notification_id": str(note["id"])},
    )
    assert read["read_at"]
    c.call("GET", "/api/v1/merchant/notifications", key, query={"limit": 5})


def ledger_and_settlements(c: Caller, run: Run, gateway_id: str) -> None:
    """The run's merchant's test-mode wallet (its succeeded payment made it), adjustments, a
    settlement made as the settlement job would (its payout job removed, one failed payout
    attempt recorded), pricing, a holiday far away, reconciliation, a provider's settlement
    with a line we do not know."""
    admin, owner, key, m = run.admin, run.owner, run.key, run.merchant
    mp = {"merchant_id": m}
    c.call("GET", "/api/v1/admin/merchants/{merchant_id}/pricing", admin, path_parameters=mp)
    priced = c.call(
        "PUT",
        "/api/v1/admin/merchants/{merchant_id}/pricing",
        admin,
        path_parameters=mp,
        body={
            "rates": {"upi": {"percent_bps": 200, "fixed": 0}},
            "state": "KA",
            "settlement_delay_days": None,
        },
    )
    assert priced["rates"]["upi"]["default"] is False and priced["tax"] == "cgst_sgst"

    wallet = c.call(
        "POST",
        "/api/v1/admin/merchants/{merchant_id}/wallets",
        admin,
        path_parameters=mp,
        body={"currency": "INR", "mode": "test"},
    )
    w = {"wallet_id": wallet["id"]}
    for amount, account in ((10_000, "available"), (-2_500, "available"), (1_000, "reserve")):
        made = c.call(
            "POST",
            "/api/v1/admin/wallets/{wallet_id}/adjustments",
            admin,
            path_parameters=w,
            body={"amount": amount, "reason": "contract", "account": account},
            idempotency_key=f"contract-{uuid.uuid4()}",
        )
        assert made["amount"] == amount and made["wallet"]["id"] == wallet["id"]
    [listed] = c.call("GET", "/api/v1/wallets", key)["data"]  # a test key: test wallets
    assert listed["reserve"] == 1_000
    c.call("GET", "/api/v1/wallets", admin, query={"merchant_id": m, "mode": "test"})
    c.call("GET", "/api/v1/wallets", owner, query={"currency": "INR"})
    c.call(
        "GET",
        "/api/v1/wallets/{wallet_id}/transactions",
        owner,
        path_parameters=w,
        query={"account": "reserve", "limit": 1},
    )
    lines = c.call(
        "GET", "/api/v1/wallets/{wallet_id}/transactions", key, path_parameters=w, query={}
    )
    assert {"payment", "adjustment"} <= {t["kind"] for t in lines["data"]}

    made = run.conn.execute("select private.create_settlement(%s)", (wallet["id"],)).fetchone()[0]
    assert made and made.get("id"), made
    run.conn.execute(
        "insert into public.payouts (settlement_id, merchant_id, attempt_no, provider, amount,"
        " currency, mode, bank_account_id, status, failure_code, failure_message)"
        " select s.id, s.merchant_id, 1, 'razorpayx', s.net, s.currency, s.mode, b.id,"
        " 'failed', 'contract', 'recorded by the contract test'"
        " from public.settlements as s, public.merchant_bank_accounts as b"
        " where s.id = %s and b.merchant_id = s.merchant_id and b.status = 'active'",
        (made["id"],),
    )
    c.call("GET", "/api/v1/settlements", key)
    c.call("GET", "/api/v1/settlements", admin, query=mp)
    detail = c.call(
        "GET",
        "/api/v1/settlements/{settlement_id}",
        owner,
        path_parameters={"settlement_id": made["id"]},
    )
    assert detail["lines"] and detail["payouts"][0]["failure"]["code"] == "contract"
    c.call("GET", "/api/v1/admin/ledger/reconciliation", admin, query=mp)

    day = {"day": "2099-07-14"}
    c.call(
        "PUT",
        "/api/v1/admin/settlement-holidays/{day}",
        admin,
        path_parameters=day,
        body={"description": "contract"},
    )
    holidays = c.call("GET", "/api/v1/settlement-holidays", key, query={"from": "2099-07-01"})
    assert {"day": "2099-07-14", "description": "contract"} in holidays["data"]
    c.call("GET", "/api/v1/settlement-holidays", owner)
    c.call("DELETE", "/api/v1/admin/settlement-holidays/{day}", admin, path_parameters=day)

    c.call(
        "PUT",
        "/api/v1/admin/payout-accounts/{mode}",
        admin,
        path_parameters={"mode": "test"},
        body={
            "provider": "razorpayx",
            "credentials": {
                "key_id": "rzp_test_fakeKey01",
                "key_secret": "fake_razorpay_secret_01",
                "account_number": "7878780080316316",
            },
        },
    )
    report = {
        "settlement_id": f"contract-{uuid.uuid4()}",
        "currency": "INR",
        "utr": "CONTRACT0001",
        "settled_at": "2025-01-15T10:30:00Z",
        "items": [{"type": "payment", "entity_id": "pay_contract", "amount": 700, "fee": 14}],
    }
    run.conn.execute(
        "select private.ingest_provider_settlement(%s, %s::jsonb)",
        (gateway_id, json.dumps(report)),
    )
    theirs = c.call(
        "GET", "/api/v1/admin/provider-settlements", admin, query={"gateway_id": gateway_id}
    )
    assert theirs["data"][0]["unmatched"][0]["match"] == "unknown"


def analytics(c: Caller, run: Run) -> None:
    admin, owner, key, m = run.admin, run.owner, run.key, run.merchant
    c.call("GET", "/api/v1/analytics", owner, query={"mode": "test", "currency": "INR"})
    c.call(
        "GET",
        "/api/v1/analytics/payments",
        owner,
        query={"mode": "test", "granularity": "day", "group_by": "method"},
    )
    overview = c.call("GET", "/api/v1/analytics", key)
    assert overview["mode"] == "test" and overview["windows"]["today"]["payments"] > 0
    c.call("GET", "/api/v1/analytics", admin, query={"mode": "test"})
    for group_by in (None, "method", "gateway", "status"):
        query = {"group_by": group_by} if group_by else {}
        found = c.call("GET", "/api/v1/analytics/payments", key, query=query)
        assert found["groups"], group_by
    c.call(
        "GET",
        "/api/v1/analytics/payments",
        admin,
        query={"merchant_id": m, "mode": "test", "granularity": "minute", "from": ago(600)},
    )
    c.call(
        "GET",
        "/api/v1/analytics/payments",
        admin,
        query={"mode": "test", "granularity": "day", "group_by": "merchant"},
    )


def ago(seconds: int) -> str:
    return datetime.fromtimestamp(time.time() - seconds, UTC).isoformat()


# 2. schemathesis, as three callers --------------------------------------------------------------
STATE = {
    "merchants": "select id::text, jsonb_build_array(status, live_enabled, updated_at)"
    " from public.merchants",
    "platform_admins": "select user_id::text, true from public.platform_admins",
    "merchant_members": "select merchant_id || ':' || user_id, role from public.merchant_members",
    "gateways": "select id::text, jsonb_build_array(status, priority, updated_at)"
    " from public.gateways",
    "api_keys": "select id::text, revoked_at from public.api_keys",
    "queue_controls": "select queue_name, paused from public.queue_controls",
    "alert_rules": "select id, to_jsonb(r) - 'updated_at' - 'updated_by' from public.alert_rules r",
    "alert_destinations": "select id::text, jsonb_build_array(url, enabled, disabled_reason)"
    " from public.webhook_endpoints where merchant_id is null",
    "settlement_holidays": "select day::text, description from public.settlement_holidays",
    "payout_accounts": "select mode, updated_at from private.payout_accounts",
    "notifications": "select id::text, read_at from public.notifications where merchant_id"
    " not in (select id from public.merchants where name = 'Contract Merchant')",
    "merchant_pricing": "select merchant_id::text, updated_at from public.merchant_pricing",
}


def others_state(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    """Rows the fuzzing must leave as they are (rows it creates are its own)."""
    return {name: dict(conn.execute(query).fetchall()) for name, query in STATE.items()}


def schemathesis_cli() -> list[str]:
    exe = Path(sys.executable).with_name("schemathesis")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "schemathesis.cli"]


@pytest.mark.parametrize("caller", ["admin", "owner", "key"])
def test_schemathesis_finds_no_contract_violation(api, run, document, caller, tmp_path):
    headers = {"admin": run.admin, "owner": run.owner, "key": run.key}[caller]
    config = tmp_path / "schemathesis.toml"
    config.write_text(NO_HARVESTING)
    command = [
        *schemathesis_cli(),
        "--config-file",
        str(config),
        "run",
        f"{api.base_url}/openapi.json",
        "--url",
        api.base_url,
        "--checks",
        ",".join(CHECK_NAMES),
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",  # hypothesis' lambda descriptions are not thread-safe: runtime errors with 2
        "--request-timeout",
        "15",
        "--header",
        f"Authorization: {headers['Authorization']}",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
        "--output-sanitize",
        "true",
    ]
    if MAX_TIME:
        command += ["--max-time", str(MAX_TIME)]
    not_fuzzed = (*NOT_FUZZED, *NOT_FUZZED_AS.get(caller, ()))
    for operation_id in not_fuzzed:
        command += ["--exclude-operation-id", operation_id]
    before = others_state(run.conn)
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    took = time.monotonic() - started
    run.forget_queued_work()
    after = others_state(run.conn)
    changed = {k: v for k, v in before.items() if {r: after[k].get(r) for r in v} != v}
    assert not changed, f"the run as {caller} changed rows it was not given: {sorted(changed)}"
    output = done.stdout + done.stderr
    (tmp_path / "schemathesis.log").write_text(output)
    assert done.returncode == 0, f"schemathesis as {caller} ({took:.0f} s):\n{output[-20000:]}"
    # Every operation but the queue-wide ones was exercised, and none failed.
    report = next(tmp_path.glob("junit*.xml"))  # written just now by schemathesis itself
    suite = ElementTree.parse(report).getroot()  # noqa: S314
    operations = sum(len(item) for item in document["paths"].values())
    assert suite.get("tests") == str(operations - len(not_fuzzed)), output[-3000:]
    assert suite.get("failures") == suite.get("errors") == "0", output[-3000:]
    # The credentials work: most operations answer something other than 401/403.
    refused = re.search(r"Authentication failed: (\d+) operations", output)
    assert refused is None or int(refused.group(1)) < operations // 2, output[-3000:]
    print(f"schemathesis as {caller}: {took:.0f} s, log {tmp_path / 'schemathesis.log'}")
