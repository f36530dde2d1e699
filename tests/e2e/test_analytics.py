"""Payment analytics over the API equal a ground truth computed here from the raw rows
(payments, attempts, refunds, ledger credits), for random ranges, granularities and
groupings, with zero-filled series; merchants see only their own; the overview's windows
agree with the series.

The generated payments use a currency no other test uses (SGD), in live mode, so the
admins' all-merchant figures can be checked exactly too. LSP_ANALYTICS_PAYMENTS sizes it
(default 400) and LSP_ANALYTICS_QUERIES the number of random queries (default 12)."""

import math
import os
import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from .conftest import bearer, hs_token

PAYMENTS = int(os.environ.get("LSP_ANALYTICS_PAYMENTS", "400"))
QUERIES = int(os.environ.get("LSP_ANALYTICS_QUERIES", "12"))
CURRENCY = "SGD"
BOUNDS = [25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 2147483647]
SUCCEEDED = ("succeeded", "partially_refunded", "refunded")
USER = "insert into auth.users (id, email) values (%s, %s)"
STEP = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


def trunc(t: datetime, grain: str) -> datetime:
    t = t.astimezone(UTC)
    if grain == "minute":
        return t.replace(second=0, microsecond=0)
    if grain == "hour":
        return t.replace(minute=0, second=0, microsecond=0)
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def percentile(hist: list[int], fraction: str) -> int | None:
    """The histogram's percentile as the database computes it: the first bucket whose running
    count reaches ceil(total x fraction), reported as its upper bound."""
    total = sum(hist)
    if total == 0:
        return None
    needed = math.ceil(Decimal(total) * Decimal(fraction))
    running = 0
    for i, n in enumerate(hist):
        running += n
        if running >= needed:
            return BOUNDS[i]
    return None


def bucket_of(ms: int) -> int:
    return next(i for i, b in enumerate(BOUNDS) if ms <= b)


def rate(part: int, whole: int) -> float | None:
    if whole == 0:
        return None
    return float((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


@pytest.fixture(scope="module")
def dataset(api, super_url, tmp_path_factory) -> dict[str, Any]:
    """Merchants, gateways and payments spread over the last 2.5 days, made the way the worker
    would (a payment, its attempts, status moves, refunds), with times in the past."""
    import psycopg

    rnd = random.Random(1414)  # noqa: S311 - a reproducible dataset
    now = datetime.now(UTC)
    with psycopg.connect(super_url, autocommit=True) as pg:
        admin = str(uuid.uuid4())
        pg.execute(USER, (admin, f"{admin}@t.x"))
        pg.execute("insert into public.platform_admins (user_id) values (%s)", (admin,))
        merchants, owners = [], []
        for n in range(3):
            owner = str(uuid.uuid4())
            pg.execute(
                "insert into auth.users (id, email) values (%s, %s)", (owner, f"{owner}@t.x")
            )
            m = pg.execute(
                "insert into public.merchants (name) values (%s) returning id::text", (f"An {n}",)
            ).fetchone()[0]
            pg.execute(
                "insert into public.merchant_members (merchant_id, user_id, role)"
                " values (%s, %s, 'owner')",
                (m, owner),
            )
            pg.execute(
                "insert into public.merchant_pricing (merchant_id, rates) values (%s, %s)",
                (
                    m,
                    psycopg.types.json.Jsonb(
                        {
                            "upi": {"percent_bps": 200, "fixed": 0},
                            "card": {"percent_bps": 250, "fixed": 100},
                        }
                    ),
                ),
            )
            merchants.append(m)
            owners.append(owner)
        gateways = [
            pg.execute(
                "insert into public.gateways (provider, display_name, status) values"
                " ('sandbox', %s, 'active') returning id::text",
                (f"an-{uuid.uuid4().hex[:6]}",),
            ).fetchone()[0]
            for _ in range(3)
        ]
        codes = ["insufficient_funds", "payment_declined", "bank_unavailable", None]
        for _ in range(PAYMENTS):
            m = rnd.choice(merchants)
            method = rnd.choice(["upi", "card", "netbanking", "wallet"])
            amount = rnd.randint(100, 200_000)
            created = now - timedelta(seconds=rnd.randint(0, int(2.5 * 86400)))
            pid = pg.execute(
                "insert into public.payments (merchant_id, mode, amount, currency, method,"
                " created_at) values (%s, 'live', %s, %s, %s, %s) returning id",
                (m, amount, CURRENCY, method, created),
            ).fetchone()[0]
            final = rnd.choices(
                [
                    "succeeded",
                    "failed",
                    "late",
                    "processing",
                    "requires_action",
                    "cancelled",
                    "expired",
                ],
                [50, 20, 5, 8, 7, 5, 5],
            )[0]
            if final == "processing" and rnd.random() < 0.5:
                continue  # no attempt yet: no gateway
            tries = rnd.randint(1, 3)
            for no in range(1, tries + 1):
                gw = rnd.choice(gateways)
                att = pg.execute(
                    "insert into public.payment_attempts (payment_id, merchant_id, gateway_id,"
                    " provider, attempt_no, amount, currency, provider_latency_ms) values"
                    " (%s, %s, %s, 'sandbox', %s, %s, %s, %s) returning id",
                    (pid, m, gw, no, amount, CURRENCY, rnd.choice([None, rnd.randint(5, 12_000)])),
                ).fetchone()[0]
                pg.execute(
                    # as payment_next_attempt does: the gateway and its provider together
                    "update public.payments set gateway_id = %s, provider = 'sandbox',"
                    " attempt_count = %s where id = %s",
                    (gw, no, pid),
                )
                last = no == tries
                # Earlier attempts failed; the last one decides (or stays open).
                if not last or final in ("failed", "late"):
                    pg.execute(
                        "update public.payment_attempts set status = 'failed' where id = %s", (att,)
                    )
                elif final == "succeeded":
                    pg.execute(
                        "update public.payment_attempts set status = 'succeeded' where id = %s",
                        (att,),
                    )
            if final == "succeeded":
                pg.execute(
                    "update public.payments set status = 'succeeded', amount_captured = %s"
                    " where id = %s",
                    (amount, pid),
                )
            elif final in ("failed", "late"):
                pg.execute(
                    "update public.payments set status = 'failed', failure_code = %s where id = %s",
                    (rnd.choice(codes), pid),
                )
                if final == "late":  # the provider's success arrives after we gave up
                    pg.execute(
                        "update public.payment_attempts set status = 'succeeded' where id = %s",
                        (att,),
                    )
                    pg.execute(
                        "update public.payments set status = 'succeeded', amount_captured = %s,"
                        " failure_code = null where id = %s",
                        (amount, pid),
                    )
            elif final in ("cancelled", "expired", "requires_action"):
                pg.execute("update public.payments set status = %s where id = %s", (final, pid))
            if final in ("succeeded", "late") and rnd.random() < 0.3:
                part = rnd.choice([amount, max(1, amount // 3)])
                rid = f"rfd_{uuid.uuid4().hex[:20]}"
                refund_at = created + timedelta(seconds=rnd.randint(0, 3600))
                try:
                    with pg.transaction():
                        pg.execute(
                            "insert into public.refunds (id, payment_id, merchant_id, attempt_id,"
                            " gateway_id, amount, currency, created_at) select %s, p.id,"
                            " p.merchant_id, a.id, a.gateway_id, %s, p.currency, %s"
                            " from public.payments as p join public.payment_attempts as a"
                            " on a.payment_id = p.id and a.status = 'succeeded' where p.id = %s",
                            (rid, part, refund_at, pid),
                        )
                except psycopg.Error:
                    continue  # the merchant's balance could not cover it (fees not returned)
                outcome = rnd.choice(["succeeded", "succeeded", "failed"])
                pg.execute("update public.refunds set status = %s where id = %s", (outcome, rid))
                if outcome == "succeeded":
                    pg.execute(
                        "update public.payments set status = %s, amount_refunded = %s,"
                        " refund_reserved = %s where id = %s",
                        ("refunded" if part == amount else "partially_refunded", part, part, pid),
                    )
        rows = pg.execute(
            "select p.id, p.merchant_id::text, p.gateway_id::text, p.method, p.status,"
            " p.created_at, p.amount_captured, p.failure_code, c.fee, c.tax,"
            " (select a.status = 'succeeded' from public.payment_attempts as a"
            "  where a.payment_id = p.id and a.attempt_no = 1)"
            " from public.payments as p"
            " left join public.payment_credits as c on c.payment_id = p.id"
            " where p.currency = %s and p.mode = 'live'",
            (CURRENCY,),
        ).fetchall()
        refunds = pg.execute(
            "select p.merchant_id::text, p.gateway_id::text, p.method, r.created_at, r.amount"
            " from public.refunds as r join public.payments as p on p.id = r.payment_id"
            " where r.status = 'succeeded' and p.currency = %s and p.mode = 'live'",
            (CURRENCY,),
        ).fetchall()
        attempts = pg.execute(
            "select p.merchant_id::text, a.gateway_id::text, p.method, p.created_at,"
            " a.provider_latency_ms from public.payment_attempts as a"
            " join public.payments as p on p.id = a.payment_id"
            " where a.status in ('succeeded', 'failed') and a.provider_latency_ms is not null"
            " and p.currency = %s and p.mode = 'live'",
            (CURRENCY,),
        ).fetchall()
    return {
        "now": now,
        "admin": bearer(hs_token(admin)),
        "merchants": merchants,
        "owners": [bearer(hs_token(o)) for o in owners],
        "payments": rows,
        "refunds": refunds,
        "attempts": attempts,
    }


def truth(
    data: dict[str, Any],
    merchant: str | None,
    start: datetime,
    end: datetime,
    grain: str,
    group_by: str | None,
) -> dict[Any, dict[datetime, dict[str, Any]]]:
    """{group key: {bucket: counters}} from the raw rows, by the documented definitions."""
    out: dict[Any, dict[datetime, dict[str, Any]]] = defaultdict(
        lambda: defaultdict(
            lambda: {
                "payments": 0,
                "succeeded": 0,
                "failed": 0,
                "first": 0,
                "volume": 0,
                "fees": 0,
                "tax": 0,
                "refunds": 0,
                "refunded_amount": 0,
                "hist": [0] * 14,
                "status": defaultdict(int),
                "codes": defaultdict(int),
            }
        )
    )

    def key(m: str, gw: str | None, method: str) -> Any:
        return {"gateway": gw, "method": method, "merchant": m, None: None, "status": None}[
            group_by
        ]

    for _, m, gw, method, status, created, captured, code, fee, tax, first_ok in data["payments"]:
        if (merchant and m != merchant) or not start <= created < end:
            continue
        c = out[key(m, gw, method)][trunc(created, grain)]
        c["payments"] += 1
        c["status"]["processing" if status == "created" else status] += 1
        if status in SUCCEEDED:
            c["succeeded"] += 1
            c["volume"] += captured
            c["first"] += 1 if first_ok else 0
            c["fees"] += fee or 0
            c["tax"] += tax or 0
        if status == "failed":
            c["failed"] += 1
            c["codes"][code or "unknown"] += 1
    for m, gw, method, created, amount in data["refunds"]:
        if (merchant and m != merchant) or not start <= created < end:
            continue
        c = out[key(m, gw, method)][trunc(created, grain)]
        c["refunds"] += 1
        c["refunded_amount"] += amount
    for m, gw, method, created, latency in data["attempts"]:
        if (merchant and m != merchant) or not start <= created < end:
            continue
        out[key(m, gw, method)][trunc(created, grain)]["hist"][bucket_of(latency)] += 1
    return out


def figures(counters: list[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {
        k: sum(c[k] for c in counters)
        for k in (
            "payments",
            "succeeded",
            "failed",
            "first",
            "volume",
            "fees",
            "tax",
            "refunds",
            "refunded_amount",
        )
    }
    hist = [sum(c["hist"][i] for c in counters) for i in range(14)]
    decided = total["succeeded"] + total["failed"]
    return {
        "payments": total["payments"],
        "volume": total["volume"],
        "succeeded": total["succeeded"],
        "failed": total["failed"],
        "success_rate": rate(total["succeeded"], decided),
        "first_attempt_success_rate": rate(total["first"], decided),
        "average_ticket": int(
            (Decimal(total["volume"]) / Decimal(total["succeeded"])).quantize(0, ROUND_HALF_UP)
        )
        if total["succeeded"]
        else None,
        "refunds": total["refunds"],
        "refunded_amount": total["refunded_amount"],
        "fees": total["fees"],
        "tax": total["tax"],
        "p50_latency_ms": percentile(hist, "0.5"),
        "p95_latency_ms": percentile(hist, "0.95"),
    }


def top_codes(counters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    codes: dict[str, int] = defaultdict(int)
    for c in counters:
        for code, n in c["codes"].items():
            codes[code] += n
    ranked = sorted(((-n, code) for code, n in codes.items() if n > 0))[:5]
    return [{"code": code, "count": -n} for n, code in ranked]


def check(api, data, headers, merchant, start, end, grain, group_by) -> None:
    params: dict[str, Any] = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "granularity": grain,
        "mode": "live",
        "currency": CURRENCY,
    }
    if group_by:
        params["group_by"] = group_by
    if merchant and headers is data["admin"]:
        params["merchant_id"] = merchant
    response = api.client.get("/api/v1/analytics/payments", headers=headers, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    lo, hi = trunc(start, grain), trunc(end, grain)
    if hi < end:
        hi += STEP[grain]
    assert (datetime.fromisoformat(body["from"]), datetime.fromisoformat(body["to"])) == (lo, hi)
    expected = truth(data, merchant, lo, hi, grain, group_by)
    buckets = []
    t = lo
    while t < hi:
        buckets.append(t)
        t += STEP[grain]
    everything = [c for per in expected.values() for c in per.values()]
    want_totals = figures(everything) | {"top_failure_reasons": top_codes(everything)}
    assert body["totals"] == want_totals, (params, body["totals"], want_totals)
    groups = {g["key"]: g for g in body["groups"]}
    if group_by == "status":
        for status, group in groups.items():
            per = expected[None]
            assert [p["payments"] for p in group["series"]] == [
                per[b]["status"][status] if b in per else 0 for b in buckets
            ], status
        return
    if group_by is None:
        assert list(groups) == [None]
    else:
        assert set(groups) == set(expected), (set(groups), set(expected))
    for k, group in groups.items():
        per = expected[k]
        series = group["series"]
        assert [datetime.fromisoformat(p["t"]) for p in series] == buckets  # zero-filled
        for point in series:
            b = datetime.fromisoformat(point.pop("t"))
            assert point == figures([per[b]] if b in per else []), (k, b)
        assert group["totals"] == figures(list(per.values())) | {
            "top_failure_reasons": top_codes(list(per.values()))
        }


def test_analytics_equal_the_raw_rows_for_random_ranges_and_groupings(api, dataset):
    rnd = random.Random(7)  # noqa: S311 - reproducible queries
    now = dataset["now"]
    for n in range(QUERIES):
        grain = rnd.choice(["minute", "hour", "hour", "day"])
        span = {"minute": 6 * 3600, "hour": 3 * 86400, "day": 5 * 86400}[grain]
        end = now - timedelta(seconds=rnd.randint(0, span // 4))
        start = end - timedelta(seconds=rnd.randint(60, span))
        group_by = rnd.choice([None, "gateway", "method", "status", "merchant"])
        if n % 2:
            who, headers = dataset["merchants"][n % 3], dataset["owners"][n % 3]
        else:
            who, headers = rnd.choice([None, *dataset["merchants"]]), dataset["admin"]
        check(api, dataset, headers, who, start, end, grain, group_by)


def test_the_default_is_the_last_24_hours_by_hour_and_the_overview_agrees(api, dataset):
    owner, merchant = dataset["owners"][0], dataset["merchants"][0]
    default = api.client.get(
        "/api/v1/analytics/payments", headers=owner, params={"currency": CURRENCY}
    ).json()
    assert default["granularity"] == "hour" and default["timezone"] == "UTC"
    span = datetime.fromisoformat(default["to"]) - datetime.fromisoformat(default["from"])
    assert span in (timedelta(hours=24), timedelta(hours=25))
    overview = api.client.get("/api/v1/analytics", headers=owner, params={"currency": CURRENCY})
    assert overview.status_code == 200, overview.text
    body = overview.json()
    today = trunc(datetime.now(UTC), "day")
    for name, since in (("today", today), ("last_7_days", today - timedelta(days=6))):
        window = body["windows"][name]
        expected = truth(dataset, merchant, since, today + timedelta(days=1), "day", None)
        want = figures([c for per in expected.values() for c in per.values()])
        assert {k: window[k] for k in want} == want, name
    gateways = {g["gateway_id"] for g in body["top_gateways"]}
    assert gateways <= {p[2] for p in dataset["payments"] if p[1] == merchant}


def test_merchants_see_only_their_own_analytics(api, dataset, world):
    owner, other = dataset["owners"][0], dataset["merchants"][1]
    denied = api.client.get(
        "/api/v1/analytics/payments", headers=owner, params={"merchant_id": other}
    )
    assert denied.status_code == 403
    denied = api.client.get("/api/v1/analytics", headers=owner, params={"merchant_id": other})
    assert denied.status_code == 403
    mine = api.client.get(
        "/api/v1/analytics/payments",
        headers=owner,
        params={
            "group_by": "merchant",
            "currency": CURRENCY,
            "granularity": "day",
            "from": (dataset["now"] - timedelta(days=3)).isoformat(),
        },
    ).json()
    assert [g["key"] for g in mine["groups"]] == [dataset["merchants"][0]]
    for params in (
        {"granularity": "week"},
        {"group_by": "country"},
        {"currency": "ZZZ"},
        {"mode": "demo"},
        {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        {"granularity": "minute", "from": "2020-01-01T00:00:00Z"},
    ):
        bad = api.client.get("/api/v1/analytics/payments", headers=owner, params=params)
        assert bad.status_code == 400, (params, bad.text)
    assert api.client.get("/api/v1/analytics").status_code == 401
    nobody = bearer(hs_token(world.user("nobody")))
    assert api.client.get("/api/v1/analytics", headers=nobody).status_code == 400
