"""SSRF-safe outbound HTTP for merchant-supplied URLs.

The policy is decided on the address the client will actually connect to, never on the string
the merchant wrote:

1. The URL is parsed by yarl, the same parser aiohttp uses, and that parsed object is what the
   client is handed. yarl maps a non-ASCII host through IDNA / UTS-46 (`idna.encode(host,
   uts46=True)`), which folds full-width digits (U+FF10-U+FF19) and the ideographic full stop
   U+3002 to ASCII: 127.0.0.1 written in full-width digits *is* `http://127.0.0.1/` to aiohttp,
   which then connects to the literal without asking any resolver (`TCPConnector._resolve_host`
   returns an address-looking host as is). yarl also lower-cases the host, drops tabs and
   newlines, and keeps percent escapes and trailing dots as written
   (https://github.com/aio-libs/yarl/blob/master/yarl/_url.py, `_encode_host`;
   https://github.com/aio-libs/aiohttp/blob/master/aiohttp/connector.py, `_resolve_host`;
   https://www.unicode.org/reports/tr46/).
2. The resulting host must be plain ASCII: an IPv6 literal (no zone id), or letters, digits,
   `-`, `_` and dots. Percent escapes, spaces and the like are refused.
3. A host that ends in a number is an IPv4 address, read the way the resolver reads it
   (inet_aton: one to four parts, each decimal, octal with a leading 0, or hex with 0x, so
   `2130706433`, `0x7f.1`, `127.1` and `0177.0.0.1` are all 127.0.0.1;
   https://man7.org/linux/man-pages/man3/inet_aton.3.html, and the WHATWG "ends in a number"
   rule, https://url.spec.whatwg.org/#concept-host-parser). The address read is judged, and a
   spelling other than the canonical dotted quad is refused even for a public address (readers
   disagree on such spellings; aiohttp 3.14 itself refuses the all-digit ones, but hands hex
   spellings such as `0x7f.1` to the resolver, where getaddrinfo reads them as addresses).
4. Names are resolved by `SafeResolver`, which judges every address the name resolves to and
   hands aiohttp only those, so the connection goes to a checked address while the Host header
   and TLS keep the name.
5. Last, every socket the client opens comes from `guarded_socket_factory`, which judges the
   socket address itself (aiohttp's `TCPConnector(socket_factory=...)`, aiohttp 3.12+:
   https://docs.aiohttp.org/en/stable/client_reference.html#tcpconnector). Steps 1-4 give the
   precise reason; this one holds even if they miss a spelling.

ONE rule judges an address (`check_address`): it must be globally reachable unicast per the
IANA special-purpose registries (https://www.iana.org/assignments/iana-ipv4-special-registry/,
https://www.iana.org/assignments/iana-ipv6-special-registry/). IPv6 forms that embed an IPv4
address have it extracted and judged by the same rule: IPv4-mapped ::ffff:0:0/96 and the
deprecated IPv4-compatible ::/96 (RFC 4291 section 2.5.5), NAT64 64:ff9b::/96 and
64:ff9b:1::/48 (RFC 6052 section 2.2, RFC 8215), 6to4 2002::/16 (RFC 3056) and Teredo 2001::/32
(server and client, RFC 4380 section 4). IPv4-mapped and the well-known NAT64 prefix stand for
their IPv4 address alone; the other transition forms are refused outright after the check of
the embedded address (::/96 is deprecated, 64:ff9b:1::/48 is local-use and not globally
reachable, 2001::/32 lies in the non-global 2001::/23, 6to4 relays are deprecated by RFC 7526):
no webhook receiver needs them. Redirects are not followed. A development/test setting admits
loopback (127.0.0.0/8, ::1, and ::ffff:127.0.0.0/104, which is the same socket), and only
loopback.
"""

import asyncio
import errno
import ipaddress
import re
import socket
from collections.abc import Callable
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# (family, type, proto, canonname, sockaddr), as getaddrinfo returns and aiohappyeyeballs passes
AddrInfo = tuple[int, int, int, str, tuple[Any, ...]]

_net4 = ipaddress.IPv4Network
_net6 = ipaddress.IPv6Network

# IPv4 blocks that are not globally reachable unicast (IANA IPv4 special-purpose registry, plus
# multicast and the deprecated 6to4 relay anycast block).
BLOCKED_V4 = [
    _net4(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
]
# IPv6: only global unicast space (2000::/3) can pass, less these blocks within it.
GLOBAL_UNICAST_V6 = _net6("2000::/3")
BLOCKED_V6 = [
    _net6(n)
    for n in (
        "2001::/23",  # IETF protocol assignments (Teredo, benchmarking, ORCHID, ...)
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4
        "3fff::/20",  # documentation (RFC 9637)
    )
]
LOOPBACK_V4 = _net4("127.0.0.0/8")
LOOPBACK_V6 = ipaddress.IPv6Address("::1")
COMPATIBLE = _net6("::/96")
NAT64 = _net6("64:ff9b::/96")
NAT64_LOCAL = _net6("64:ff9b:1::/48")
SIX_TO_FOUR = _net6("2002::/16")
TEREDO = _net6("2001::/32")

_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
_ENDS_IN_NUMBER = re.compile(r"(?:^|\.)(?:[0-9]+|0x[0-9a-f]*)$")
_INET_ATON_PART = re.compile(r"0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*")


class BlockedDestination(Exception):
    pass


class BlockedConnection(OSError):
    """Raised by the guarded socket factory. An OSError, so aiohttp reports it as a connection
    failure (ClientConnectorError.os_error) without opening the socket. The text is fixed so
    that several refused addresses of one name still surface as this one error."""

    TEXT = "the connection would reach a non-public address"

    def __init__(self) -> None:
        super().__init__(errno.EACCES, self.TEXT)


def _v4_reason(ip: ipaddress.IPv4Address, allow_loopback: bool) -> str | None:
    if allow_loopback and ip in LOOPBACK_V4:
        return None
    if any(ip in n for n in BLOCKED_V4) or not ip.is_global:
        return f"{ip} is not a public address"
    return None


def _embedded_v4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses a transition form carries (RFC 4291, 6052, 3056, 4380)."""
    value = int(ip)
    if ip in COMPATIBLE and value > 1:  # :: and ::1 embed nothing
        return [ipaddress.IPv4Address(value & 0xFFFFFFFF)]
    if ip in NAT64_LOCAL:  # /48: bits 48-63 and 72-87, the u-octet (64-71) between them
        packed = ip.packed
        return [ipaddress.IPv4Address(packed[6:8] + packed[9:11])]
    if ip in SIX_TO_FOUR and ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip in TEREDO and ip.teredo is not None:
        return list(ip.teredo)  # (server, client)
    return []


def _v6_reason(ip: ipaddress.IPv6Address, allow_loopback: bool) -> str | None:
    if ip.scope_id:
        return f"{ip} carries a zone id"
    mapped = ip.ipv4_mapped
    if mapped is not None:  # the same socket as the IPv4 address
        return _v4_reason(mapped, allow_loopback)
    if allow_loopback and ip == LOOPBACK_V6:
        return None
    if ip in NAT64:  # the translator connects to the embedded address, never to our loopback
        embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        reason = _v4_reason(embedded, False)
        return f"{ip} embeds {embedded}, which is not a public address" if reason else None
    for embedded in _embedded_v4(ip):
        if _v4_reason(embedded, False):
            return f"{ip} embeds {embedded}, which is not a public address"
    if ip not in GLOBAL_UNICAST_V6 or any(ip in n for n in BLOCKED_V6) or not ip.is_global:
        return f"{ip} is not a public address"
    return None


def check_address(address: str | Address, allow_loopback: bool) -> Address:
    """The one rule: refuse an address that is not globally reachable unicast (loopback alone
    may pass, with the development setting). Returns the address judged."""
    if isinstance(address, str):
        try:
            ip: Address = ipaddress.ip_address(address)  # a zone id parses, and is refused
        except ValueError:
            raise BlockedDestination(f"{address!r} is not an IP address") from None
    else:
        ip = address
    if isinstance(ip, ipaddress.IPv4Address):
        reason = _v4_reason(ip, allow_loopback)
    else:
        reason = _v6_reason(ip, allow_loopback)
    if reason:
        raise BlockedDestination(reason)
    return ip


def read_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """`host` read as inet_aton (and so getaddrinfo) reads it, or None if it does not parse:
    one to four parts, each decimal, octal (leading 0) or hex (0x); the last part fills the
    bytes the others leave (https://man7.org/linux/man-pages/man3/inet_aton.3.html)."""
    parts = host.lower().split(".")
    if not 1 <= len(parts) <= 4 or not all(_INET_ATON_PART.fullmatch(p) for p in parts):
        return None
    values = [
        int(p, 16) if p.startswith("0x") else int(p, 8) if p.startswith("0") else int(p)
        for p in parts
    ]
    *head, last = values
    if any(v > 0xFF for v in head) or last >= 1 << (8 * (5 - len(parts))):
        return None
    value = last
    for i, byte in enumerate(head):
        value |= byte << (24 - 8 * i)
    return ipaddress.IPv4Address(value)


def check_host(host: str, allow_loopback: bool) -> Address | None:
    """Judge a host as the client holds it (yarl's `raw_host`): the address it denotes, or
    None for a DNS name (which `SafeResolver` judges once it resolves)."""
    if not host or not host.isascii():
        raise BlockedDestination("the host is not plain ASCII after IDNA mapping")
    if ":" in host:
        if "%" in host:
            raise BlockedDestination("IPv6 zone ids are refused")
        try:
            ip6 = ipaddress.IPv6Address(host.strip("[]"))
        except ValueError:
            raise BlockedDestination("the host is not a valid IPv6 address") from None
        return check_address(ip6, allow_loopback)
    name = host.lower().rstrip(".")
    if not _NAME.fullmatch(name) or len(name) > 253 or any(len(x) > 63 for x in name.split(".")):
        raise BlockedDestination("the host is not a valid host name")
    if _ENDS_IN_NUMBER.search(name):
        ip4 = read_ipv4(name)
        if ip4 is None:
            raise BlockedDestination("the host ends in a number but is not an IPv4 address")
        check_address(ip4, allow_loopback)
        if host != str(ip4):
            raise BlockedDestination(f"the host is a non-canonical spelling of {ip4}")
        return ip4
    return None


def check_url(url: str | URL, allow_loopback: bool) -> URL:
    """Refuse what no webhook may target before any connection: odd schemes, credentials in
    the URL, and hosts outside the policy. Returns the parsed URL, which is what the client
    must be given (so the string checked is the string connected to)."""
    try:
        parsed = url if isinstance(url, URL) else URL(url)
        host = parsed.raw_host
        _ = parsed.port  # yarl validates the port lazily
    except (ValueError, TypeError):
        raise BlockedDestination("the URL does not parse") from None
    if parsed.scheme not in ("http", "https") or not parsed.absolute or not host:
        raise BlockedDestination("only absolute http(s) URLs can receive webhooks")
    if parsed.user is not None or parsed.password is not None:
        raise BlockedDestination("URLs with credentials are refused")
    check_host(host, allow_loopback)
    return parsed


def guarded_socket_factory(allow_loopback: bool) -> Callable[[AddrInfo], socket.socket]:
    """A socket factory for aiohttp's TCPConnector that refuses to open a socket to an
    address outside the policy (the last check, on the address actually connected to)."""

    def factory(addr_info: AddrInfo) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        try:
            check_address(str(sockaddr[0]), allow_loopback)
        except BlockedDestination:
            raise BlockedConnection() from None
        return socket.socket(family=family, type=type_, proto=proto)

    return factory


class SafeResolver(AbstractResolver):
    """Name resolution for the webhook client: the name must pass `check_host`, and every
    address it resolves to must pass `check_address` (a name with one private address among
    public ones is refused outright)."""

    def __init__(self, allow_loopback: bool) -> None:
        self.allow_loopback = allow_loopback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        check_host(host, self.allow_loopback)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, family=family, type=socket.SOCK_STREAM
            )
        except (socket.gaierror, UnicodeError) as exc:
            raise BlockedDestination(f"{host} does not resolve") from exc
        if not infos:
            raise BlockedDestination(f"{host} does not resolve")
        for info in infos:
            check_address(str(info[4][0]), self.allow_loopback)
        return [
            ResolveResult(
                hostname=host,
                host=str(info[4][0]),
                port=port,
                family=info[0],
                proto=info[2],
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for info in infos
        ]

    async def close(self) -> None:
        pass
