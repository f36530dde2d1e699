"""One masking rule: the database (private.is_secret_key, private.mask_card_numbers,
private.redact) and the adapter (edge_adapter/masking.py) agree, on a table of keys and texts
with the cases a review found (authorization, card_number) and the rest of their kind."""

import json

import psycopg
import pytest

from edge_adapter import masking

KEYS = {
    # credentials and sessions, any case, '-' or '_'
    "authorization": True,
    "Authorization": True,
    "proxy-authorization": True,
    "X-Api-Key": True,
    "api_key": True,
    "apikey": True,
    "client_secret": True,
    "webhook_secret": True,
    "key_secret": True,
    "password": True,
    "Passwd": True,
    "passphrase": True,
    "access_token": True,
    "refresh-token": True,
    "id_token": True,
    "Cookie": True,
    "set-cookie": True,
    "session_id": True,
    "sessionToken": True,
    "signature": True,
    "x-razorpay-signature": True,
    "merchant_salt": True,
    "private_key": True,
    "key_hash": True,
    "credentials": True,
    "jwt": True,
    "bearer": True,
    "otp": True,
    "upi_pin": True,
    "mpin": True,
    "pin": True,
    "card_pin": True,
    "pan": True,
    "card_number": True,
    "cardNumber": True,
    "card-no": True,
    "cvv": True,
    "cvc": True,
    "account_number": True,
    "accessKey": True,
    "auth": True,
    "x_auth": True,
    "sig": True,
    "pwd": True,
    # ordinary fields
    "amount": False,
    "currency": False,
    "gateway_id": False,
    "author": False,
    "spinner": False,
    "company": False,
    "description": False,
    "status": False,
    "pending": False,
    "region": False,
    "job_key": False,
    "key": False,
}
TEXTS = [
    "card 4111111111111111 here",
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "378282246310005",  # Amex, 15
    "6011111111111117",
    "4111111111111112",  # not Luhn-valid
    "order 1796088546000 at ms",
    "phone 9876543210",
    "two: 4242424242424242 / 5555555555554444.",
    "no digits at all",
    "",
]


@pytest.mark.parametrize("key", sorted(KEYS))
def test_keys_agree_with_the_database(pg: psycopg.Connection, key: str):
    sql = pg.execute("select private.is_secret_key(%s)", (key,)).fetchone()[0]
    assert masking.is_secret_key(key) is sql is KEYS[key], key


@pytest.mark.parametrize("text", TEXTS)
def test_card_numbers_are_masked_alike(pg: psycopg.Connection, text: str):
    sql = pg.execute("select private.mask_card_numbers(%s)", (text,)).fetchone()[0]
    assert masking.mask_card_numbers(text) == sql


def test_redact_agrees_on_a_nested_payload(pg: psycopg.Connection):
    payload = {
        "authorization": "Bearer eyJabc",
        "card_number": "4111111111111111",
        "nested": [{"X-Api-Key": "k", "note": "use 4111 1111 1111 1111"}, {"amount": 100}],
        "empty_secret": None,
    }
    sql = pg.execute("select private.redact(%s::jsonb)", (json.dumps(payload),)).fetchone()[0]
    assert masking.redact(payload) == sql
    assert "4111" not in json.dumps(sql).replace("************1111", "")
    assert sql["empty_secret"] is None
