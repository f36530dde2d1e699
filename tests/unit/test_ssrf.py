"""SSRF policy: which addresses a webhook may reach, and name resolution to a private
address (the resolver is outside our system, so it is replaced here)."""

import asyncio
import socket

import pytest

from edge_adapter.webhooks.ssrf import BlockedDestination, check_address, resolve_safely


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.1.1",
        "0.0.0.0",
        "::1",
        "fc00::1",
        "fe80::1",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
        "198.18.0.1",
    ],
)
def test_private_and_special_addresses_are_refused(address):
    with pytest.raises(BlockedDestination):
        check_address(address, allow_loopback=False)


def test_public_addresses_pass_and_loopback_only_when_allowed():
    assert str(check_address("93.184.216.34", allow_loopback=False)) == "93.184.216.34"
    assert str(check_address("127.0.0.1", allow_loopback=True)) == "127.0.0.1"
    assert str(check_address("::1", allow_loopback=True)) == "::1"
    with pytest.raises(BlockedDestination):
        check_address("10.0.0.1", allow_loopback=True)  # the dev setting admits loopback only


def fake_dns(monkeypatch, answers: list[str]) -> None:
    async def getaddrinfo(host, port, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers]

    loop = asyncio.new_event_loop()
    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    asyncio.set_event_loop(loop)
    return loop


def test_a_name_resolving_to_a_private_address_is_refused(monkeypatch):
    loop = fake_dns(monkeypatch, ["10.1.2.3"])
    with pytest.raises(BlockedDestination):
        loop.run_until_complete(resolve_safely("https://hooks.example.com/x", False))
    loop.close()


def test_every_resolved_address_must_pass(monkeypatch):
    loop = fake_dns(monkeypatch, ["93.184.216.34", "169.254.169.254"])
    with pytest.raises(BlockedDestination):
        loop.run_until_complete(resolve_safely("https://hooks.example.com/x", False))
    loop.close()


def test_the_request_is_pinned_to_the_checked_address(monkeypatch):
    loop = fake_dns(monkeypatch, ["93.184.216.34"])
    url, headers, extensions = loop.run_until_complete(
        resolve_safely("https://hooks.example.com:8443/in?x=1", False)
    )
    loop.close()
    assert url == "https://93.184.216.34:8443/in?x=1"
    assert headers == {"host": "hooks.example.com:8443"}
    assert extensions == {"sni_hostname": "hooks.example.com"}


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "https://user:pw@example.com/x", "example.com/x"]
)
def test_odd_urls_are_refused(url):
    with pytest.raises(BlockedDestination):
        asyncio.run(resolve_safely(url, False))
