"""The operator console (/console) in a real browser: Playwright driving Debian's Chromium
(`/usr/bin/chromium`, never a downloaded browser; scripts/test installs the `chromium`
package) against the API, database, fake providers and workers the other e2e tests use.

Covered: the page under its CSP and the token kept in session storage only; gateway CRUD
(create with a connection test, edit, reorder by dragging, test, archive); queue actions
(pause and resume, dead letters retried one, several and all, their attempts, clean); live
payments with their status changes, through a dropped and resumed connection without loss
or repeats; an alert when the fake provider fails, acknowledged; a merchant's 403 and an
expired token sent back to sign in; CORS from pages on other origins.

A failing test leaves a screenshot in .local/browser-screenshots/ (git-ignored).
Browser: LSP_CHROMIUM (default /usr/bin/chromium).
"""

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from edge_adapter.fake_providers import FAKE_CREDENTIALS, overrides
from tests.jobs import SCHEMA as JOBS_SCHEMA

from .conftest import ROOT, bearer, hs_token, running_api
from .payments_support import SUCCESS_VPA, WAITING_VPA, Shop, Worker, wait_until

CHROMIUM = os.environ.get("LSP_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / ".local" / "browser-screenshots"
GATEWAYS = "/api/v1/admin/gateways"
expect.set_options(timeout=15_000)


# -- the browser ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium package")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        line = f"browser tests: Playwright {version('playwright')}, Chromium {chromium.version}"
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            print(f"\n{line}")
        yield chromium
        chromium.close()


class Console:
    """One browser tab on the console, with what went wrong in it: uncaught errors and
    Content-Security-Policy violations (the page must satisfy its own CSP)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.base = ""
        self.problems: list[str] = []
        self.requests: list[dict[str, Any]] = []
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                self.problems.append(f"console: {message.text}")
                if "Content Security Policy" in message.text
                else None
            ),
        )
        page.on(
            "request",
            lambda request: self.requests.append(
                {
                    "method": request.method,
                    "url": request.url,
                    "authorization": request.headers.get("authorization"),
                    "body": request.post_data,
                }
            ),
        )

    def open(self, base: str, route: str = "") -> None:
        self.base = base
        self.page.goto(f"{base}/console{route}")

    def sign_in(self, token: str) -> None:
        self.page.fill("#token", token)
        self.page.click("#sign-in button[type=submit]")

    def go(self, route: str) -> None:
        self.page.goto(f"{self.base}/console{route}")

    def api_calls(self, method: str, path: str) -> list[dict[str, Any]]:
        return [
            r
            for r in self.requests
            if r["method"] == method and r["url"].split("?")[0].endswith(path)
        ]

    def assert_clean(self) -> None:
        assert self.problems == []


@pytest.fixture
def console(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    tab = Console(page)
    failed_before = request.session.testsfailed
    yield tab
    # The call's report is counted before fixtures are torn down.
    if request.session.testsfailed > failed_before:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(Exception):
            page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def admin_token(world: Any, ttl: int = 600) -> str:
    now = int(time.time())
    return hs_token(world.admin(), iat=now, exp=now + ttl)


# -- the page, its CSP and the token --------------------------------------------------------
def test_the_console_loads_without_a_token_under_its_csp_and_keeps_the_token_out_of_urls(
    api, world, console
):
    page = api.client.get("/console")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ):
        assert directive in csp
    assert "unsafe" not in csp and "data:" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    html = page.text
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []  # no inline script
    assert " style=" not in html and "<style" not in html
    assets = re.findall(r'(?:src|href)="(/console/assets/[^"]+)"', html)
    assert {"/console/assets/app.js", "/console/assets/console.css"} <= set(assets)
    for name in ("app.js", "api.js", "dom.js", "gateways.js", "queues.js", "live.js"):
        asset = api.client.get(f"/console/assets/{name}")
        assert asset.status_code == 200 and "javascript" in asset.headers["content-type"]
        assert asset.headers["content-security-policy"] == csp
        assert not re.search(r"https?://", asset.text)  # nothing from elsewhere (no CDN)
        # Text goes in as text: no HTML parsing of data, no eval.
        assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|eval\(", asset.text)
    assert api.client.get("/console/assets/nope.js").status_code == 404
    assert "/console" not in api.client.get("/openapi.json").json()["paths"]

    console.open(api.base_url)
    expect(console.page.locator("#sign-in")).to_be_visible()
    assert console.api_calls("GET", "/api/v1/me") == []  # nothing is called without a token
    token = admin_token(world)
    console.sign_in(token)
    expect(console.page.locator("#gateway-table")).to_be_visible()
    expect(console.page.locator("#who .badge")).to_have_text("admin")
    stored = console.page.evaluate(
        "() => [sessionStorage.getItem('lsp.console.token'), localStorage.length, document.cookie]"
    )
    assert stored == [token, 0, ""]
    calls = [r for r in console.requests if "/api/" in r["url"]]
    assert calls and all(r["authorization"] == f"Bearer {token}" for r in calls)
    assert all(token not in r["url"] for r in console.requests)
    assert token not in console.page.url
    console.page.click("#sign-out")
    expect(console.page.locator("#sign-in")).to_be_visible()
    assert console.page.evaluate("() => sessionStorage.length") == 0
    console.assert_clean()


# -- gateways -------------------------------------------------------------------------------
def gateway_row(console: Console, name: str):
    return console.page.locator(f'#gateway-table tbody tr[data-name="{name}"]')


def fill_gateway_form(console: Console, provider: str, name: str, **credentials: str) -> None:
    form = console.page.locator("#gateway-form")
    form.locator("select[name=provider]").select_option(provider)
    form.locator("input[name=display_name]").fill(name)
    for field, value in credentials.items():
        form.locator(f'input[data-credential="{field}"]').fill(value)


def test_gateway_crud_create_with_a_test_edit_reorder_by_dragging_and_archive(
    api, world, pg, fake_providers, console
):
    token = admin_token(world)
    admin = bearer(token)
    suffix = uuid.uuid4().hex[:6]
    first, second = f"Console razorpay {suffix}", f"Console sandbox {suffix}"
    console.open(api.base_url)
    console.sign_in(token)
    page = console.page
    expect(page.locator("#gateway-table")).to_be_visible()
    created: list[str] = []
    try:
        # Create with a test: wrong credentials are refused with the API's message.
        page.click("#new-gateway")
        creds = FAKE_CREDENTIALS["razorpay"]
        fill_gateway_form(console, "razorpay", first, key_id=creds["key_id"], key_secret="wrong")
        page.click("#gateway-form button[type=submit]")
        error = page.locator("#gateway-form .error")
        expect(error.locator(".message")).to_have_text(
            "the connectivity test failed, so the gateway was not saved"
        )
        expect(error).to_contain_text("auth_failed")
        assert pg.execute(
            "select count(*) from public.gateways where display_name = %s", (first,)
        ).fetchone() == (0,)
        # The right secret: tested, then saved; the list shows it with masked credentials.
        fill_gateway_form(
            console,
            "razorpay",
            first,
            key_id=creds["key_id"],
            key_secret=creds["key_secret"],
            webhook_secret=creds["webhook_secret"],
        )
        page.click("#gateway-form button[type=submit]")
        expect(page.locator("#gateway-messages .notice")).to_contain_text(
            f"Created {first} (connection test passed"
        )
        row = gateway_row(console, first)
        expect(row.locator("td.last-test")).to_contain_text("ok")
        expect(row.locator("td.credentials")).to_contain_text("key_secret")
        assert creds["key_secret"] not in row.inner_text()
        first_id = row.get_attribute("data-id")
        assert first_id
        created.append(first_id)

        # Edit: rename and a daily limit; only the changed fields are sent.
        row.locator("button.edit").click()
        form = page.locator("#gateway-form")
        form.locator("input[name=display_name]").fill(f"{first} edited")
        form.locator("input[name=daily_limit]").fill("500000")
        form.locator("button[type=submit]").click()
        first = f"{first} edited"
        expect(page.locator("#gateway-messages .notice")).to_have_text(f"Saved {first}.")
        expect(gateway_row(console, first).locator("td.today")).to_contain_text("5,00,000")
        (update,) = console.api_calls("PUT", f"{GATEWAYS}/{first_id}")
        assert json.loads(update["body"]) == {"display_name": first, "daily_limit": 500000}
        assert pg.execute(
            "select display_name, daily_limit, status from public.gateways where id = %s",
            (first_id,),
        ).fetchone() == (first, 500000, "active")

        # A second gateway, without the test this time.
        page.click("#new-gateway")
        fill_gateway_form(console, "sandbox", second, **FAKE_CREDENTIALS["sandbox"])
        page.locator("#gateway-form input[name=test]").uncheck()
        page.click("#gateway-form button[type=submit]")
        expect(page.locator("#gateway-messages .notice")).to_have_text(f"Created {second}.")
        second_id = gateway_row(console, second).get_attribute("data-id")
        assert second_id
        created.append(second_id)

        # Reorder by dragging the second onto the first: one call with the whole order.
        before = [
            r[0]
            for r in pg.execute(
                "select id::text from public.gateways where status <> 'archived'"
                " order by priority, id"
            )
        ]
        assert before[-2:] == [first_id, second_id]
        gateway_row(console, second).locator("td.handle").drag_to(gateway_row(console, first))
        expect(page.locator("#gateway-messages .notice")).to_have_text("Priority order saved.")
        (reorder,) = console.api_calls("PUT", f"{GATEWAYS}/priority")
        expected = [*before[:-2], second_id, first_id]
        assert json.loads(reorder["body"]) == {"gateway_ids": expected}
        after = [
            r[0]
            for r in pg.execute(
                "select id::text from public.gateways where status <> 'archived'"
                " order by priority, id"
            )
        ]
        assert after == expected
        order = page.locator("#gateway-table tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.id)"
        )
        assert order[-2:] == [second_id, first_id]

        # Test the connection of a saved gateway.
        gateway_row(console, second).locator("button.test").click()
        expect(page.locator("#gateway-messages .test-result")).to_contain_text(
            f"Connection to {second} OK"
        )
        # Archive, after a confirmation in the page.
        gateway_row(console, first).locator("button.archive").click()
        page.locator("#gateway-table button.confirm-archive").click()
        expect(page.locator("#gateway-messages .notice")).to_have_text(f"Archived {first}.")
        expect(gateway_row(console, first)).to_have_count(0)
        assert pg.execute(
            "select status from public.gateways where id = %s", (first_id,)
        ).fetchone() == ("archived",)
        page.locator("#show-archived").check()
        expect(gateway_row(console, first).locator("td.status")).to_have_text("archived")
        console.assert_clean()
    finally:
        for gateway_id in created:
            api.client.delete(f"{GATEWAYS}/{gateway_id}", headers=admin, params={"force": True})


# -- queues ---------------------------------------------------------------------------------
QUEUE = "settlement"  # a real queue (the API names only those), handled here by tests/jobs.py
CONTROLS = (
    "paused",
    "paused_reason",
    "paused_by",
    "paused_at",
    "max_attempts",
    "backoff_base_s",
    "backoff_max_s",
)


@pytest.fixture
def settlement_worker(pg, authenticator_url, tmp_path) -> Iterator[Callable[[], None]]:
    """The settlement queue run by tests.jobs:record_effect (a job whose key is in
    test_support.poison fails), 2 attempts with short backoff; restored afterwards."""
    pg.execute(JOBS_SCHEMA)
    pg.execute("truncate test_support.effects, test_support.deliveries, test_support.poison")
    saved = pg.execute(
        f"select {', '.join(CONTROLS)} from public.queue_controls where queue_name = %s", (QUEUE,)
    ).fetchone()
    for name in (QUEUE, f"{QUEUE}_dlq"):
        pg.execute("select pgmq.purge_queue(%s)", (name,))
    pg.execute(
        "update public.queue_controls set paused = false, paused_reason = null, max_attempts = 2,"
        " backoff_base_s = 0.2, backoff_max_s = 1 where queue_name = %s",
        (QUEUE,),
    )
    env = {**os.environ, "LSP_DATABASE_URL": authenticator_url, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge_adapter.worker",
            "--queues",
            QUEUE,
            "--handler",
            f"{QUEUE}=tests.jobs:record_effect",
            "--poll-interval",
            "0.2",
            "--heartbeat-interval",
            "0.5",
            "--grace",
            "2",
        ],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / "worker.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        yield lambda: None
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        for name in (QUEUE, f"{QUEUE}_dlq"):
            pg.execute("select pgmq.purge_queue(%s)", (name,))
        sets = ", ".join(f"{c} = %s" for c in CONTROLS)
        pg.execute(
            f"update public.queue_controls set {sets} where queue_name = %s", (*saved, QUEUE)
        )
        pg.execute("select pg_notify(private.channel('queue_controls'), 'all')")


def test_queue_actions_pause_resume_and_dead_letters_retried_with_their_attempts(
    api, world, pg, settlement_worker, console
):
    token = admin_token(world)
    admin = bearer(token)
    keys = [f"console-{uuid.uuid4().hex[:8]}-{n}" for n in range(4)]
    pg.execute("insert into test_support.poison select unnest(%s::text[])", (keys,))
    jobs = []
    for n, key in enumerate(keys):
        enqueued = api.client.post(
            "/api/v1/admin/queues/jobs",
            headers=admin,
            json={"queue": QUEUE, "payload": {"n": n}, "job_key": key},
        )
        assert enqueued.status_code == 201, enqueued.text
        jobs.append(enqueued.json()["job_id"])
    wait_until(
        lambda: pg.execute(f"select count(*) from pgmq.q_{QUEUE}_dlq").fetchone() == (4,),
        timeout=30,
    )
    pg.execute("truncate test_support.poison")  # from now on the jobs succeed

    console.open(api.base_url, "#/queues")
    console.sign_in(token)
    page = console.page
    row = page.locator(f'#queue-table tr[data-queue="{QUEUE}"]')
    expect(row.locator("td.failed")).to_have_text("4")

    # Pause (with a reason) and resume.
    row.locator("input[name=reason]").fill("console test: bank maintenance")
    row.locator("button.pause").click()
    expect(row.locator("td.paused")).to_contain_text("paused: console test: bank maintenance")
    expect(row).to_have_attribute("data-state", "paused")
    assert pg.execute(
        "select paused, paused_reason from public.queue_controls where queue_name = %s", (QUEUE,)
    ).fetchone() == (True, "console test: bank maintenance")
    row.locator("button.resume").click()
    expect(row.locator("td.paused")).to_have_text("no")
    assert pg.execute(
        "select paused from public.queue_controls where queue_name = %s", (QUEUE,)
    ).fetchone() == (False,)

    # One dead letter: its detail, the failed job's attempts with their errors, retry.
    dead = page.locator(f'section.dead-letters[data-queue="{QUEUE}"] tbody tr')
    expect(dead).to_have_count(4)
    dlq_ids = dead.evaluate_all("rows => rows.map(r => r.dataset.job)")
    first = dlq_ids[-1]  # the oldest
    page.locator(f'section.dead-letters tr[data-job="{first}"] a.job-link').first.click()
    expect(page.locator('#job dd[data-field="state"]')).to_have_text("failed")
    origin = page.locator('#job dd[data-field="origin"] a').inner_text()
    assert origin in jobs
    page.locator('#job dd[data-field="origin"] a').click()
    expect(page.locator('#job dd[data-field="state"]')).to_have_text("dead_lettered")
    attempts = page.locator("#attempts tbody tr")
    expect(attempts).to_have_count(2)
    for n in (1, 2):
        attempt = page.locator(f'#attempts tr[data-attempt="{n}"]')
        expect(attempt).to_have_attribute("data-outcome", "failed")
        expect(attempt.locator("td.error-text")).to_contain_text("ValueError: poison job")
    page.go_back()
    expect(page.locator('#job dd[data-field="state"]')).to_have_text("failed")
    page.locator("button.retry-job").click()
    result = page.locator("#job-messages .retry-result")
    expect(result).to_contain_text("Retried as")
    retried = result.locator("a").inner_text()
    assert retried.startswith(f"{QUEUE}:")
    result.locator("a").click()
    # The retried job runs; its detail shows the succeeded attempt and where it came from.
    deadline = time.monotonic() + 20
    while page.locator('#attempts tr[data-outcome="succeeded"]').count() == 0:
        assert time.monotonic() < deadline, "the retried job did not run"
        time.sleep(0.3)
        page.reload()
        page.locator("#job dl.facts").wait_for()
    expect(page.locator("ul.lineage")).to_contain_text(first)

    # Several (two selected), then all that are left.
    console.go("#/queues")
    rest = [j for j in dlq_ids if j != first]
    for job_id in rest[:2]:
        page.locator(f'section.dead-letters tr[data-job="{job_id}"] input[type=checkbox]').check()
    page.locator(f'section.dead-letters[data-queue="{QUEUE}"] button.retry-selected').click()
    expect(page.locator("#queue-messages .retry-result")).to_contain_text("Retried 2, skipped 0")
    expect(dead).to_have_count(1)
    row.locator("button.retry-all").click()
    expect(page.locator("#queue-messages .retry-result")).to_contain_text("Retried 1, skipped 0")
    wait_until(
        lambda: (
            pg.execute(
                "select count(*) from test_support.effects where job_key = any(%s)", (keys,)
            ).fetchone()
            == (4,)
        ),
        timeout=20,
    )
    assert pg.execute(f"select count(*) from pgmq.q_{QUEUE}_dlq").fetchone() == (0,)

    # Clean the completed jobs.
    clean = row.locator("form.clean-form")
    clean.locator("input[name=older_than_seconds]").fill("0")
    clean.locator("button[type=submit]").click()
    expect(page.locator("#queue-messages .clean-result")).to_contain_text(
        f"completed jobs of {QUEUE}"
    )
    calls = console.api_calls("POST", "/api/v1/admin/queues/retry")
    assert [json.loads(c["body"]) for c in calls] == [
        {"job_ids": [first]},
        {"job_ids": rest[:2]},
        {"queue": QUEUE, "limit": 10000},
    ]
    console.assert_clean()


# -- live events ------------------------------------------------------------------------------
class Relay:
    """A TCP relay between the browser and the API that the test can cut: every open
    connection is closed and new ones are refused until it is restored."""

    def __init__(self, target: str) -> None:
        host, port = target.removeprefix("http://").split(":")
        self.target = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.up = True
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.open |= {client, upstream}
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up = False
        with self.lock:
            for s in self.open:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.open.clear()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


def live_ids(pg: psycopg.Connection, payment_ids: list[str]) -> list[tuple[int, str, str]]:
    return [
        (r[0], r[1], r[2])
        for r in pg.execute(
            "select id, payload ->> 'id', event from private.live_events"
            " where topic = 'admin:payments' and payload ->> 'id' = any(%s) order by id",
            (payment_ids,),
        )
    ]


def console_trail(console: Console, payment_id: str) -> list[tuple[int, str, str]]:
    """(event id, event, status) of what the console showed for a payment, in order."""
    spans = console.page.locator(f'#payment-table tr[data-payment="{payment_id}"] td.trail span')
    return [
        (int(i), e, s)
        for i, e, s in spans.evaluate_all(
            "spans => spans.map(s => [s.dataset.eventId, s.dataset.event, s.dataset.status])"
        )
    ]


def test_live_payments_appear_with_their_status_changes_and_a_dropped_stream_loses_nothing(
    api, world, pg, fake_providers, authenticator_url, tmp_path, console
):
    shop = Shop(api, pg, fake_providers, world)
    shop.route_to(shop.gateway("sandbox"))
    # More payments than a page: the list paginates with the cursor.
    pg.execute(
        "insert into public.payments (merchant_id, mode, amount, currency, method, status)"
        " select %s, 'test', 100 * g, 'INR', 'upi', 'succeeded' from generate_series(1, 30) as g",
        (shop.id,),
    )
    worker = Worker(authenticator_url, api, fake_providers, tmp_path)
    worker.start()
    relay = Relay(api.base_url)  # the browser reaches the API (and the page) through it
    try:
        console.open(relay.base, "#/live")
        page = console.page
        with page.expect_response(lambda r: "/api/v1/admin/payments?" in r.url) as first:
            console.sign_in(admin_token(world))
        expect(page.locator("#connection-state")).to_have_attribute("data-state", "connected")
        expect(page.locator("#stream-state")).to_have_text("live: connected")
        assert "cursor=" not in first.value.url
        assert len(first.value.json()["data"]) == 25 and first.value.json()["next_cursor"]
        more = page.locator("button.more-payments")
        with page.expect_response(lambda r: "/api/v1/admin/payments?" in r.url) as second:
            more.click()
        assert "cursor=" in second.value.url
        next_page = second.value.json()["data"]
        assert next_page
        for payment in (*first.value.json()["data"], *next_page):
            expect(
                page.locator(f'#payment-table tr[data-payment="{payment["id"]}"]')
            ).to_be_attached()

        # A payment made through the API appears live, then each status change.
        waiting = shop.pay("upi", WAITING_VPA)
        row = page.locator(f'#payment-table tr[data-payment="{waiting["id"]}"]')
        expect(row).to_have_attribute("data-status", "requires_action")
        assert [(e, s) for _, e, s in console_trail(console, waiting["id"])] == [
            ("payment.created", "processing"),
            ("payment.requires_action", "requires_action"),
        ]
        expect(row).to_contain_text("100.00 INR")

        # The connection drops; what happens meanwhile arrives once it is back.
        relay.cut()
        expect(page.locator("#connection-state")).to_have_attribute("data-state", "reconnecting")
        shop.customer(shop.wait_status(waiting["id"], "requires_action"), "success")
        shop.wait_status(waiting["id"], "succeeded")
        paid = shop.pay("upi", SUCCESS_VPA["sandbox"])
        shop.wait_status(paid["id"], "succeeded")
        ids = [waiting["id"], paid["id"]]
        # Numbered for the stream while the browser was away.
        wait_until(
            lambda: sum(e == "payment.succeeded" for _, _, e in live_ids(pg, ids)) == 2,
            timeout=10,
        )
        assert page.locator("#connection-state").get_attribute("data-state") == "reconnecting"
        relay.restore()
        expect(page.locator("#connection-state")).to_have_attribute("data-state", "connected")
        expect(page.locator("#live-status")).to_contain_text("resumed after event")
        expect(row).to_have_attribute("data-status", "succeeded")
        expect(page.locator(f'#payment-table tr[data-payment="{paid["id"]}"]')).to_have_attribute(
            "data-status", "succeeded"
        )
        # Exactly the outbox's events for these payments, in order, none twice.
        published = live_ids(pg, ids)
        for payment_id in ids:
            assert [(i, e) for i, e, _ in console_trail(console, payment_id)] == [
                (i, e) for i, p, e in published if p == payment_id
            ]
        assert console_trail(console, waiting["id"])[-1][1:] == ("payment.succeeded", "succeeded")
        log = page.locator("#events li").evaluate_all("items => items.map(i => i.dataset.eventId)")
        assert len(log) == len(set(log))  # nothing shown twice
        streams = [c["url"] for c in console.requests if "/api/v1/stream?" in c["url"]]
        assert any("last_event_id=" in url for url in streams[1:]), "not resumed from its id"
        console.assert_clean()
    finally:
        relay.close()
        worker.stop_all()


def test_an_alert_appears_live_when_the_provider_fails_and_is_acknowledged(
    api, world, pg, fake_providers, authenticator_url, tmp_path, console
):
    admin_id = world.admin()
    token = hs_token(admin_id)
    admin = bearer(token)
    gateway = api.client.post(
        GATEWAYS,
        headers=admin,
        json={
            "provider": "razorpay",
            "display_name": f"console alert {uuid.uuid4().hex[:6]}",
            "status": "active",
            "credentials": FAKE_CREDENTIALS["razorpay"],
        },
    ).json()["id"]
    env = {
        **os.environ,
        "LSP_DATABASE_URL": authenticator_url,
        "LSP_PROVIDER_BASE_URLS": overrides(fake_providers.base),
        "LSP_GATEWAY_CHECK_TIMEOUT_S": "1",
    }
    # The test schedules the probes itself, as pg_cron's minute job does.
    pg.execute("update cron.job set active = false where jobname = 'lsp-gateway-probes'")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge_adapter.worker",
            "--queues",
            "gateway_health",
            "--poll-interval",
            "0.2",
        ],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / "worker.log").open("wb"),
        stderr=subprocess.STDOUT,
    )

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
        wait_until(lambda: probes() >= target, timeout=30)

    try:
        console.open(api.base_url, "#/live")
        console.sign_in(token)
        page = console.page
        expect(page.locator("#connection-state")).to_have_attribute("data-state", "connected")
        run_probes(1)
        fake_providers.mode("razorpay", "error")
        run_probes(3)
        assert pg.execute(
            "select health_state from public.gateways where id = %s", (gateway,)
        ).fetchone() == ("down",)
        change = page.locator(f'#health li[data-gateway="{gateway}"]').first
        expect(change).to_contain_text("→ down")
        alert = page.locator(f'#alert-table tr[data-kind="gateway_down"][data-subject="{gateway}"]')
        expect(alert).to_have_attribute("data-state", "firing")
        alert.locator("button.acknowledge").click()
        expect(alert).to_have_attribute("data-state", "acknowledged")
        expect(alert.locator("button.acknowledge")).to_have_count(0)
        alert_id = alert.get_attribute("data-alert")
        assert pg.execute(
            "select state, acknowledged_by::text from public.alerts where id = %s", (alert_id,)
        ).fetchone() == ("acknowledged", admin_id)
        # The acknowledgement also came back over the stream.
        expect(page.locator('#events li[data-event="alert.acknowledged"]').first).to_be_attached()
        console.assert_clean()
    finally:
        pg.execute("update cron.job set active = true where jobname = 'lsp-gateway-probes'")
        worker.terminate()
        worker.wait(timeout=20)
        pg.execute("update public.gateways set status = 'inactive' where id = %s", (gateway,))


# -- who may use it ---------------------------------------------------------------------------
def test_a_merchant_token_sees_the_403_message_and_an_expired_token_signs_in_again(
    api, world, console
):
    owner = world.user("owner")
    world.merchant(owner)
    console.open(api.base_url)
    console.sign_in(hs_token(owner))
    page = console.page
    expect(page.locator("#who .badge")).to_have_text("not a platform admin")
    denied = page.locator("#gateway-messages .error")
    expect(denied).to_have_attribute("data-status", "403")
    expect(denied.locator(".message")).to_have_text("this action needs the platform admin role")
    console.go("#/queues")
    expect(page.locator("#queue-messages .error .message")).to_have_text(
        "this action needs the platform admin role"
    )
    console.go("#/live")
    expect(page.locator("#connection-state")).to_have_attribute("data-state", "forbidden")
    expect(page.locator("#live-messages .error").first).to_have_attribute("data-status", "403")
    page.click("#sign-out")

    # An expired token: back to the sign-in form with the API's message.
    now = int(time.time())
    expiring = hs_token(world.admin(), iat=now, exp=now + 4)
    console.go("#/gateways")
    console.sign_in(expiring)
    expect(page.locator("#gateway-table")).to_be_visible()
    time.sleep(max(0.0, now + 4.5 - time.time()))
    page.locator("#page-gateways .toolbar button", has_text="Refresh").click()
    expect(page.locator("#sign-in-message")).to_have_text("the token has expired")
    assert page.evaluate("() => sessionStorage.getItem('lsp.console.token')") is None
    # Signing in with it again is refused the same way.
    console.sign_in(expiring)
    expect(page.locator("#sign-in-message")).to_have_text("the token has expired")
    expect(page.locator("#nav")).to_be_hidden()
    console.assert_clean()


# -- CORS from other origins ----------------------------------------------------------------
class PageServer:
    """A blank page on its own origin (127.0.0.1 and a port of its own)."""

    def __init__(self) -> None:
        body = b"<!doctype html><title>dashboard</title><p>another origin</p>"

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/html")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.origin = f"http://127.0.0.1:{self.server.server_port}"


# What a dashboard on another origin does: call the API, mint a stream token, open a stream.
CROSS_ORIGIN_PROBE = """
async ({api, token, streamToken}) => {
  const out = {};
  try {
    const me = await fetch(`${api}/api/v1/me`, {headers: {Authorization: `Bearer ${token}`}});
    out.me = me.status;
    out.requestId = me.headers.get('x-request-id');
  } catch (e) {
    out.me = 'blocked';
  }
  let sst = streamToken;
  try {
    const minted = await fetch(`${api}/api/v1/stream/tokens`, {
      method: 'POST',
      headers: {Authorization: `Bearer ${token}`, 'Content-Type': 'application/json'},
      body: JSON.stringify({topics: ['admin:alerts']}),
    });
    out.mint = minted.status;
    sst = sst || (await minted.json()).token;
  } catch (e) {
    out.mint = 'blocked';
  }
  out.stream = await new Promise((resolve) => {
    const source = new EventSource(`${api}/api/v1/stream?access_token=${encodeURIComponent(sst)}`);
    const done = (value) => { source.close(); resolve(value); };
    source.addEventListener('ready', () => done('ready'));
    source.onerror = () => done(source.readyState === EventSource.CLOSED ? 'blocked' : 'error');
    setTimeout(() => done('timeout'), 8000);
  });
  return out;
}
"""


def test_cross_origin_only_the_allowlisted_origin_can_call_the_api_and_open_a_stream(
    authenticator_url, jwks_url, fake_providers_server, world, browser, tmp_path
):
    allowed, other = PageServer(), PageServer()
    token = admin_token(world)
    context = browser.new_context()
    try:
        with running_api(
            authenticator_url,
            jwks_url,
            fake_providers_server.base,
            tmp_path / "api.log",
            LSP_CORS_ORIGINS=allowed.origin,
        ) as cors_api:
            results = {}
            for name, server in (("allowed", allowed), ("other", other)):
                # The other origin gets a stream token minted elsewhere: only CORS stops it.
                minted = httpx.post(
                    f"{cors_api.base_url}/api/v1/stream/tokens",
                    headers=bearer(token),
                    json={"topics": ["admin:alerts"]},
                )
                assert minted.status_code == 201, minted.text
                page = context.new_page()
                page.goto(server.origin)
                results[name] = page.evaluate(
                    CROSS_ORIGIN_PROBE,
                    {
                        "api": cors_api.base_url,
                        "token": token,
                        "streamToken": None if name == "allowed" else minted.json()["token"],
                    },
                )
                page.close()
            preflight = httpx.options(
                f"{cors_api.base_url}/api/v1/stream/tokens",
                headers={
                    "origin": other.origin,
                    "access-control-request-method": "POST",
                    "access-control-request-headers": "authorization,content-type",
                },
            )
    finally:
        context.close()
        allowed.server.shutdown()
        other.server.shutdown()
    assert results["allowed"]["me"] == 200 and results["allowed"]["requestId"]
    assert results["allowed"]["mint"] == 201
    assert results["allowed"]["stream"] == "ready"
    assert results["other"] == {"me": "blocked", "mint": "blocked", "stream": "blocked"}
    assert "access-control-allow-origin" not in preflight.headers
