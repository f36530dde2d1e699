"""Usage analytics: the API's answer matches traffic the test generates and counts itself."""

import time
from collections import Counter

from .conftest import bearer, hs_token
from .test_api_keys import Merchant


def test_usage_matches_generated_traffic(api, world, pg):
    merchant = Merchant(api, world, pg)
    admin = bearer(hs_token(world.admin()))
    api.client.put(
        f"/api/v1/admin/merchants/{merchant.id}/rate-limits",
        headers=admin,
        json={"api_key_per_min": 60, "user_per_min": 600},
    )
    key = bearer(merchant.new_key()["key"])
    truth: Counter[tuple[str, str]] = Counter()
    for _ in range(6):
        response = api.client.get("/api/v1/merchant/credentials", headers=key)
        truth["GET /api/v1/merchant/credentials", str(response.status_code)] += 1
    for granularity in ("week", "year"):
        response = api.client.get(
            "/api/v1/merchant/usage", headers=key, params={"granularity": granularity}
        )
        truth["GET /api/v1/merchant/usage", str(response.status_code)] += 1
    for _ in range(8):  # burst is 10: some of these are refused
        response = api.client.get("/api/v1/merchant/credentials", headers=key)
        truth["GET /api/v1/merchant/credentials", str(response.status_code)] += 1
    time.sleep(1.0)  # > the adapter's batch interval
    usage = api.client.get(
        "/api/v1/merchant/usage",
        headers=merchant.headers,
        params={"merchant_id": merchant.id, "granularity": "minute"},
    ).json()
    totals = usage["totals"]
    assert totals["requests"] == sum(truth.values())
    assert totals["rate_limited"] == sum(n for (_, s), n in truth.items() if s == "429") > 0
    assert totals["errors_4xx"] == sum(n for (_, s), n in truth.items() if s == "400") == 2
    assert totals["errors_5xx"] == 0
    assert totals["p50_ms"] is not None and totals["p95_ms"] >= totals["p50_ms"]
    top = {e["endpoint"]: e["requests"] for e in usage["top_endpoints"]}
    assert top == {
        "GET /api/v1/merchant/credentials": 14,
        "GET /api/v1/merchant/usage": 2,
    }
    assert sum(p["requests"] for p in usage["series"]) == sum(truth.values())
    assert usage["rate_limits"][0]["limit_per_min"] == 60
    assert usage["rate_limits"][0]["breaches_24h"] == totals["rate_limited"]
    listed = api.client.get(
        "/api/v1/merchant/credentials",
        headers=merchant.headers,
        params={"merchant_id": merchant.id},
    ).json()
    assert listed["data"][0]["requests_24h"] == sum(truth.values())


def test_usage_is_private_to_the_merchant_and_validated(api, world, pg):
    mine = Merchant(api, world, pg)
    other = Merchant(api, world, pg)
    path = "/api/v1/merchant/usage"
    assert (
        api.client.get(path, headers=other.headers, params={"merchant_id": mine.id}).status_code
        == 403
    )
    assert api.client.get(path, params={"merchant_id": mine.id}).status_code == 401
    bad = [
        {"granularity": "week"},
        {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        {"from": "2020-01-01T00:00:00Z", "granularity": "minute"},
        {"from": "soon"},
    ]
    for params in bad:
        response = api.client.get(
            path, headers=mine.headers, params={"merchant_id": mine.id, **params}
        )
        assert response.status_code == 400, (params, response.text)
