"""Razorpay: list one payment with HTTP Basic key_id:key_secret (GET /v1/payments?count=1)."""

import httpx

from .base import Outcome, by_status


async def check(http: httpx.AsyncClient, base_url: str, creds: dict[str, str]) -> Outcome:
    response = await http.get(
        f"{base_url}/v1/payments",
        params={"count": 1},
        auth=(creds["key_id"], creds["key_secret"]),
    )
    outcome = by_status(response)
    if outcome.ok and response.json().get("entity") != "collection":
        return Outcome(False, response.status_code, "unexpected_response", "not a Razorpay answer")
    return outcome
