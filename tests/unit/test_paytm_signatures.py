"""Paytm's checksum over exact body text, form parameter strings and amounts."""

import pytest

from edge_adapter.gateways import paytm

KEY = "fake&merchant#16"


def test_member_text_returns_the_exact_bytes_of_a_member():
    raw = '{ "head" : {"signature":"x"} ,\n "body":{"a": 1, "s": "}\\"head\\""} }'
    assert paytm.member_text(raw, "body") == '{"a": 1, "s": "}\\"head\\""}'
    assert paytm.member_text(raw, "head") == '{"signature":"x"}'
    assert paytm.member_text(raw, "missing") is None
    assert paytm.member_text("[1, 2]", "body") is None
    assert paytm.member_text('{"body": ', "body") is None


def test_signed_payload_verifies_over_its_body_text():
    payload = paytm.signed_payload({"mid": "M", "orderId": "O1"}, KEY)
    body = paytm.member_text(payload, "body")
    signature = payload.split('"signature":"')[1].rstrip('"}')
    assert body == '{"mid":"M","orderId":"O1"}'
    assert paytm.verify_signature(body, KEY, signature)
    assert not paytm.verify_signature(body.replace("O1", "O2"), KEY, signature)


def test_params_string_sorts_keys_and_blanks_nulls():
    assert paytm.params_string({"b": "2", "a": "1", "c": "null"}) == "1|2|"


@pytest.mark.parametrize(("paise", "text"), [(100, "1.00"), (5, "0.05"), (999999, "9999.99")])
def test_amounts_convert_exactly(paise, text):
    assert paytm.rupees(paise) == text
    assert paytm.paise(text) == paise
    assert paytm.paise("1.001") is None
