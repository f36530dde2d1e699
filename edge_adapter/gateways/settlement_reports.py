"""Providers' settlement reports: what a gateway paid the platform on a day, item by item,
normalised for private.ingest_provider_settlement:

    {"settlement_id", "utr", "settled_at" (ISO 8601), "currency", "items": [{"type":
     payment | refund | adjustment, "entity_id" (the provider's id), "reference" (ours, as
     the provider echoes it), "amount", "fee" (without tax), "tax"}]}

Amounts are integer minor units (paise), as both APIs state them.

* Razorpay: `GET /v1/settlements/recon/combined?year=YYYY&month=MM&day=DD&count=&skip=`
  (Basic key_id:key_secret; https://razorpay.com/docs/api/settlements/fetch-recon/) lists
  every transaction settled that day: `entity_id`, `type` (payment, refund, adjustment,
  transfer, ...), `amount`, `fee` (Razorpay's fee, its tax included), `tax`, `credit`,
  `debit`, `settlement_id`, `settlement_utr`, `settled_at`, `order_receipt` (our attempt id
  for payments; our refund id, sent as the refund's receipt, for refunds). `count` is at
  most 1000; `skip` pages.
* Sandbox (LightSpeedPay's own test provider; this is its reference):
  `GET /v1/settlements?date=YYYY-MM-DD` (x-api-key, x-api-secret) ->
  {"data": [{"id", "utr", "settled_at" (epoch s), "currency", "amount" (net), "items":
  [{"type": charge | refund, "id", "reference" (ours), "amount", "fee", "tax", "net"}]}]}.
"""

from datetime import UTC, date, datetime
from typing import Any

import httpx

from .payments import ProviderCall

PAGE = 1000


def _iso(epoch: Any) -> str | None:
    return datetime.fromtimestamp(int(epoch), UTC).isoformat() if epoch is not None else None


class RazorpayRecon:
    name = "razorpay"

    async def fetch(self, call: ProviderCall, day: date) -> list[dict[str, Any]]:
        auth = httpx.BasicAuth(call.credentials["key_id"], call.credentials["key_secret"])
        items: list[dict[str, Any]] = []
        skip = 0
        while True:
            response = await call.http.get(
                f"{call.base_url}/v1/settlements/recon/combined",
                params={
                    "year": day.year,
                    "month": f"{day.month:02d}",
                    "day": f"{day.day:02d}",
                    "count": PAGE,
                    "skip": skip,
                },
                auth=auth,
            )
            response.raise_for_status()
            page = response.json()["items"]
            items.extend(page)
            if len(page) < PAGE:
                break
            skip += PAGE
        settlements: dict[str, dict[str, Any]] = {}
        for item in items:
            sid = str(item["settlement_id"])
            s = settlements.setdefault(
                sid,
                {
                    "settlement_id": sid,
                    "utr": item.get("settlement_utr"),
                    "settled_at": _iso(item.get("settled_at")),
                    "currency": str(item.get("currency") or "INR").upper(),
                    "items": [],
                },
            )
            kind = str(item["type"])
            tax = int(item.get("tax") or 0)
            s["items"].append(
                {
                    "type": kind if kind in ("payment", "refund") else "adjustment",
                    "entity_id": item.get("entity_id"),
                    "reference": item.get("order_receipt"),
                    "amount": int(item["amount"])
                    if kind in ("payment", "refund")
                    # anything else: its signed effect on what was paid
                    else int(item.get("credit") or 0) - int(item.get("debit") or 0),
                    "fee": int(item.get("fee") or 0) - tax,
                    "tax": tax,
                }
            )
        return list(settlements.values())


class SandboxReport:
    name = "sandbox"

    async def fetch(self, call: ProviderCall, day: date) -> list[dict[str, Any]]:
        response = await call.http.get(
            f"{call.base_url}/v1/settlements",
            params={"date": day.isoformat()},
            headers={
                "x-api-key": call.credentials["api_key"],
                "x-api-secret": call.credentials["api_secret"],
            },
        )
        response.raise_for_status()
        return [
            {
                "settlement_id": s["id"],
                "utr": s.get("utr"),
                "settled_at": _iso(s.get("settled_at")),
                "currency": str(s.get("currency") or "INR").upper(),
                "items": [
                    {
                        "type": {"charge": "payment", "refund": "refund"}.get(
                            i["type"], "adjustment"
                        ),
                        "entity_id": i.get("id"),
                        "reference": i.get("reference"),
                        "amount": int(i["amount"]),
                        "fee": int(i.get("fee") or 0),
                        "tax": int(i.get("tax") or 0),
                    }
                    for i in s["items"]
                ],
            }
            for s in response.json()["data"]
        ]


REPORTERS: dict[str, RazorpayRecon | SandboxReport] = {
    "razorpay": RazorpayRecon(),
    "sandbox": SandboxReport(),
}
