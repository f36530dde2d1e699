"""PayU's hash formulas (https://docs.payu.in/docs/hashing-request-and-response) and the
amount / txnid conversions, checked against independently written field sequences."""

import hashlib
from urllib.parse import urlencode

import pytest

from edge_adapter.gateways import payu
from edge_adapter.gateways.payments import ProviderCall, WebhookRejected

SALT = "salt123"
FIELDS = {
    "key": "KEY1",
    "txnid": "att_1",
    "amount": "10.00",
    "productinfo": "Order",
    "firstname": "Asha",
    "email": "a@example.com",
    "udf1": "pay_1",
    "udf2": "att_1",
    "status": "success",
}


def sha512(text: str) -> str:
    return hashlib.sha512(text.encode()).hexdigest()


def test_payment_hash_is_the_documented_sequence():
    # key|txnid|amount|productinfo|firstname|email|udf1..udf5||||||SALT
    sequence = ["KEY1", "att_1", "10.00", "Order", "Asha", "a@example.com"]
    sequence += ["pay_1", "att_1", "", "", ""] + [""] * 5 + [SALT]
    assert payu.payment_hash(FIELDS, SALT) == sha512("|".join(sequence))


def test_reverse_hash_is_the_documented_sequence():
    # SALT|status||||||udf5|udf4|udf3|udf2|udf1|email|firstname|productinfo|amount|txnid|key
    tail = ["", "", "", "att_1", "pay_1", "a@example.com", "Asha", "Order", "10.00", "att_1"]
    sequence = [SALT, "success"] + [""] * 5 + tail + ["KEY1"]
    assert payu.reverse_hash(FIELDS, SALT) == sha512("|".join(sequence))
    with_charges = {**FIELDS, "additionalCharges": "2.00"}
    assert payu.reverse_hash(with_charges, SALT) == sha512("|".join(["2.00", *sequence]))


def test_webservice_hash():
    assert payu.webservice_hash("K", "verify_payment", "t1", "S") == sha512("K|verify_payment|t1|S")


@pytest.mark.parametrize(
    ("paise", "text"), [(0, "0.00"), (1, "0.01"), (100, "1.00"), (123456, "1234.56")]
)
def test_amounts_convert_exactly(paise, text):
    assert payu.rupees(paise) == text
    assert payu.paise(text) == paise


def test_inexact_or_missing_amounts_are_none():
    assert payu.paise("1.005") is None
    assert payu.paise("") is None
    assert payu.paise("abc") is None
    with pytest.raises(ValueError):
        payu.rupees(-1)


def test_txnid_keeps_short_ids_and_digests_long_ones():
    assert payu.txnid_for("att_short") == "att_short"
    long_id = "att_" + "y" * 36
    assert len(payu.txnid_for(long_id)) == 25
    assert payu.txnid_for(long_id) == payu.txnid_for(long_id)
    assert payu.txnid_for(long_id) != payu.txnid_for(long_id + "z")


def test_live_payments_go_to_secure_payu():
    live = ProviderCall(None, "https://info.payu.in", {})  # type: ignore[arg-type]
    test = ProviderCall(None, "https://test.payu.in", {})  # type: ignore[arg-type]
    assert payu.PayUClient._payment_url(live) == "https://secure.payu.in/_payment"
    assert payu.PayUClient._payment_url(test) == "https://test.payu.in/_payment"


def test_webhook_key_must_match_the_credentials():
    fields = {**FIELDS}
    fields["hash"] = payu.reverse_hash(fields, SALT)
    body = urlencode(fields).encode()
    payu.client.verify_webhook({}, body, [{"merchant_key": "KEY1", "merchant_salt": SALT}])
    with pytest.raises(WebhookRejected) as rejected:
        payu.client.verify_webhook({}, body, [{"merchant_key": "OTHER", "merchant_salt": SALT}])
    assert rejected.value.reason == "bad_signature"
