"""Provider settlements end to end: payments captured through Razorpay's and the sandbox's
fakes, a refund, then each provider settles; the worker fetches the provider's report
(Razorpay's settlement recon API, the sandbox's report), matches it to our payments and
refunds, clears each gateway's provider clearing account and reports what did not match.
Fetching the same day again changes nothing."""

from datetime import UTC, datetime

import pytest

from .payments_support import SUCCESS_VPA, Shop, wait_until
from .test_settlements import worker  # noqa: F401 - the settlement worker fixture


@pytest.fixture
def shop(api, pg, fake_providers, world, worker) -> Shop:  # noqa: F811
    return Shop(api, pg, fake_providers, world)


def clearing(shop: Shop, gateway_id: str) -> int:
    row = shop.pg.execute(
        "select coalesce(sum(private.balance_of(a)), 0) from public.ledger_accounts as a"
        " where a.kind = 'provider_clearing' and a.gateway_id = %s",
        (gateway_id,),
    ).fetchone()
    assert row
    return int(row[0])


def fetch_reports(shop: Shop, gateway_id: str) -> None:
    """What pg_cron's lsp-provider-reports queues each morning, for one gateway and today."""
    shop.pg.execute(
        "select private.enqueue('settlement', jsonb_build_object('provider_report', %s::text,"
        " 'day', %s::text), 0, null)",
        (gateway_id, datetime.now(UTC).date().isoformat()),
    )


def provider_settlements(shop: Shop, gateway_id: str) -> list[dict]:
    response = shop.api.client.get(
        "/api/v1/admin/provider-settlements",
        headers=shop.admin,
        params={"gateway_id": gateway_id},
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


@pytest.mark.parametrize("provider", ["razorpay", "sandbox"])
def test_a_providers_settlement_clears_its_payments_and_reports_the_rest(shop, provider):
    gateway = shop.gateway(provider)
    shop.route_to(gateway)
    payments = [
        shop.wait_status(shop.pay("upi", SUCCESS_VPA[provider], amount=a)["id"], "succeeded")
        for a in (10_000, 4_000)
    ]
    refund = shop.api.client.post(
        f"/api/v1/payments/{payments[0]['id']}/refunds",
        headers=shop.headers,
        json={"amount": 2_500},
    )
    assert refund.status_code == 201, refund.text
    shop.wait_status(payments[0]["id"], "partially_refunded")
    assert wait_until(lambda: clearing(shop, gateway) == 11_500)
    ran = shop.fake.client.post(
        "/_settlements/run",
        json={"provider": provider, "extra": [{"type": "payment", "amount": 777}]},
    )
    assert ran.status_code == 200, ran.text
    fetch_reports(shop, gateway)
    [settled] = wait_until(lambda: provider_settlements(shop, gateway) or None)
    assert settled["provider_settlement_id"] == ran.json()["id"]
    assert settled["utr"] == ran.json()["utr"]
    assert settled["status"] == "mismatched" and settled["lines"] == 4
    [unknown] = settled["unmatched"]
    assert (unknown["match"], unknown["amount"]) == ("unknown", 777)
    # 2% fee + 18% GST per payment, as the fake charges: 200 + 36 and 80 + 14.
    assert (settled["fees"], settled["tax"]) == (280, 50)
    assert settled["amount"] == 10_000 + 4_000 - 2_500 + 777 - 280 - 50
    assert clearing(shop, gateway) == 0, "every matched payment and refund cleared"
    fetch_reports(shop, gateway)  # the next morning's job sees the same day again
    shop.pg.execute("select pg_sleep(1.5)")
    assert len(provider_settlements(shop, gateway)) == 1
    posted = shop.pg.execute(
        "select count(*) from public.ledger_entries where kind = 'provider_settlement'"
        " and reference_id = %s",
        (settled["id"],),
    ).fetchone()
    assert posted == (1,)
    assert (
        shop.api.client.get(
            "/api/v1/admin/provider-settlements", headers=shop.owner_headers
        ).status_code
        == 403
    )
