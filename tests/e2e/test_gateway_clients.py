"""Each provider client against the fake provider server over real HTTP: good and bad
credentials, 5xx, rate limiting, a hang (timeout) and a closed port (unreachable)."""

import asyncio

import pytest

from edge_adapter.fake_providers import FAKE_CREDENTIALS
from edge_adapter.gateways import CHECKS
from edge_adapter.gateways.base import run_check
from edge_adapter.gateways.paytm import generate_signature, verify_signature

from .conftest import free_port

PROVIDERS = sorted(CHECKS)


def check(fake, provider: str, creds: dict[str, str], timeout: float = 2.0):
    return asyncio.run(run_check(CHECKS[provider], f"{fake.base}/{provider}", creds, timeout))


def wrong(creds: dict[str, str]) -> dict[str, str]:
    """The same credentials with every secret-ish value altered."""
    return {k: (v[:-1] + ("x" if v[-1] != "x" else "y")) for k, v in creds.items()}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_good_credentials_pass(fake_providers, provider):
    result = check(fake_providers, provider, FAKE_CREDENTIALS[provider])
    assert result.ok, result
    assert result.error_class is None
    assert result.latency_ms >= 0
    assert fake_providers.calls()[provider] == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_bad_credentials_are_auth_failed(fake_providers, provider):
    result = check(fake_providers, provider, wrong(FAKE_CREDENTIALS[provider]))
    assert not result.ok
    assert result.error_class == "auth_failed", result


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_5xx_is_an_unexpected_response(fake_providers, provider):
    fake_providers.mode(provider, "error")
    result = check(fake_providers, provider, FAKE_CREDENTIALS[provider])
    assert (result.ok, result.error_class, result.http_status) == (
        False,
        "unexpected_response",
        503,
    )


@pytest.mark.parametrize("provider", ["razorpay", "stripe", "cashfree"])
def test_429_is_rate_limited(fake_providers, provider):
    fake_providers.mode(provider, "rate_limit")
    assert check(fake_providers, provider, FAKE_CREDENTIALS[provider]).error_class == "rate_limited"


@pytest.mark.parametrize("provider", ["sandbox", "phonepe", "paytm"])
def test_a_hang_is_a_timeout_within_the_bound(fake_providers, provider):
    fake_providers.mode(provider, "hang")
    result = check(fake_providers, provider, FAKE_CREDENTIALS[provider], timeout=0.5)
    assert result.error_class == "timeout"
    assert result.latency_ms < 2000


def test_a_closed_port_is_unreachable():
    port = free_port()
    result = asyncio.run(
        run_check(CHECKS["razorpay"], f"http://127.0.0.1:{port}", FAKE_CREDENTIALS["razorpay"], 1.0)
    )
    assert result.error_class == "unreachable"


def test_slow_answers_report_their_latency(fake_providers):
    fake_providers.mode("stripe", "ok", latency_ms=300)
    result = check(fake_providers, "stripe", FAKE_CREDENTIALS["stripe"])
    assert result.ok and result.latency_ms >= 300


def test_paytm_checksum_round_trips_and_detects_tampering():
    key = FAKE_CREDENTIALS["paytm"]["merchant_key"]
    body = '{"mid":"M","orderId":"O1"}'
    signature = generate_signature(body, key)
    assert verify_signature(body, key, signature)
    assert not verify_signature(body.replace("O1", "O2"), key, signature)
    assert not verify_signature(body, "another&key#1234", signature)
