"""SSRF-safe outbound HTTP for merchant-supplied URLs.

Resolve the host, refuse private, loopback, link-local, CGNAT, unique-local, multicast,
reserved and metadata addresses (IPv4-mapped IPv6 included), then connect to the address
that was checked (the Host header and TLS SNI keep the name), and follow no redirects.
A development/test setting admits loopback, and only loopback.
"""

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit

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


async def resolve_safely(url: str, allow_loopback: bool) -> tuple[str, dict[str, str], dict]:
    """The URL rewritten to the checked address, the Host header, and httpx extensions."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BlockedDestination("only absolute http(s) URLs can receive webhooks")
    if parts.username or parts.password:
        raise BlockedDestination("URLs with credentials are refused")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = {str(ipaddress.ip_address(parts.hostname))}  # an address: nothing to resolve
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                parts.hostname, port, type=socket.SOCK_STREAM
            )
        except socket.gaierror as exc:
            raise BlockedDestination(f"{parts.hostname} does not resolve") from exc
        addresses = {info[4][0] for info in infos}
    checked = [check_address(a, allow_loopback) for a in sorted(addresses)]  # every one must pass
    ip = checked[0]
    host_literal = f"[{ip}]" if ip.version == 6 else str(ip)
    pinned = urlunsplit(
        (parts.scheme, f"{host_literal}:{port}", parts.path or "/", parts.query, "")
    )
    host_header = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    return pinned, {"host": host_header}, extensions
