"""PhonePe PG v2: the OAuth client-credentials token call (POST /v1/oauth/token)."""

import httpx

from .base import Outcome, by_status


async def check(http: httpx.AsyncClient, base_url: str, creds: dict[str, str]) -> Outcome:
    response = await http.post(
        f"{base_url}/v1/oauth/token",
        data={
            "client_id": creds["client_id"],
            "client_version": creds["client_version"],
            "client_secret": creds["client_secret"],
            "grant_type": "client_credentials",
        },
    )
    if response.status_code == 400:
        return Outcome(False, 400, "auth_failed", "PhonePe rejected the client credentials")
    outcome = by_status(response)
    if outcome.ok and not response.json().get("access_token"):
        return Outcome(False, response.status_code, "unexpected_response", "no access token")
    return outcome
