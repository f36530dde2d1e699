"""LightSpeedPay's sandbox provider: GET /v1/ping with X-Api-Key / X-Api-Secret."""

import httpx

from .base import Outcome, by_status


async def check(http: httpx.AsyncClient, base_url: str, creds: dict[str, str]) -> Outcome:
    response = await http.get(
        f"{base_url}/v1/ping",
        headers={"X-Api-Key": creds["api_key"], "X-Api-Secret": creds["api_secret"]},
    )
    return by_status(response)
