"""SSRF-safe outbound HTTP for merchant-supplied URLs.

Refuse private, loopback, link-local, CGNAT, unique-local, multicast, reserved and metadata
addresses (IPv4-mapped IPv6 included). Address literals are checked before the request; names
are resolved by `SafeResolver`, which hands the HTTP client only addresses that passed, so the
connection goes to a checked address while the Host header and TLS keep the name. Redirects are
not followed. A development/test setting admits loopback, and only loopback.
"""

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult

BLOCKED = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
        "64:ff9b::/96",
        "2001:db8::/32",
    )
]
LOOPBACK = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]


class BlockedDestination(Exception):
    pass


def check_address(
    address: str, allow_loopback: bool
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if allow_loopback and any(ip in n for n in LOOPBACK):
        return ip
    if any(ip in n for n in BLOCKED) or not ip.is_global:
        raise BlockedDestination(f"{ip} is not a public address")
    return ip


def check_url(url: str, allow_loopback: bool) -> None:
    """Refuse what no webhook may target before any connection: odd schemes, credentials in
    the URL, and address literals outside the policy (the client never resolves those)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BlockedDestination("only absolute http(s) URLs can receive webhooks")
    if parts.username or parts.password:
        raise BlockedDestination("URLs with credentials are refused")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return  # a name: SafeResolver checks what it resolves to
    check_address(str(literal), allow_loopback)


class SafeResolver(AbstractResolver):
    """Name resolution for the webhook client: every address a name resolves to must pass
    (a name with one private address among public ones is refused outright)."""

    def __init__(self, allow_loopback: bool) -> None:
        self.allow_loopback = allow_loopback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, family=family, type=socket.SOCK_STREAM
            )
        except (socket.gaierror, UnicodeError) as exc:
            raise BlockedDestination(f"{host} does not resolve") from exc
        if not infos:
            raise BlockedDestination(f"{host} does not resolve")
        for info in infos:
            check_address(info[4][0], self.allow_loopback)
        return [
            ResolveResult(
                hostname=host,
                host=info[4][0],
                port=port,
                family=info[0],
                proto=info[2],
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for info in infos
        ]

    async def close(self) -> None:
        pass
