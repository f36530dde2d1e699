"""Paytm: the v3 order status API for an order that does not exist, signed with Paytm's
checksum. The checksum: sha256(body + "|" + salt) hex + salt, AES-CBC encrypted with the
merchant key and Paytm's fixed IV, base64. resultCode 334/501 (order unknown) means the
MID and key were accepted; 2005/2006 (invalid checksum / MID) means they were not."""

import base64
import hashlib
import json
import secrets
import uuid

import httpx
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .base import Outcome, by_status

IV = b"@@@@&&&&####$$$$"
AUTH_CODES = {"2005", "2006", "2004", "227"}
ORDER_UNKNOWN_CODES = {"334", "501", "402"}


def _cipher(key: str) -> Cipher:
    return Cipher(algorithms.AES(key.encode()), modes.CBC(IV))


def generate_signature(body: str, key: str, salt: str | None = None) -> str:
    salt = salt or secrets.token_urlsafe(3)[:4]
    plain = (hashlib.sha256(f"{body}|{salt}".encode()).hexdigest() + salt).encode()
    padder = padding.PKCS7(128).padder()
    encryptor = _cipher(key).encryptor()
    data = encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()
    return base64.b64encode(data).decode()


def verify_signature(body: str, key: str, signature: str) -> bool:
    try:
        decryptor = _cipher(key).decryptor()
        raw = decryptor.update(base64.b64decode(signature)) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        plain = (unpadder.update(raw) + unpadder.finalize()).decode()
    except (ValueError, UnicodeDecodeError):
        return False
    salt = plain[-4:]
    return secrets.compare_digest(
        plain, hashlib.sha256(f"{body}|{salt}".encode()).hexdigest() + salt
    )


async def check(http: httpx.AsyncClient, base_url: str, creds: dict[str, str]) -> Outcome:
    body = json.dumps({"mid": creds["mid"], "orderId": f"LSPCHECK{uuid.uuid4().hex[:12]}"})
    try:
        signature = generate_signature(body, creds["merchant_key"])
    except ValueError:
        return Outcome(False, None, "auth_failed", "the merchant key is not a valid Paytm key")
    response = await http.post(
        f"{base_url}/v3/order/status",
        content=f'{{"body":{body},"head":{{"signature":"{signature}"}}}}',
        headers={"content-type": "application/json"},
    )
    outcome = by_status(response)
    if not outcome.ok:
        return outcome
    info = response.json().get("body", {}).get("resultInfo", {})
    code = str(info.get("resultCode"))
    if code in ORDER_UNKNOWN_CODES or info.get("resultStatus") in ("TXN_SUCCESS", "PENDING"):
        return Outcome(True, response.status_code)
    if code in AUTH_CODES:
        return Outcome(
            False, response.status_code, "auth_failed", "Paytm rejected the checksum or MID"
        )
    return Outcome(False, response.status_code, "unexpected_response", f"Paytm resultCode {code}")
