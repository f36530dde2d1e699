"""SSRF policy: which addresses a webhook may reach, and name resolution to a private
address (the resolver is outside our system, so it is replaced here)."""

import asyncio
import socket

import pytest

from edge_adapter.webhooks.ssrf import BlockedDestination, SafeResolver, check_address, check_url


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


def fake_dns(monkeypatch, answers: list[str]) -> asyncio.AbstractEventLoop:
    async def getaddrinfo(host, port, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers]

    loop = asyncio.new_event_loop()
    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return loop


def test_a_name_resolving_to_a_private_address_is_refused(monkeypatch):
    loop = fake_dns(monkeypatch, ["10.1.2.3"])
    with pytest.raises(BlockedDestination):
        loop.run_until_complete(SafeResolver(False).resolve("hooks.example.com", 443))
    loop.close()


def test_every_resolved_address_must_pass(monkeypatch):
    loop = fake_dns(monkeypatch, ["93.184.216.34", "169.254.169.254"])
    with pytest.raises(BlockedDestination):
        loop.run_until_complete(SafeResolver(False).resolve("hooks.example.com", 443))
    loop.close()


def test_the_client_gets_only_the_checked_addresses(monkeypatch):
    loop = fake_dns(monkeypatch, ["93.184.216.34"])
    results = loop.run_until_complete(SafeResolver(False).resolve("hooks.example.com", 8443))
    loop.close()
    assert [(r["hostname"], r["host"], r["port"]) for r in results] == [
        ("hooks.example.com", "93.184.216.34", 8443)
    ]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "https://user:pw@example.com/x",
        "example.com/x",
        "http://10.0.0.1/x",
        "http://[::ffff:169.254.169.254]/x",
    ],
)
def test_odd_urls_and_private_literals_are_refused(url):
    with pytest.raises(BlockedDestination):
        check_url(url, allow_loopback=False)
