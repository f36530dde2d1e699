"""Cashfree PG: fetch an order that cannot exist. 404 means the credentials were accepted
(the order is unknown); 401 means they were not."""

import uuid

import httpx

from .base import Outcome, by_status

DEFAULT_API_VERSION = "2023-08-01"


async def check(http: httpx.AsyncClient, base_url: str, creds: dict[str, str]) -> Outcome:
    response = await http.get(
        f"{base_url}/pg/orders/lsp_check_{uuid.uuid4().hex[:16]}",
        headers={
            "x-client-id": creds["client_id"],
            "x-client-secret": creds["client_secret"],
            "x-api-version": creds.get("api_version") or DEFAULT_API_VERSION,
            "accept": "application/json",
        },
    )
    return by_status(response, ok_statuses=(200, 404))
