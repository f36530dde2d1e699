"""PayU India: the verify_payment web service for a transaction id that does not exist.
hash = sha512(key|command|var1|salt). status 1 = credentials accepted; status 0 with an
invalid key or hash = rejected."""

import hashlib
import uuid

import httpx

from .base import Outcome, by_status

COMMAND = "verify_payment"


def webservice_hash(key: str, command: str, var1: str, salt: str) -> str:
    return hashlib.sha512(f"{key}|{command}|{var1}|{salt}".encode()).hexdigest()


async def check(http: httpx.AsyncClient, base_url: str, creds: dict[str, str]) -> Outcome:
    txnid = f"lspcheck{uuid.uuid4().hex[:12]}"
    key, salt = creds["merchant_key"], creds["merchant_salt"]
    response = await http.post(
        f"{base_url}/merchant/postservice.php",
        params={"form": 2},
        data={
            "key": key,
            "command": COMMAND,
            "var1": txnid,
            "hash": webservice_hash(key, COMMAND, txnid, salt),
        },
    )
    outcome = by_status(response)
    if not outcome.ok:
        return outcome
    body = response.json()
    if str(body.get("status")) == "1":
        return Outcome(True, response.status_code)
    message = str(body.get("msg", ""))
    if any(word in message.lower() for word in ("hash", "key", "merchant")):
        return Outcome(False, response.status_code, "auth_failed", "PayU rejected the key or salt")
    return Outcome(False, response.status_code, "unexpected_response", "unexpected PayU status")
