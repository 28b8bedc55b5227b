"""Which URLs a worker may fetch or call: public addresses only, unless allowed.

Every address a host resolves to must be public (``ipaddress`` ``is_global``:
not loopback, private, link-local, cloud metadata, CGNAT, multicast, reserved
or unspecified), and IPv4 carried inside IPv6 (mapped, 6to4, NAT64, Teredo)
is refused whatever it carries. Decimal, octal and hex spellings of IPv4 are read the way
the C library reads them, so they are judged by the address they mean.

The host is resolved once, when the connection is made, and the connection
goes to the address that was checked (``guarded_client``): a name that
answers a public address to the check and a private one to the connect (DNS
rebinding) has no second answer to give. Every redirect hop connects, and
is checked, again.

An operator opens what they need with an allowlist of host names and CIDRs
(PIXELFLOW_FETCH_ALLOW); there is no switch that turns the guard off.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from core.errors import SourceForbidden, SourceUnavailable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list[tuple[Any, ...]]]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _unwrap(ip: Address) -> Address:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return ip.ipv4_mapped
        if ip.sixtofour:
            return ip.sixtofour
        if ip.teredo:
            return ip.teredo[1]
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


class Allow:
    """The operator's allowlist: host names (exact) and networks."""

    def __init__(self, entries: Sequence[str]) -> None:
        self.hosts = {e.lower().rstrip(".") for e in entries if not _is_network(e)}
        self.networks = [ipaddress.ip_network(e, strict=False) for e in entries if _is_network(e)]

    def host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def address(self, ip: Address) -> bool:
        return any(ip in net or _unwrap(ip) in net for net in self.networks)


def refused(ip: Address, allow: Allow) -> str | None:
    """Why this address may not be reached, or None if it may."""
    if allow.address(ip):
        return None
    inner = _unwrap(ip)
    if inner is not ip:
        return f"{ip} carries the IPv4 address {inner} inside IPv6"
    if not ip.is_global or ip.is_multicast:
        return f"{ip} is not a public address"
    return None


def literal(host: str) -> Address | None:
    """The address a host names without DNS (any IPv4 spelling), or None for a name."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError):
        return None
    return ipaddress.ip_address(str(infos[0][4][0]).split("%")[0])


def check_url(url: str, allow: Sequence[str]) -> None:
    """What can be judged without DNS: the scheme, a host, and a host written as an address.

    Raises SourceForbidden. Names are judged when they are resolved for the
    connection (``guarded_client``).
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise SourceForbidden(f"{url!r} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise SourceForbidden(f"only http and https URLs can be fetched, not {parts.scheme or 'no scheme'!r}")
    if not host:
        raise SourceForbidden("the URL has no host")
    rules = Allow(allow)
    ip = literal(host)
    if ip is not None and not rules.host(host) and (why := refused(ip, rules)):
        raise SourceForbidden(f"{host!r}: {why} (add it to PIXELFLOW_FETCH_ALLOW to allow it)")


def resolve(host: str, port: int, allow: Allow, resolver: Resolver = socket.getaddrinfo) -> list[Address]:
    """The host's addresses, once; SourceForbidden if any of them may not be reached."""
    try:
        infos = resolver(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise SourceUnavailable(f"cannot resolve {host!r}: {exc}") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
    if not allow.host(host):
        for ip in addresses:
            if why := refused(ip, allow):
                raise SourceForbidden(f"{host!r} resolves to {ip}: {why} (add it to PIXELFLOW_FETCH_ALLOW to allow it)")
    return addresses


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's socket backend, connecting only to addresses the guard has just checked."""

    def __init__(
        self, allow: Allow, resolver: Resolver = socket.getaddrinfo, inner: httpcore.NetworkBackend | None = None
    ) -> None:
        self.allow = allow
        self.resolver = resolver
        self.inner = inner or httpcore.SyncBackend()
        self.connected: list[tuple[str, Address, int]] = []  # (host, address, port), for tests and logs

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        error: Exception | None = None
        for ip in resolve(host, port, self.allow, self.resolver):
            try:
                stream = self.inner.connect_tcp(str(ip), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
                continue
            self.connected.append((host, ip, port))
            return stream
        raise error or httpcore.ConnectError(f"{host!r} has no address")

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise SourceForbidden("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with the guarded backend; no proxies from the environment."""

    def __init__(
        self,
        allow: Sequence[str],
        resolver: Resolver = socket.getaddrinfo,
        inner: httpcore.NetworkBackend | None = None,
    ) -> None:
        super().__init__(verify=tls_context(), trust_env=False)
        self.backend = GuardedBackend(Allow(allow), resolver, inner)
        # httpx (pinned) builds its pool without a backend option; this is the same pool with one.
        self._pool = httpcore.ConnectionPool(ssl_context=tls_context(), network_backend=self.backend)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building one (loading the CA bundle) costs ~30 ms of CPU."""
    return httpx.create_ssl_context()


def guarded_client(
    allow: Sequence[str],
    timeout: float,
    resolver: Resolver = socket.getaddrinfo,
    inner: httpcore.NetworkBackend | None = None,
) -> httpx.Client:
    """An httpx client whose connections go only where the guard allows (redirects are the caller's).

    resolver and inner (the backend that really connects) are there for tests.
    """
    return httpx.Client(
        transport=GuardedTransport(allow, resolver, inner), timeout=timeout, follow_redirects=False, trust_env=False
    )


def _is_network(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True
