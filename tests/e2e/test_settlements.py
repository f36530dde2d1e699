"""Settlements end to end: a payment's net matures (T+0 here), pg_cron's job queues the
wallet, the worker makes the batch and pays it to the merchant's bank account through the
RazorpayX fake (one payout per attempt, the attempt's id as idempotency key), and the merchant
hears settlement.processed / settlement.failed. Failed payouts are retried, then reversed
back to available and carried by the next batch; a lost answer never pays twice; a new bank
account waits for its cooling-off."""

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from .conftest import ROOT, bearer, hs_token
from .payments_support import SUCCESS_VPA, Shop, Worker, wait_until

BANK = {
    "holder_name": "Settle Co Pvt Ltd",
    "ifsc": "HDFC0001234",
    "account_number": "50100123459012",
}
PAYOUT_ACCOUNT = {
    "provider": "razorpayx",
    "credentials": {
        "key_id": "rzp_test_fakeKey01",
        "key_secret": "fake_razorpay_secret_01",
        "account_number": "7878780080316316",
    },
}
SET = "update private.settings set value = %s::jsonb where key = %s"
COOLING_OFF = "payouts.bank_account_cooling_off_s"
FAST = {
    "payouts.retry_schedule_s": "[1, 1, 1]",
    "payouts.check_schedule_s": "[1]",
    "payouts.bank_account_cooling_off_s": "0",
}


class SettlementWorker(Worker):
    """The worker as deployed for settlements: payment, webhook and settlement queues."""

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.logs / f"worker-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edge_adapter.worker",
                "--queues",
                "payment,webhook,settlement",
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


@pytest.fixture(scope="module")
def worker(authenticator_url, api, fake_providers_server, tmp_path_factory, super_url):
    with psycopg.connect(super_url, autocommit=True) as conn:
        saved = dict(
            conn.execute(
                "select key, value::text from private.settings where key = any(%s)", (list(FAST),)
            ).fetchall()
        )
        for key, value in FAST.items():
            conn.execute(
                "update private.settings set value = %s::jsonb where key = %s", (value, key)
            )
        conn.execute(
            "update public.queue_controls set backoff_base_s = 0.5, backoff_max_s = 2"
            " where queue_name = 'settlement'"
        )
    w = SettlementWorker(
        authenticator_url, api, fake_providers_server, tmp_path_factory.mktemp("settle")
    )
    w.start()
    yield w
    w.stop_all()
    with psycopg.connect(super_url, autocommit=True) as conn:
        for key, value in saved.items():
            conn.execute(
                "update private.settings set value = %s::jsonb where key = %s", (value, key)
            )
        conn.execute(
            "update public.queue_controls set backoff_base_s = 1, backoff_max_s = 3600"
            " where queue_name = 'settlement'"
        )


@pytest.fixture
def shop(api, pg, fake_providers, world, worker, receiver) -> Iterator[Shop]:
    s = Shop(api, pg, fake_providers, world)
    s.route_to(s.gateway("sandbox"))
    priced = api.client.put(
        f"/api/v1/admin/merchants/{s.id}/pricing",
        headers=s.admin,
        json={
            "rates": {"upi": {"percent_bps": 200, "fixed": 0}},
            "state": None,
            "settlement_delay_days": 0,
        },
    )
    assert priced.status_code == 200, priced.text
    account = api.client.put(
        "/api/v1/admin/payout-accounts/test", headers=s.admin, json=PAYOUT_ACCOUNT
    )
    assert account.status_code == 200, account.text
    assert "fake_razorpay_secret_01" not in account.text
    hook = api.client.post(
        "/api/v1/merchant/webhooks",
        headers=s.owner_headers,
        json={"url": receiver.url, "event_types": ["settlement.*"]},
    )
    assert hook.status_code == 201, hook.text
    yield s


def set_bank(shop: Shop, **fields: Any) -> dict:
    response = shop.api.client.put(
        "/api/v1/merchant/bank-account",
        headers=shop.owner_headers,
        json={**BANK, **fields},
    )
    assert response.status_code == 200, response.text
    return response.json()


def settle_now(shop: Shop) -> None:
    """What the lsp-settlements pg_cron job does every 15 minutes."""
    shop.pg.execute("select private.enqueue_settlements()")


def settlements(shop: Shop) -> list[dict]:
    response = shop.api.client.get("/api/v1/settlements", headers=shop.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def settlement_events(receiver) -> list[dict]:
    return [json.loads(r["body"]) for r in receiver.requests]


def paid(shop: Shop, amount: int) -> dict:
    payment = shop.pay("upi", SUCCESS_VPA["sandbox"], amount=amount)
    return shop.wait_status(payment["id"], "succeeded")


def test_a_matured_payment_is_settled_and_paid_out_once(shop, receiver, fake_providers):
    bank = set_bank(shop)
    assert bank["account_number"] == "XXXXXXXX9012" and "50100123459012" not in json.dumps(bank)
    paid(shop, 10_000)
    paid(shop, 2_500)
    settle_now(shop)
    [s] = wait_until(lambda: [x for x in settlements(shop) if x["status"] == "processed"] or None)
    assert (s["gross"], s["fees"], s["tax"], s["refunds"], s["adjustments"], s["net"]) == (
        12_500,
        250,
        45,
        0,
        0,
        12_205,
    )
    assert s["payout"]["utr"] and s["mode"] == "test"
    detail = shop.api.client.get(f"/api/v1/settlements/{s['id']}", headers=shop.headers).json()
    assert sorted(line["amount"] for line in detail["lines"]) == [2_441, 9_764]
    [attempt] = detail["payouts"]
    assert attempt["status"] == "processed" and attempt["utr"] == s["payout"]["utr"]
    payouts = fake_providers.client.get("/_payouts").json()
    [sent] = [p for p in payouts if p["reference_id"] == s["id"]]
    assert sent["amount"] == 12_205 and sent["idempotency_key"] == attempt["id"]
    assert sent["beneficiary"] == "XXXX9012"
    event = wait_until(
        lambda: next(
            (e for e in settlement_events(receiver) if e["type"] == "settlement.processed"), None
        )
    )
    assert event["data"]["id"] == s["id"] and event["data"]["net"] == 12_205
    wallet = shop.api.client.get("/api/v1/wallets", headers=shop.headers).json()["data"][0]
    assert (wallet["pending"], wallet["available"]) == (0, 0)
    reconciled = shop.api.client.get(
        "/api/v1/admin/ledger/reconciliation", headers=shop.admin, params={"merchant_id": shop.id}
    ).json()
    assert reconciled["ok"] is True, reconciled


def test_a_payout_that_keeps_failing_goes_back_to_available_and_the_next_batch(
    shop, receiver, fake_providers
):
    set_bank(shop)
    fake_providers.client.post(
        "/_payouts/outcomes", json={"outcomes": ["failed", "failed", "failed"]}
    ).raise_for_status()
    paid(shop, 5_000)
    settle_now(shop)
    [failed] = wait_until(
        lambda: [x for x in settlements(shop) if x["status"] == "failed"] or None, timeout=30
    )
    assert failed["net"] == 4_882 and failed["payout"]["attempts"] == 3
    wallet = shop.api.client.get("/api/v1/wallets", headers=shop.headers).json()["data"][0]
    assert wallet["available"] == 4_882
    assert wait_until(
        lambda: any(e["type"] == "settlement.failed" for e in settlement_events(receiver))
    )
    settle_now(shop)  # the fake pays the next one
    again = wait_until(
        lambda: [x for x in settlements(shop) if x["status"] == "processed"] or None, timeout=30
    )
    assert (again[0]["gross"], again[0]["adjustments"], again[0]["net"]) == (0, 4_882, 4_882)
    attempts = [p for p in fake_providers.client.get("/_payouts").json()]
    assert len({p["idempotency_key"] for p in attempts}) == 4  # 3 failed + 1 processed


def test_a_lost_answer_is_sent_again_with_the_same_key_and_pays_once(shop, fake_providers):
    set_bank(shop)
    fake_providers.mode("razorpayx", "error_after_commit")
    paid(shop, 3_000)
    settle_now(shop)
    wait_until(lambda: fake_providers.calls().get("razorpayx", 0) >= 2, timeout=30)
    fake_providers.mode("razorpayx", "ok")
    [s] = wait_until(
        lambda: [x for x in settlements(shop) if x["status"] == "processed"] or None, timeout=30
    )
    sent = [
        p for p in fake_providers.client.get("/_payouts").json() if p["reference_id"] == s["id"]
    ]
    assert len(sent) == 1, sent
    detail = shop.api.client.get(f"/api/v1/settlements/{s['id']}", headers=shop.headers).json()
    assert len(detail["payouts"]) == 1


def test_a_new_bank_account_waits_for_its_cooling_off(shop, fake_providers, pg):
    pg.execute(SET, ("3600", COOLING_OFF))
    try:
        account = set_bank(shop)
    finally:
        pg.execute(SET, ("0", COOLING_OFF))
    assert account["usable"] is False
    notified = pg.execute(
        "select count(*) from public.notifications where merchant_id = %s"
        " and kind = 'bank_account.changed'",
        (shop.id,),
    ).fetchone()
    assert notified == (1,)
    paid(shop, 1_000)
    settle_now(shop)
    [s] = wait_until(
        lambda: (
            [x for x in settlements(shop) if x["payout"]["status"] == "waiting_for_bank_account"]
            or None
        )
    )
    assert s["status"] == "created" and s["payout"]["failure"] is None
    assert s["payout"]["usable_from"] == account["usable_from"]
    assert not [
        p for p in fake_providers.client.get("/_payouts").json() if p["reference_id"] == s["id"]
    ]


def test_only_owners_set_the_bank_account_and_merchants_see_only_their_settlements(
    shop, api, world
):
    developer = world.user("dev")
    api.client.put(
        f"/api/v1/merchants/{shop.id}/members/{developer}",
        headers=shop.owner_headers,
        json={"role": "developer"},
    ).raise_for_status()
    for headers in (bearer(hs_token(developer)), shop.headers, shop.admin):
        refused = api.client.put(
            "/api/v1/merchant/bank-account",
            headers=headers,
            json={**BANK, "merchant_id": shop.id},
        )
        assert refused.status_code == 403, refused.text
    bad = api.client.put(
        "/api/v1/merchant/bank-account",
        headers=shop.owner_headers,
        json={**BANK, "ifsc": "HDFC1234"},
    )
    assert bad.status_code == 400
    stranger = world.user("stranger")
    world.merchant(stranger)
    other = api.client.get(
        "/api/v1/settlements", headers=bearer(hs_token(stranger)), params={"merchant_id": shop.id}
    )
    assert other.status_code == 403
    assert (
        api.client.get(
            "/api/v1/settlements/stl_00000000000000000000", headers=shop.headers
        ).status_code
        == 404
    )
    assert (
        api.client.get("/api/v1/admin/ledger/reconciliation", headers=shop.headers).status_code
        == 403
    )


def test_retries_wait_for_their_schedule(shop, fake_providers, pg):
    """QA (issue 14): a failed attempt's next one comes at payouts.retry_schedule_s, not at
    the queue's backoff."""
    pg.execute(SET, ("[5, 5, 5]", "payouts.retry_schedule_s"))
    try:
        set_bank(shop)
        fake_providers.client.post(
            "/_payouts/outcomes", json={"outcomes": ["failed", "processed"]}
        ).raise_for_status()
        paid(shop, 4_000)
        settle_now(shop)
        [s] = wait_until(
            lambda: [x for x in settlements(shop) if x["payout"]["attempts"] == 1] or None
        )
        first = wait_until(
            lambda: (
                [
                    p
                    for p in fake_providers.client.get("/_payouts").json()
                    if p["reference_id"] == s["id"]
                ]
                or None
            )
        )
        [done] = wait_until(
            lambda: [x for x in settlements(shop) if x["status"] == "processed"] or None,
            timeout=30,
        )
        sent = [
            p for p in fake_providers.client.get("/_payouts").json() if p["reference_id"] == s["id"]
        ]
        assert len(sent) == 2 and done["payout"]["attempts"] == 2
        assert sent[1]["created_at"] - first[0]["created_at"] >= 4, sent
    finally:
        pg.execute(SET, ("[1, 1, 1]", "payouts.retry_schedule_s"))


def test_a_refused_payout_fails_at_once(shop, fake_providers, receiver):
    """A net the provider refuses (a 4xx validation error) is not retried."""
    set_bank(shop)
    shop.pg.execute(SET, ("1", "payouts.min_amount"))
    try:
        paid(shop, 100)  # net 97: RazorpayX refuses less than INR 1.00
        settle_now(shop)
        [s] = wait_until(
            lambda: [x for x in settlements(shop) if x["status"] == "failed"] or None, timeout=30
        )
    finally:
        shop.pg.execute(SET, ("100", "payouts.min_amount"))
    assert s["payout"]["attempts"] == 1 and s["payout"]["failure"]["code"] == (
        "input_validation_failed"
    )


def test_a_net_below_the_minimum_makes_no_batch(shop, fake_providers):
    set_bank(shop)
    shop.pg.execute(SET, ("10000", "payouts.min_amount"))
    try:
        paid(shop, 1_000)  # net 976 < payouts.min_amount (10000 here)
        settle_now(shop)
        shop.pg.execute("select pg_sleep(3)")
        assert settlements(shop) == []
    finally:
        shop.pg.execute(SET, ("100", "payouts.min_amount"))
    wallet = shop.api.client.get("/api/v1/wallets", headers=shop.headers).json()["data"][0]
    assert wallet["available"] + wallet["pending"] == 976


def test_a_payout_the_bank_returns_later_goes_back_to_available(shop, fake_providers, receiver, pg):
    """The reversal watch: RazorpayX reports payout.reversed after processed
    (https://razorpay.com/docs/webhooks/payloads/x/); the net goes back to available once."""
    pg.execute(SET, ("[1, 2, 3, 4]", "payouts.reversal_check_schedule_s"))
    try:
        set_bank(shop)
        fake_providers.client.post(
            "/_payouts/outcomes", json={"outcomes": ["processed"]}
        ).raise_for_status()
        paid(shop, 5_000)
        settle_now(shop)
        [s] = wait_until(
            lambda: [x for x in settlements(shop) if x["status"] == "processed"] or None
        )
        [sent] = [
            p for p in fake_providers.client.get("/_payouts").json() if p["reference_id"] == s["id"]
        ]
        fake_providers.client.post(
            f"/_payouts/{sent['id']}/complete", json={"outcome": "reversed"}
        ).raise_for_status()
        [back] = wait_until(
            lambda: [x for x in settlements(shop) if x["status"] == "failed"] or None, timeout=30
        )
    finally:
        pg.execute(SET, ("[3600, 21600, 86400, 259200]", "payouts.reversal_check_schedule_s"))
    assert (
        back["payout"]["status"] == "reversed" and back["payout"]["failure"]["code"] == "reversed"
    )
    wallet = shop.api.client.get("/api/v1/wallets", headers=shop.headers).json()["data"][0]
    assert wallet["available"] == 4_882
    assert wait_until(
        lambda: any(
            e["type"] == "settlement.failed" and e["data"]["id"] == s["id"]
            for e in settlement_events(receiver)
        )
    )
