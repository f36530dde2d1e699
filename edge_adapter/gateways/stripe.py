"""Stripe: retrieve the balance (GET /v1/balance) with the secret key as a bearer token."""

import httpx

from .base import Outcome, by_status


async def check(http: httpx.AsyncClient, base_url: str, creds: dict[str, str]) -> Outcome:
    response = await http.get(
        f"{base_url}/v1/balance", headers={"Authorization": f"Bearer {creds['secret_key']}"}
    )
    outcome = by_status(response)
    if outcome.ok and response.json().get("object") != "balance":
        return Outcome(False, response.status_code, "unexpected_response", "not a Stripe balance")
    return outcome
