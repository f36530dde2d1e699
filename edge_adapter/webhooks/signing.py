"""Standard Webhooks signatures: webhook-signature = space-separated "v1,<base64 HMAC-SHA256
of '{id}.{timestamp}.{body}'>", one per active secret (two during a secret rotation)."""

import base64
import hashlib
import hmac


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_") + "==")


def signature_header(msg_id: str, timestamp: int, body: str, secrets: list[str]) -> str:
    signed = f"{msg_id}.{timestamp}.{body}".encode()
    return " ".join(
        "v1,"
        + base64.b64encode(hmac.new(secret_bytes(s), signed, hashlib.sha256).digest()).decode()
        for s in secrets
    )
