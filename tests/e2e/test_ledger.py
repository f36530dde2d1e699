"""Wallets and the ledger over the REST API: balances, transactions with running balances and
keyset pagination, admin adjustments (reason required, audited, idempotent on every
parameter), the money rules of every input (strict integers, ISO 4217), and isolation
between merchants."""

import uuid

import pytest

from .conftest import bearer, hs_token


@pytest.fixture
def ledger(api, world):
    class Ledger:
        admin = bearer(hs_token(world.admin()))
        owner = world.user("owner")
        merchant = world.merchant(owner)
        member = bearer(hs_token(owner))

        def open(self, currency: str = "INR", mode: str = "live") -> dict:
            r = api.client.post(
                f"/api/v1/admin/merchants/{self.merchant}/wallets",
                headers=self.admin,
                json={"currency": currency, "mode": mode},
            )
            assert r.status_code == 200, r.text
            return r.json()

        def adjust(self, wallet: str, amount: int, reason: str = "test", **extra):
            return api.client.post(
                f"/api/v1/admin/wallets/{wallet}/adjustments",
                headers={**self.admin, "Idempotency-Key": f"adj-{uuid.uuid4()}"},
                json={"amount": amount, "reason": reason, **extra},
            )

    live = api.client.put(
        f"/api/v1/admin/merchants/{Ledger.merchant}/live",
        headers=Ledger.admin,
        json={"enabled": True},
    )
    assert live.status_code == 200, live.text
    return Ledger()


def test_wallets_show_balances_and_transactions_with_running_balances(api, ledger):
    wallet = ledger.open()
    assert (wallet["available"], wallet["pending"], wallet["reserve"]) == (0, 0, 0)
    assert ledger.open()["id"] == wallet["id"], "opening again returns the same wallet"
    for amount in (10_000, -2_500, 700):
        assert ledger.adjust(wallet["id"], amount).status_code == 201
    moved = ledger.adjust(wallet["id"], 1_000, "rolling reserve", account="reserve")
    assert moved.status_code == 201, moved.text
    assert moved.json()["wallet"]["reserve"] == 1_000

    listed = api.client.get("/api/v1/wallets", headers=ledger.member)  # no merchant_id needed
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["next_cursor"] is None
    [mine] = body["data"]
    assert (mine["id"], mine["available"], mine["reserve"], mine["currency"], mine["mode"]) == (
        wallet["id"],
        8_200,
        1_000,
        "INR",
        "live",
    )

    path = f"/api/v1/wallets/{wallet['id']}/transactions"
    page = api.client.get(path, headers=ledger.member, params={"limit": 2})
    assert page.status_code == 200, page.text
    first = page.json()
    assert [t["amount"] for t in first["data"]] == [1_000, 700]
    assert [t["account"] for t in first["data"]] == ["reserve", "available"]
    assert first["data"][1]["balance_after"] == 8_200
    rest = api.client.get(
        path, headers=ledger.member, params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert [(t["amount"], t["balance_after"]) for t in rest["data"]] == [
        (-2_500, 7_500),
        (10_000, 10_000),
    ]
    assert all(t["kind"] == "adjustment" for t in first["data"] + rest["data"])
    only = api.client.get(path, headers=ledger.member, params={"account": "reserve"}).json()
    assert [t["amount"] for t in only["data"]] == [1_000]
    none = api.client.get(path, headers=ledger.member, params={"kind": "refund"}).json()
    assert none == {"data": [], "next_cursor": None}
    later = api.client.get(
        path, headers=ledger.member, params={"from": "2999-01-01T00:00:00Z"}
    ).json()
    assert later["data"] == []


def test_an_adjustment_cannot_overdraw_and_needs_a_reason(api, ledger, pg):
    wallet = ledger.open()
    refused = ledger.adjust(wallet["id"], -1)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "insufficient_balance"
    no_reason = ledger.adjust(wallet["id"], 5, "   ")
    assert no_reason.status_code == 400
    audited = ledger.adjust(wallet["id"], 5, "goodwill for ticket 42")
    assert audited.status_code == 201
    row = pg.execute(
        "select actor_id is not null, new_values ->> 'reason' from audit.log"
        " where table_name = 'wallet_adjustments' and row_id = %s",
        (audited.json()["id"],),
    ).fetchone()
    assert row == (True, "goodwill for ticket 42")


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("adjust", {"amount": True, "reason": "x"}),
        ("adjust", {"amount": 10.0, "reason": "x"}),
        ("adjust", {"amount": "10", "reason": "x"}),
        ("adjust", {"amount": 10**19, "reason": "x"}),
        ("adjust", {"amount": 0, "reason": "x"}),
        ("adjust", {"amount": 10, "reason": "x", "account": "pending"}),
        ("adjust", {"amount": 10, "reason": "x", "kind": "payout"}),
        ("adjust", {"amount": 10}),
        ("open", {"currency": "ZZZ"}),
        ("open", {"currency": "inr"}),
        ("open", {"currency": "INR", "mode": "demo"}),
    ],
)
def test_money_inputs_are_strict_integers_and_iso_currencies(api, ledger, pg, route, body):
    wallet = ledger.open()
    before = pg.execute("select count(*) from public.ledger_entries").fetchone()
    if route == "adjust":
        path = f"/api/v1/admin/wallets/{wallet['id']}/adjustments"
    else:
        path = f"/api/v1/admin/merchants/{ledger.merchant}/wallets"
    response = api.client.post(path, headers=ledger.admin, json=body)
    assert response.status_code == 400, response.text
    assert pg.execute("select count(*) from public.ledger_entries").fetchone() == before


def test_list_filters_refuse_bad_currencies_and_modes(api, ledger):
    ledger.open()
    for params in ({"currency": "ZZZ"}, {"currency": "inr"}, {"mode": "demo"}):
        response = api.client.get("/api/v1/wallets", headers=ledger.member, params=params)
        assert response.status_code == 400, (params, response.text)


def test_merchants_cannot_see_or_move_each_others_money(api, ledger, world):
    wallet = ledger.open()
    ledger.adjust(wallet["id"], 5_000)
    other = bearer(hs_token(world.user("other")))
    stranger_owner = world.user("stranger")
    world.merchant(stranger_owner)
    stranger = bearer(hs_token(stranger_owner))
    assert (
        api.client.get(
            "/api/v1/wallets", headers=stranger, params={"merchant_id": ledger.merchant}
        ).status_code
        == 403
    )
    assert (
        api.client.get(f"/api/v1/wallets/{wallet['id']}/transactions", headers=stranger).status_code
        == 404
    )
    steal = api.client.post(
        f"/api/v1/admin/wallets/{wallet['id']}/adjustments",
        headers=ledger.member,
        json={"amount": -5_000, "reason": "mine now"},
    )
    assert steal.status_code == 403
    assert api.client.get("/api/v1/wallets", headers=other).status_code == 400  # no merchant
    assert api.client.get("/api/v1/wallets").status_code == 401
    listed = api.client.get("/api/v1/wallets", headers=ledger.member).json()
    assert listed["data"][0]["available"] == 5_000


def test_an_api_key_sees_the_wallets_of_its_mode(api, ledger):
    ledger.open("INR", "live")
    test_wallet = ledger.open("INR", "test")
    key = api.client.post(
        "/api/v1/merchant/credentials", headers=ledger.member, json={"name": "server"}
    ).json()["key"]
    listed = api.client.get("/api/v1/wallets", headers=bearer(key))
    assert listed.status_code == 200, listed.text
    assert [w["id"] for w in listed.json()["data"]] == [test_wallet["id"]]
    both = api.client.get("/api/v1/wallets", headers=ledger.member).json()["data"]
    assert sorted(w["mode"] for w in both) == ["live", "test"]


def test_live_money_needs_a_live_enabled_merchant_and_wallets_name_their_mode(api, ledger):
    """QA (issue 14): a merchant that is not live-enabled gets no live wallet and no
    adjustment on one (409 merchant_not_live); opening a wallet names its mode."""
    wallet = ledger.open("INR", "live")
    off = api.client.put(
        f"/api/v1/admin/merchants/{ledger.merchant}/live",
        headers=ledger.admin,
        json={"enabled": False},
    )
    assert off.status_code == 200, off.text
    refused = ledger.adjust(wallet["id"], 100)
    assert refused.status_code == 409 and "merchant_not_live" in refused.text, refused.text
    opened = api.client.post(
        f"/api/v1/admin/merchants/{ledger.merchant}/wallets",
        headers=ledger.admin,
        json={"currency": "USD", "mode": "live"},
    )
    assert opened.status_code == 409 and "merchant_not_live" in opened.text, opened.text
    no_mode = api.client.post(
        f"/api/v1/admin/merchants/{ledger.merchant}/wallets",
        headers=ledger.admin,
        json={"currency": "USD"},
    )
    assert no_mode.status_code == 400 and "mode" in no_mode.text, no_mode.text
    too_big = ledger.adjust(ledger.open("INR", "test")["id"], 10**14 + 1)
    assert too_big.status_code == 400, too_big.text


def test_transactions_refuse_an_unknown_kind_listing_the_kinds(api, ledger):
    wallet = ledger.open("INR", "test")
    r = api.client.get(
        f"/api/v1/wallets/{wallet['id']}/transactions",
        headers=ledger.member,
        params={"kind": "bogus"},
    )
    assert r.status_code == 400, r.text
    assert "payout_reversal" in r.text and "provider_settlement" in r.text
