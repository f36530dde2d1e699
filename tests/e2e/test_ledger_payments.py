"""Payments and refunds move money in the ledger, end to end: the API, the worker and the
sandbox provider's fake. A success credits the merchant's pending balance net of the MDR and
its GST; refunds take their whole amount (fees are not returned) from pending, then
available, and one the balance cannot cover is refused with 409 insufficient_balance, even
under concurrent requests."""

import concurrent.futures

import psycopg
import pytest

from .conftest import bearer, hs_token
from .payments_support import SUCCESS_VPA, Shop, Worker, wait_until


@pytest.fixture(scope="module")
def worker(authenticator_url, api, fake_providers_server, tmp_path_factory):
    w = Worker(authenticator_url, api, fake_providers_server, tmp_path_factory.mktemp("ledger"))
    w.start()
    yield w
    w.stop_all()


@pytest.fixture
def shop(api, pg, fake_providers, world, worker) -> Shop:
    s = Shop(api, pg, fake_providers, world)
    s.route_to(s.gateway("sandbox"))
    return s


def price(shop: Shop, percent_bps: int, state: str = "MH") -> None:
    response = shop.api.client.put(
        f"/api/v1/admin/merchants/{shop.id}/pricing",
        headers=shop.admin,
        json={
            "rates": {"upi": {"percent_bps": percent_bps, "fixed": 0}},
            "state": state,
            "settlement_delay_days": None,
        },
    )
    assert response.status_code == 200, response.text


def wallet(shop: Shop) -> dict:
    response = shop.api.client.get("/api/v1/wallets", headers=shop.headers)
    assert response.status_code == 200, response.text
    [w] = response.json()["data"]  # the API key is a test key: the test wallet
    assert w["mode"] == "test"
    return w


def paid(shop: Shop, amount: int) -> dict:
    payment = shop.pay("upi", SUCCESS_VPA["sandbox"], amount=amount)
    return shop.wait_status(payment["id"], "succeeded")


def refund(shop: Shop, payment_id: str, amount: int | None = None):
    return shop.api.client.post(
        f"/api/v1/payments/{payment_id}/refunds",
        headers=shop.headers,
        json={} if amount is None else {"amount": amount},
    )


def test_a_success_credits_pending_net_of_the_fee_and_its_gst(shop, pg):
    price(shop, 200)
    payment = paid(shop, 10_000)
    w = wait_until(lambda: wallet(shop)["pending"] == 9_764 and wallet(shop))
    assert (w["available"], w["on_hold"]) == (0, 0)
    credit = pg.execute(
        "select gross, fee, tax, tax_kind, igst, net from public.payment_credits"
        " where payment_id = %s",
        (payment["id"],),
    ).fetchone()
    assert credit == (10_000, 200, 36, "igst", 36, 9_764)
    lines = shop.api.client.get(
        f"/api/v1/wallets/{w['id']}/transactions", headers=shop.headers
    ).json()["data"]
    assert [(t["kind"], t["account"], t["amount"], t["balance_after"]) for t in lines] == [
        ("payment", "pending", 9_764, 9_764)
    ]
    assert lines[0]["reference"] == {"type": "payment", "id": payment["id"]}
    pricing = shop.api.client.get(
        f"/api/v1/admin/merchants/{shop.id}/pricing", headers=shop.admin
    ).json()
    assert pricing["rates"]["upi"]["percent_bps"] == 200 and pricing["tax"] == "igst"
    assert (
        shop.api.client.get(
            f"/api/v1/admin/merchants/{shop.id}/pricing", headers=shop.owner_headers
        ).status_code
        == 403
    )


def test_refunds_take_pending_then_available_and_never_return_the_fee(shop, pg):
    price(shop, 200, "KA")  # the platform's state: CGST + SGST
    payment = paid(shop, 10_000)
    wait_until(lambda: wallet(shop)["pending"] == 9_764)
    full = refund(shop, payment["id"])
    assert full.status_code == 409, full.text
    assert full.json()["error"]["code"] == "insufficient_balance"
    assert pg.execute(
        "select count(*) from public.refunds where payment_id = %s", (payment["id"],)
    ).fetchone() == (0,)
    half = refund(shop, payment["id"], 5_000)
    assert half.status_code == 201, half.text
    shop.wait_status(payment["id"], "partially_refunded")
    wait_until(lambda: wallet(shop)["pending"] == 4_764 and wallet(shop)["on_hold"] == 0)
    # An operator tops the wallet up; the rest of the refund takes pending, then available.
    w = wallet(shop)
    topped = shop.api.client.post(
        f"/api/v1/admin/wallets/{w['id']}/adjustments",
        headers={**shop.admin, "Idempotency-Key": f"top-{payment['id']}"},
        json={"amount": 236, "reason": "cover the refund's fee"},
    )
    assert topped.status_code == 201, topped.text
    rest = refund(shop, payment["id"])
    assert rest.status_code == 201, rest.text
    shop.wait_status(payment["id"], "refunded")
    after = wait_until(lambda: (w := wallet(shop))["on_hold"] == 0 and w)
    assert (after["pending"], after["available"]) == (0, 0)
    kinds = [
        t["kind"]
        for t in shop.api.client.get(
            f"/api/v1/wallets/{w['id']}/transactions", headers=shop.headers
        ).json()["data"]
    ]
    assert sorted(kinds) == ["adjustment", "payment", "refund", "refund", "refund"]
    cgst, sgst = pg.execute(
        "select cgst, sgst from public.payment_credits where payment_id = %s", (payment["id"],)
    ).fetchone()
    assert (cgst, sgst) == (18, 18)


def test_concurrent_refunds_never_overdraw_the_merchant(shop):
    price(shop, 200)
    payment = paid(shop, 10_000)
    wait_until(lambda: wallet(shop)["pending"] == 9_764)

    def one(_: int) -> int:
        return refund(shop, payment["id"], 1_000).status_code

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(one, range(12)))
    assert sorted(codes) == [201] * 9 + [409] * 3, codes  # 9 x 1000 <= 9764 < 10 x 1000
    shop.wait_status(payment["id"], "partially_refunded")
    w = wait_until(lambda: (w := wallet(shop))["on_hold"] == 0 and w)
    assert w["pending"] == 764


def test_merchants_see_only_their_own_lots(shop, api, world, super_url):
    price(shop, 200)
    payment = paid(shop, 2_000)
    other = world.user("other")
    world.merchant(other)
    with psycopg.connect(super_url, autocommit=True) as conn:
        rows = conn.execute(
            "select count(*) from public.payment_credits where payment_id = %s", (payment["id"],)
        ).fetchone()
    assert rows == (1,)
    listed = api.client.get(
        "/api/v1/wallets", headers=bearer(hs_token(other)), params={"merchant_id": shop.id}
    )
    assert listed.status_code == 403
