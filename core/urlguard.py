"""Which URLs a worker may fetch or call: public addresses only, unless allowed.

The host is resolved and every address it resolves to must be public
(``ipaddress`` ``is_global``: not loopback, private, link-local, CGNAT,
multicast, reserved or unspecified; IPv4 inside IPv6 is unwrapped first).
An operator opens what they need with an allowlist of hosts and CIDRs.
Redirects are checked again by the caller, hop by hop.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from core.errors import SourceForbidden, SourceUnavailable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _unwrap(ip: Address) -> Address:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return ip.ipv4_mapped
        if ip.sixtofour:
            return ip.sixtofour
        if ip.teredo:
            return ip.teredo[1]
        if ip in ipaddress.ip_network("64:ff9b::/96"):
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def check_url(url: str, allow: Sequence[str]) -> None:
    """Raise SourceForbidden unless every address of the URL's host may be reached."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise SourceForbidden(f"only http and https URLs can be fetched, not {parts.scheme or 'no scheme'!r}")
    host = parts.hostname
    if not host:
        raise SourceForbidden("the URL has no host")
    if host in allow:
        return
    try:
        infos = socket.getaddrinfo(host, parts.port or 80, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise SourceUnavailable(f"cannot resolve {host!r}: {exc.strerror}") from None
    networks = [ipaddress.ip_network(a, strict=False) for a in allow if _is_network(a)]
    for info in infos:
        ip = _unwrap(ipaddress.ip_address(info[4][0]))
        if any(ip in net for net in networks):
            continue
        if not ip.is_global or ip.is_multicast:
            raise SourceForbidden(
                f"{host!r} resolves to {ip}, which is not a public address"
                " (add it to PIXELFLOW_FETCH_ALLOW to allow it)"
            )


def _is_network(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True
