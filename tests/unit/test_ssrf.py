"""SSRF policy: which addresses a webhook may reach, judged on the host the HTTP client will
actually use (yarl's parse, IDNA/UTS-46 mapping included), and name resolution to a private
address (the resolver is outside our system, so it is replaced here). Nothing here connects."""

import asyncio
import socket

import pytest
from yarl import URL

from edge_adapter.webhooks.ssrf import (
    BlockedConnection,
    BlockedDestination,
    SafeResolver,
    check_address,
    check_url,
    guarded_socket_factory,
    read_ipv4,
)

REFUSE, ADMIT, NAME = "refused", "admitted", "name"

# (URL as a merchant could write it, verdict without the dev setting, verdict with it).
# NAME: not an address; SafeResolver judges what it resolves to (tested further down).
SPELLINGS = [
    # Full-width and other Unicode digits and dots: yarl maps them (UTS-46) to ASCII first.
    ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11:8080/", REFUSE, ADMIT),
    ("http://127\u30020\u30020\u30021/", REFUSE, ADMIT),  # ideographic full stop
    ("http://\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11/", REFUSE, ADMIT),
    ("http://127\uff610\uff610\uff611/", REFUSE, ADMIT),  # half-width ideographic full stop
    ("http://\u2460\u2461\u2466.\u24ea.\u24ea.\u2460/", REFUSE, ADMIT),  # circled digits
    ("http://\uff11\uff10.\uff10.\uff10.\uff11/", REFUSE, REFUSE),
    (
        "http://\uff11\uff16\uff19.\uff12\uff15\uff14.\uff11\uff16\uff19.\uff12\uff15\uff14/",
        REFUSE,
        REFUSE,
    ),
    ("http://\uff19\uff13.\uff11\uff18\uff14.\uff12\uff11\uff16.\uff13\uff14/", ADMIT, ADMIT),
    ("http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/", NAME, NAME),
    ("http://\u0661\u0662\u0667.\u0660.\u0660.\u0661/", NAME, NAME),  # Arabic-Indic: punycode
    # Numeric IPv4 spellings, read as inet_aton/getaddrinfo reads them; only the dotted quad.
    ("http://2130706433/", REFUSE, REFUSE),
    ("http://0x7f.1/", REFUSE, REFUSE),
    ("http://127.1/", REFUSE, REFUSE),
    ("http://127.0.1/", REFUSE, REFUSE),
    ("http://0177.0.0.1/", REFUSE, REFUSE),
    ("http://0x7f000001/", REFUSE, REFUSE),
    ("http://0X7F.0.0.1/", REFUSE, REFUSE),
    ("http://127.0.0.0x1/", REFUSE, REFUSE),
    ("http://127.000.000.001/", REFUSE, REFUSE),
    ("http://0/", REFUSE, REFUSE),
    ("http://1572395042/", REFUSE, REFUSE),  # 93.184.216.34, but not as a dotted quad
    ("http://0000127.0.0.1/", REFUSE, REFUSE),  # octal: 87.0.0.1
    ("http://1.2.3.4.5/", REFUSE, REFUSE),
    ("http://08.1/", REFUSE, REFUSE),
    ("http://127.0.0.1./", REFUSE, REFUSE),
    ("http://127.0.0.1../", REFUSE, REFUSE),
    # Dotted quads.
    ("http://127.0.0.1/", REFUSE, ADMIT),
    ("http://127.255.255.254:9/", REFUSE, ADMIT),
    ("http://127.0.0.1\t/", REFUSE, ADMIT),  # yarl drops the tab, as WHATWG URL parsing does
    ("http://93.184.216.34/", ADMIT, ADMIT),
    ("https://8.8.8.8:8443/x", ADMIT, ADMIT),
    ("http://10.0.0.1/", REFUSE, REFUSE),
    ("http://172.16.5.4/", REFUSE, REFUSE),
    ("http://192.168.1.1/", REFUSE, REFUSE),
    ("http://169.254.169.254/latest/meta-data", REFUSE, REFUSE),
    ("http://100.64.1.1/", REFUSE, REFUSE),
    ("http://0.0.0.0/", REFUSE, REFUSE),
    ("http://198.18.0.1/", REFUSE, REFUSE),
    ("http://192.0.0.9/", REFUSE, REFUSE),
    ("http://192.88.99.1/", REFUSE, REFUSE),
    ("http://224.0.0.1/", REFUSE, REFUSE),
    ("http://255.255.255.255/", REFUSE, REFUSE),
    # IPv6, and IPv6 forms that embed an IPv4 address.
    ("http://[::1]/", REFUSE, ADMIT),
    ("http://[0:0:0:0:0:0:0:1]/", REFUSE, ADMIT),
    ("http://[::]/", REFUSE, REFUSE),
    ("http://[::127.0.0.1]/", REFUSE, REFUSE),  # IPv4-compatible (deprecated)
    ("http://[::5db8:d822]/", REFUSE, REFUSE),  # IPv4-compatible, public inside: still refused
    ("http://[::ffff:127.0.0.1]/", REFUSE, ADMIT),  # IPv4-mapped: the same socket as 127.0.0.1
    ("http://[::ffff:7f00:1]/", REFUSE, ADMIT),
    ("http://[0:0:0:0:0:ffff:10.0.0.1]/", REFUSE, REFUSE),
    ("http://[::ffff:169.254.169.254]/", REFUSE, REFUSE),
    ("http://[::ffff:93.184.216.34]/", ADMIT, ADMIT),
    ("http://[64:ff9b::127.0.0.1]/", REFUSE, REFUSE),  # NAT64 never reaches our loopback
    ("http://[64:ff9b::10.0.0.1]/", REFUSE, REFUSE),
    ("http://[64:ff9b::93.184.216.34]/", ADMIT, ADMIT),
    ("http://[64:ff9b:1:7f00:0:100::]/", REFUSE, REFUSE),  # local-use NAT64 of 127.0.0.1
    ("http://[64:ff9b:1:5db8:d8:2200::]/", REFUSE, REFUSE),  # local-use NAT64, public inside
    ("http://[2002:7f00:1::1]/", REFUSE, REFUSE),  # 6to4 of 127.0.0.1
    ("http://[2002:a9fe:a9fe::1]/", REFUSE, REFUSE),  # 6to4 of 169.254.169.254
    ("http://[2002:5db8:d822::1]/", REFUSE, REFUSE),  # 6to4 of a public address
    ("http://[2001:0:5db8:d822:0:0:80ff:fffe]/", REFUSE, REFUSE),  # Teredo, client 127.0.0.1
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", REFUSE, REFUSE),  # Teredo, public
    ("http://[fe80::1]/", REFUSE, REFUSE),
    ("http://[fe80::1%25eth0]/", REFUSE, REFUSE),
    ("http://[fd12:3456::1]/", REFUSE, REFUSE),
    ("http://[fec0::1]/", REFUSE, REFUSE),
    ("http://[ff02::1]/", REFUSE, REFUSE),
    ("http://[100::1]/", REFUSE, REFUSE),
    ("http://[2001:db8::1]/", REFUSE, REFUSE),
    ("http://[3fff::1]/", REFUSE, REFUSE),
    ("http://[5f00::1]/", REFUSE, REFUSE),
    ("http://[2606:4700:4700::1111]/", ADMIT, ADMIT),
    ("http://[2606:4700:4700::1111%25eth0]/", REFUSE, REFUSE),
    # Names, and hosts that are neither a name nor an address.
    ("http://LOCALHOST/", NAME, NAME),
    ("http://hooks.example.com./in", NAME, NAME),
    ("http://127.0.0.1.nip.io/", NAME, NAME),
    ("http://0x7f.example.com/", NAME, NAME),
    ("http://xn--nxasmq6b.com/", NAME, NAME),
    ("http://%31%32%37.0.0.1/", REFUSE, REFUSE),
    ("http://127.0.0.%31/", REFUSE, REFUSE),
    ("http://exa mple.com/", REFUSE, REFUSE),
    ("http://a..b/", REFUSE, REFUSE),
    ("http://[v1.x]/", NAME, NAME),  # yarl drops the brackets: the client resolves "v1.x"
    ("http://user:pw@hooks.example.com/", REFUSE, REFUSE),
    ("http://127.0.0.1:80@hooks.example.com/", REFUSE, REFUSE),
    ("ftp://hooks.example.com/", REFUSE, REFUSE),
    ("hooks.example.com/x", REFUSE, REFUSE),
    ("http:///x", REFUSE, REFUSE),
    ("http://hooks.example.com:99999/", REFUSE, REFUSE),
]


def verdict(url: str, allow_loopback: bool) -> str:
    try:
        checked = check_url(url, allow_loopback)
    except BlockedDestination:
        return REFUSE
    host = checked.raw_host
    assert host is not None
    try:
        check_address(host, allow_loopback)
    except BlockedDestination:
        return NAME  # not an address (an address outside the policy would have raised above)
    return ADMIT


def test_the_table_is_big_enough_to_mean_something():
    assert len(SPELLINGS) >= 40
    assert len({u for u, _, _ in SPELLINGS}) == len(SPELLINGS)


@pytest.mark.parametrize(("url", "strict", "loopback"), SPELLINGS)
def test_each_spelling_gets_its_verdict(url, strict, loopback):
    assert (verdict(url, False), verdict(url, True)) == (strict, loopback)


@pytest.mark.parametrize(("url", "strict", "loopback"), SPELLINGS)
def test_the_checked_url_is_the_url_the_client_would_build(url, strict, loopback):
    # aiohttp builds URL(str) from a string; check_url hands back that very parse.
    try:
        checked = check_url(url, True)
    except BlockedDestination:
        return
    assert checked == URL(url) and checked.raw_host == URL(url).raw_host


def test_full_width_digits_become_the_loopback_literal_the_client_connects_to():
    # The finding: ipaddress sees a name here, yarl (so aiohttp) sees 127.0.0.1.
    url = "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11:8080/"
    assert URL(url).raw_host == "127.0.0.1"
    with pytest.raises(BlockedDestination, match=r"127\.0\.0\.1 is not a public address"):
        check_url(url, allow_loopback=False)


@pytest.mark.parametrize(
    "spelling",
    [
        "2130706433",
        "0x7f.1",
        "127.1",
        "0177.0.0.1",
        "0x7f000001",
        "127.0.0.0x1",
        "0000127.0.0.1",
        "1.16777215",
        "0xffffffff",
        "1.2.3.256",
        "256.1.1.1",
        "4294967296",
        "08.1",
        "0x",
        "1.2.3.4.5",
        "93.184.216.34",
    ],
)
def test_ipv4_spellings_are_read_as_the_system_resolver_reads_them(spelling):
    try:
        system = socket.inet_ntoa(socket.inet_aton(spelling))
    except OSError:
        system = None
    ours = read_ipv4(spelling)
    assert (str(ours) if ours else None) == system


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
        "::",
        "fc00::1",
        "fe80::1",
        "fe80::1%eth0",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
        "::127.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "2002:0a00:0001::1",
        "224.0.0.1",
        "198.18.0.1",
        "not an address",
    ],
)
def test_private_and_special_addresses_are_refused(address):
    with pytest.raises(BlockedDestination):
        check_address(address, allow_loopback=False)


def test_public_addresses_pass_and_loopback_only_when_allowed():
    assert str(check_address("93.184.216.34", allow_loopback=False)) == "93.184.216.34"
    assert str(check_address("2606:4700:4700::1111", allow_loopback=False)) == (
        "2606:4700:4700::1111"
    )
    assert str(check_address("64:ff9b::5db8:d822", allow_loopback=False)) == "64:ff9b::5db8:d822"
    assert str(check_address("127.0.0.1", allow_loopback=True)) == "127.0.0.1"
    assert str(check_address("::1", allow_loopback=True)) == "::1"
    for private in ("10.0.0.1", "0.0.0.0", "::", "::ffff:10.0.0.1", "64:ff9b::7f00:1"):
        with pytest.raises(BlockedDestination):
            check_address(private, allow_loopback=True)  # the dev setting admits loopback only


def test_the_refusal_names_the_embedded_address():
    with pytest.raises(BlockedDestination, match=r"embeds 169\.254\.169\.254"):
        check_address("2002:a9fe:a9fe::1", allow_loopback=False)
    with pytest.raises(BlockedDestination, match=r"embeds 127\.0\.0\.1"):
        check_address("2001:0:5db8:d822::80ff:fffe", allow_loopback=True)


def fake_dns(monkeypatch, answers: list[str]) -> asyncio.AbstractEventLoop:
    async def getaddrinfo(host, port, **kwargs):
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port, 0, 0) if ":" in a else (a, port),
            )
            for a in answers
        ]

    loop = asyncio.new_event_loop()
    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return loop


@pytest.mark.parametrize(
    "answers",
    [
        ["10.1.2.3"],
        ["93.184.216.34", "169.254.169.254"],
        ["::ffff:10.0.0.1"],
        ["64:ff9b::7f00:1"],
        ["2002:7f00:1::1"],
        ["fd00::1"],
        ["127.0.0.1"],
    ],
)
def test_a_name_resolving_to_a_private_address_is_refused(monkeypatch, answers):
    loop = fake_dns(monkeypatch, answers)
    with pytest.raises(BlockedDestination):
        loop.run_until_complete(SafeResolver(False).resolve("hooks.example.com", 443))
    loop.close()


def test_the_client_gets_only_the_checked_addresses(monkeypatch):
    loop = fake_dns(monkeypatch, ["93.184.216.34", "2606:4700:4700::1111"])
    results = loop.run_until_complete(SafeResolver(False).resolve("hooks.example.com", 8443))
    loop.close()
    assert [(r["hostname"], r["host"], r["port"]) for r in results] == [
        ("hooks.example.com", "93.184.216.34", 8443),
        ("hooks.example.com", "2606:4700:4700::1111", 8443),
    ]


def test_the_dev_setting_lets_a_name_resolve_to_loopback_only(monkeypatch):
    loop = fake_dns(monkeypatch, ["127.0.0.1", "::1"])
    results = loop.run_until_complete(SafeResolver(True).resolve("localhost", 80))
    assert [r["host"] for r in results] == ["127.0.0.1", "::1"]
    loop.close()
    loop = fake_dns(monkeypatch, ["127.0.0.1", "192.168.0.10"])
    with pytest.raises(BlockedDestination):
        loop.run_until_complete(SafeResolver(True).resolve("localhost", 80))
    loop.close()


@pytest.mark.parametrize("host", ["0x7f.1", "2130706433", "exa mple.com", "h\u00f6st.example"])
def test_the_resolver_refuses_hosts_that_are_not_plain_names(monkeypatch, host):
    loop = fake_dns(monkeypatch, ["93.184.216.34"])  # even when they would resolve to public
    with pytest.raises(BlockedDestination):
        loop.run_until_complete(SafeResolver(False).resolve(host, 80))
    loop.close()


def test_the_socket_factory_refuses_to_open_a_socket_to_a_blocked_address():
    stream = (socket.SOCK_STREAM, 6, "")
    for allow_loopback, address in ((False, "127.0.0.1"), (True, "10.0.0.1"), (True, "0.0.0.0")):
        with pytest.raises(BlockedConnection):
            guarded_socket_factory(allow_loopback)((socket.AF_INET, *stream, (address, 80)))
    with pytest.raises(BlockedConnection):
        guarded_socket_factory(True)((socket.AF_INET6, *stream, ("::ffff:a00:1", 80, 0, 0)))
    sock = guarded_socket_factory(True)((socket.AF_INET, *stream, ("127.0.0.1", 80)))
    try:
        assert sock.family == socket.AF_INET and sock.type == socket.SOCK_STREAM
    finally:
        sock.close()
