"""The masking rule, as the database applies it (private.is_secret_key, private.redact,
private.mask_card_numbers): one rule for every place that shows stored payloads or writes
logs. A test checks this module and the SQL agree on a table of keys and texts.

* A value is masked when its key names a secret: credentials, signatures, tokens, cookies,
  sessions, card and account numbers, PINs, OTPs (case-insensitive, '-' read as '_').
* Card numbers are also found by value: a Luhn-valid run of 13 to 19 digits (spaces or
  dashes between groups allowed), masked to its last four digits.
"""

import re
from typing import Any

SECRET_SUBSTRING = re.compile(
    r"(secret|passw|passphrase|token|api_?key|private_?key|key_?hash|credential|signature|salt"
    r"|authori[sz]ation|cookie|session|cvv|cvc|card_?number|card_?no|account_?number"
    r"|access_?key|jwt|bearer|otp|mpin|upi_?pin)"
)
SECRET_WORD = re.compile(r"(^|_)(pin|pan|auth|sig|pwd|pass)(_|$)")
CARD_RUN = re.compile(r"(?:^|(?<=[^0-9]))([0-9](?:[ -]?[0-9]){12,18})(?=$|[^0-9])")
REDACTED = "[redacted]"


def is_secret_key(key: str) -> bool:
    k = key.lower().replace("-", "_")
    return bool(SECRET_SUBSTRING.search(k) or SECRET_WORD.search(k))


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def mask_card_numbers(text: str) -> str:
    if not re.search(r"[0-9]{4}", text):
        return text

    def mask(match: re.Match[str]) -> str:
        run = match.group(1)
        digits = re.sub(r"[^0-9]", "", run)
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            return "*" * (len(digits) - 4) + digits[-4:]
        return run

    return CARD_RUN.sub(mask, text)


def redact(value: Any) -> Any:
    """A JSON-like value with secrets masked, nested included (as private.redact)."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if is_secret_key(str(k)) and v is not None else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return mask_card_numbers(value)
    return value
