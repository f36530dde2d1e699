"""Chaos: many payments through three gateways while the providers misbehave at random and
two workers are killed with SIGKILL. Nothing may be lost (every payment ends, or waits with
a re-check scheduled), nothing charged twice, and each merchant webhook arrives once per
state change (the receiver dedupes by webhook-id, as Standard Webhooks asks receivers to).

LSP_CHAOS_PAYMENTS sets how many payments (default 1000); LSP_CHAOS_SEED the faults' seed.
"""

import concurrent.futures
import json
import os
import random
import threading
import time
from collections import Counter, defaultdict

import httpx

from .payments_support import TERMINAL, Shop, Worker, wait_until

PAYMENTS = int(os.environ.get("LSP_CHAOS_PAYMENTS", "1000"))
SEED = int(os.environ.get("LSP_CHAOS_SEED", str(int(time.time()))))
FAULTS = ["ok", "ok", "ok", "error", "rate_limit", "error_after_commit", "slow"]


def test_chaos_loses_nothing_and_charges_once(
    api, pg, world, fake_providers, receiver, authenticator_url, super_url, tmp_path
):
    rng = random.Random(SEED)  # noqa: S311 - reproducible faults, not secrets
    print(f"chaos: {PAYMENTS} payments, seed {SEED}")
    pg.execute(
        "update public.queue_controls set visibility_timeout_s = 6, backoff_base_s = 0.5,"
        " backoff_max_s = 2, max_attempts = 20 where queue_name = 'payment'"
    )
    workers = Worker(authenticator_url, api, fake_providers, tmp_path)
    shop = Shop(api, pg, fake_providers, world)
    gateways = [
        shop.gateway(p, priority=i + 1) for i, p in enumerate(("sandbox", "razorpay", "cashfree"))
    ]
    shop.route_to(*gateways)
    limits = api.client.put(
        f"/api/v1/admin/merchants/{shop.id}/rate-limits",
        headers=shop.admin,
        json={"api_key_per_min": 1_000_000, "user_per_min": 1_000_000},
    )
    assert limits.status_code == 200, limits.text
    endpoint = api.client.post(
        "/api/v1/merchant/webhooks",
        headers=shop.owner_headers,
        json={"url": receiver.url, "event_types": ["payment.*"]},
    )
    assert endpoint.status_code == 201, endpoint.text
    stop = threading.Event()
    calm = threading.Event()

    def misbehave() -> None:
        while not (calm.wait(0.4) or stop.is_set()):
            provider = rng.choice(("sandbox", "razorpay", "cashfree"))
            fault = rng.choice(FAULTS)
            if fault == "slow":
                fake_providers.mode(provider, "ok", latency_ms=rng.randint(50, 400))
            else:
                fake_providers.mode(provider, fault)

    def customers() -> None:
        """Customers approve the UPI requests that reach them (cascades to razorpay/cashfree)."""
        while not stop.wait(0.5):
            waiting = pg.execute(
                "select id from public.payments where merchant_id = %s"
                " and status = 'requires_action' limit 50",
                (shop.id,),
            ).fetchall()
            for (payment_id,) in waiting:
                try:
                    shop.customer(shop.get(payment_id), "success")
                except (AssertionError, httpx.HTTPError):
                    pass  # a provider in a fault mode: try again next round

    procs = [workers.start(), workers.start()]
    chaos = [threading.Thread(target=misbehave), threading.Thread(target=customers)]
    for t in chaos:
        t.start()
    created: list[str] = []
    lock = threading.Lock()

    def pay(i: int) -> None:
        vpa = "success@sandbox" if i % 5 else "failure@sandbox"
        body = {"amount": 1000 + i, "currency": "INR", "method": "upi", "upi": {"vpa": vpa}}
        with httpx.Client(base_url=api.base_url, timeout=20) as client:
            response = client.post(
                "/api/v1/payments",
                headers={**shop.headers, "Idempotency-Key": f"chaos-{i}"},
                json=body,
            )
        assert response.status_code == 201, response.text
        with lock:
            created.append(response.json()["id"])

    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(pay, i) for i in range(PAYMENTS)]
            for n, future in enumerate(concurrent.futures.as_completed(futures)):
                future.result()
                if n in (PAYMENTS // 3, 2 * PAYMENTS // 3):
                    victim = procs.pop(0)
                    workers.kill(victim)
                    procs.append(workers.start())
        # Calm: the providers recover; reconciliation settles what the faults left open.
        calm.set()
        chaos[0].join()
        for provider in ("sandbox", "razorpay", "cashfree"):
            fake_providers.mode(provider, "ok")
        deadline = time.monotonic() + 90 + PAYMENTS / 20

        def settled() -> bool:
            open_rows = pg.execute(
                "select count(*) filter (where status not in"
                " ('succeeded','failed','cancelled','expired','partially_refunded','refunded')"
                " and next_check_at is null),"
                " count(*) filter (where status in ('processing'))"
                " from public.payments where merchant_id = %s",
                (shop.id,),
            ).fetchone()
            if open_rows[1]:
                shop.reconcile_now()
            return open_rows == (0, 0) or time.monotonic() > deadline

        wait_until(settled, timeout=100 + PAYMENTS / 10, every=1.0)
    finally:
        stop.set()
        calm.set()
        for t in chaos:
            t.join()
        pg.execute(
            "update public.queue_controls set visibility_timeout_s = 120, backoff_base_s = 1,"
            " backoff_max_s = 3600, max_attempts = 5 where queue_name = 'payment'"
        )

    assert len(created) == PAYMENTS
    rows = pg.execute(
        "select id, status, next_check_at is not null from public.payments where merchant_id = %s",
        (shop.id,),
    ).fetchall()
    statuses = Counter(r[1] for r in rows)
    print("chaos: statuses", dict(statuses))
    print(
        "chaos: failures",
        dict(
            pg.execute(
                "select failure_code, count(*) from public.payments where merchant_id = %s"
                " and status = 'failed' group by 1",
                (shop.id,),
            ).fetchall()
        ),
    )
    lost = [r for r in rows if r[1] not in TERMINAL and not r[2]]
    assert lost == [], f"lost payments: {lost[:5]}"
    assert statuses["processing"] == 0, statuses

    captures = fake_providers.client.get("/_captures").json()
    twice = {p: n for p, n in captures.items() if n > 1}
    assert twice == {}, f"charged twice: {twice}"
    for payment_id, status, _ in rows:
        wanted = 1 if status == "succeeded" else 0
        assert captures.get(payment_id, 0) == wanted, (payment_id, status)

    # Merchant webhooks: exactly one event id per payment state change reached the receiver.
    def delivered() -> dict[tuple[str, str], set[str]]:
        seen: dict[tuple[str, str], set[str]] = defaultdict(set)
        for request in list(receiver.requests):
            body = json.loads(request["body"])
            seen[(body["data"]["id"], body["type"])].add(request["headers"]["webhook-id"])
        return seen

    expected = {
        (payment_id, event_type)
        for payment_id, event_type in pg.execute(
            "select payload ->> 'id', type from public.webhook_events where merchant_id = %s",
            (shop.id,),
        ).fetchall()
    }
    try:
        wait_until(lambda: set(delivered()) >= expected, timeout=60)
    finally:
        workers.stop_all()
    seen = delivered()
    assert set(seen) == expected
    assert all(len(ids) == 1 for ids in seen.values())
    for payment_id, status, _ in rows:
        assert (payment_id, "payment.created") in seen
        if status in ("succeeded", "failed"):
            assert (payment_id, f"payment.{status}") in seen
