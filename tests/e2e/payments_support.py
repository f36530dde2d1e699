"""What the payment tests share: a worker process to charge through, a gateway per provider on
the fake provider server, a merchant pinned to chosen gateways, and a customer who finishes
the provider's hosted page or approves a UPI request."""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import psycopg

from edge_adapter.fake_providers import FAKE_CREDENTIALS, overrides

from .conftest import ROOT, Api, FakeProviders, bearer, hs_token

PROVIDERS = ("sandbox", "razorpay", "cashfree", "payu", "phonepe", "paytm", "stripe")
# Test values each fake (like its real sandbox) answers with an outcome; None: no UPI there.
SUCCESS_VPA = {
    "sandbox": "success@sandbox",
    "razorpay": "success@razorpay",
    "cashfree": "testsuccess@gocash",
    "payu": "success@payu",
    "phonepe": "success@phonepe",
    "paytm": "buyer@paytm",
    "stripe": None,
}
FAILURE_VPA = {
    "sandbox": "failure@sandbox",
    "razorpay": "failure@razorpay",
    "cashfree": "testfailure@gocash",
    "payu": "failure@payu",
    "phonepe": "failure@phonepe",
    "paytm": "failure@paytm",
    "stripe": None,
}
WAITING_VPA = "customer@okbank"  # no automatic outcome: the customer approves later
TERMINAL = {"succeeded", "failed", "cancelled", "expired", "partially_refunded", "refunded"}


def wait_until(check: Callable[[], Any], timeout: float = 20.0, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {check}")
        time.sleep(every)


class Worker:
    """`python -m edge_adapter.worker` for the payment and webhook queues, as deployed."""

    def __init__(self, authenticator_url: str, api: Api, fake: FakeProviders, logs: Path):
        self.env = {
            **os.environ,
            "LSP_DATABASE_URL": authenticator_url,
            "LSP_PROVIDER_BASE_URLS": overrides(fake.base),
            "LSP_PUBLIC_BASE_URL": api.base_url,
            "LSP_PROVIDER_TIMEOUT_S": "2",
            "LSP_WEBHOOK_ALLOW_LOOPBACK": "true",
            "LSP_WEBHOOK_RETRY_SCHEDULE_S": "1,1,1,2,2",
            "LSP_WEBHOOK_TIMEOUT_S": "3",
            "LSP_POOL_MAX_SIZE": "20",
        }
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.logs / f"worker-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edge_adapter.worker",
                "--queues",
                "payment,webhook",
                "--poll-interval",
                "0.2",
                "--heartbeat-interval",
                "1",
                "--grace",
                "3",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()

    def log_text(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.logs.glob("worker-*.log")))


class Shop:
    """A merchant with an owner, an API key and a gateway allowlist, and the gateways."""

    def __init__(self, api: Api, pg: psycopg.Connection, fake: FakeProviders, world: Any):
        self.api = api
        self.pg = pg
        self.fake = fake
        self.admin = bearer(hs_token(world.admin()))
        self.owner = world.user("owner")
        self.id = world.merchant(self.owner)
        self.owner_headers = bearer(hs_token(self.owner))
        created = api.client.post(
            "/api/v1/merchant/credentials", headers=self.owner_headers, json={"name": "server"}
        )
        assert created.status_code == 201, created.text
        self.key = created.json()["key"]
        self.headers = bearer(self.key)

    def gateway(self, provider: str, *, environment: str = "test", **fields: Any) -> str:
        body = {
            "provider": provider,
            "display_name": f"{provider} {uuid.uuid4().hex[:6]}",
            "credentials": dict(FAKE_CREDENTIALS[provider]),
            "status": "active",
            "environment": environment,
            "currencies": ["INR"],
            "methods": ["upi", "card", "netbanking", "wallet"],
            **fields,
        }
        response = self.api.client.post("/api/v1/admin/gateways", headers=self.admin, json=body)
        assert response.status_code == 201, response.text
        gateway_id = response.json()["id"]
        # The provider's dashboard setting: where its webhooks go.
        self.fake.client.post(
            "/_webhooks", json={"provider": provider, "url": self.webhook_url(provider, gateway_id)}
        ).raise_for_status()
        return gateway_id

    def webhook_url(self, provider: str, gateway_id: str) -> str:
        return f"{self.api.base_url}/api/v1/providers/{provider}/webhooks/{gateway_id}"

    def route_to(self, *gateway_ids: str) -> None:
        response = self.api.client.put(
            f"/api/v1/admin/merchants/{self.id}/gateways",
            headers=self.admin,
            json={"gateway_ids": list(gateway_ids)},
        )
        assert response.status_code == 200, response.text

    def pay(self, method: str = "upi", vpa: str | None = None, amount: int = 10_000, **fields):
        body: dict[str, Any] = {
            "amount": amount,
            "currency": "INR",
            "method": method,
            # What a checkout page knows about its customer (Razorpay's S2S UPI needs all).
            "customer": {
                "email": "buyer@example.com",
                "phone": "+919876543210",
                "ip": "203.0.113.7",
                "user_agent": "Mozilla/5.0 (test)",
            },
            "return_url": "https://shop.example/return",
            **fields,
        }
        if vpa:
            body["upi"] = {"vpa": vpa}
        response = self.api.client.post("/api/v1/payments", headers=self.headers, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def get(self, payment_id: str) -> dict[str, Any]:
        # The owner sees both modes (the shop's API key sees test payments only).
        response = self.api.client.get(f"/api/v1/payments/{payment_id}", headers=self.owner_headers)
        assert response.status_code == 200, response.text
        return response.json()

    def status(self, payment_id: str) -> str:
        row = self.pg.execute(
            "select status from public.payments where id = %s", (payment_id,)
        ).fetchone()
        assert row
        return row[0]

    def wait_status(self, payment_id: str, *wanted: str, timeout: float = 25.0) -> dict:
        """Wait for the payment to reach one of `wanted`; every 2 s, run the reconciliation
        pg_cron would run every minute (status checks of what is still open)."""
        last = [time.monotonic()]

        def reached() -> bool:
            if self.status(payment_id) in wanted:
                return True
            if time.monotonic() - last[0] > 2:
                last[0] = time.monotonic()
                self.reconcile_now()
            return False

        wait_until(reached, timeout=timeout)
        return self.get(payment_id)

    def reconcile_now(self) -> None:
        """What the lsp-payment-checks pg_cron job does, without waiting for its minute: the
        next status check of this merchant's open payments and refunds is due now."""
        self.pg.execute(
            "update public.refunds set next_check_at = now()"
            " where merchant_id = %s and status = 'pending'",
            (self.id,),
        )
        self.pg.execute("select private.schedule_payment_checks()")

    def captures(self, payment_id: str) -> int:
        return int(self.fake.client.get("/_captures").json().get(payment_id, 0))

    def events(self, payment_id: str) -> list[str]:
        return [
            r[0]
            for r in self.pg.execute(
                "select type from public.webhook_events where merchant_id = %s"
                " and payload ->> 'id' = %s order by created_at, id",
                (self.id, payment_id),
            )
        ]

    def customer(self, payment: dict[str, Any], outcome: str = "success") -> None:
        """The customer finishes: the hosted page for a redirect, the UPI app otherwise."""
        action = payment["next_action"] or {}
        http = self.fake.client
        if action.get("type") == "redirect":
            if action.get("method") == "POST":  # PayU, Paytm: the browser posts a signed form
                posted = httpx.post(action["url"], data=action["fields"], timeout=5)
                assert posted.status_code == 303, posted.text
                page = urljoin(action["url"], posted.headers["location"])
            else:
                page = action["url"]
            done = httpx.post(f"{page}/complete", params={"outcome": outcome}, timeout=5)
            assert done.status_code == 200, done.text
            return
        attempt = payment["attempts"][-1]
        provider = attempt["provider"]
        for ref in (attempt["provider_order_id"], attempt["id"], attempt["provider_payment_id"]):
            if (
                ref
                and http.post(
                    f"/_hosted/{provider}/{ref}/complete", params={"outcome": outcome}
                ).status_code
                == 200
            ):
                return
        raise AssertionError(f"no hosted order to complete for {attempt}")


def pay_method(provider: str) -> tuple[str, str | None]:
    """How to pay this provider with an outcome the customer decides (a hosted page)."""
    return ("card", None) if provider == "stripe" else ("upi", WAITING_VPA)
