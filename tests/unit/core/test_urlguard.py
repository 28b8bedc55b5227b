import ipaddress
import socket

import pytest

from core.errors import SourceForbidden, SourceUnavailable
from core.urlguard import Allow, check_url, literal, refused, resolve

# Every class the guard refuses, written as an address (some in unusual spellings).
REFUSED_LITERALS = {
    "loopback": "127.0.0.1",
    "loopback, elsewhere in 127/8": "127.8.9.10",
    "loopback, decimal": "2130706433",
    "loopback, hex": "0x7f000001",
    "loopback, octal": "0177.0.0.1",
    "loopback, short dotted hex": "0x7f.1",
    "private 10/8": "10.1.2.3",
    "private 172.16/12": "172.16.5.4",
    "private 192.168/16": "192.168.0.1",
    "private, decimal": "167772161",
    "link-local": "169.254.1.1",
    "cloud metadata": "169.254.169.254",
    "CGNAT 100.64/10": "100.64.0.1",
    "multicast": "224.0.0.1",
    "reserved 240/4": "240.0.0.1",
    "broadcast": "255.255.255.255",
    "unspecified": "0.0.0.0",
    "IPv6 loopback": "[::1]",
    "IPv6 unspecified": "[::]",
    "IPv6 unique local": "[fc00::1]",
    "IPv6 link-local": "[fe80::1]",
    "IPv6 cloud metadata": "[fd00:ec2::254]",
    "IPv6 multicast": "[ff02::1]",
    "IPv4-mapped loopback": "[::ffff:127.0.0.1]",
    "IPv4-mapped, public inside": "[::ffff:93.184.216.34]",
    "6to4 loopback": "[2002:7f00:1::]",
    "6to4, public inside": "[2002:5db8:d822::]",
    "NAT64 private": "[64:ff9b::a00:1]",
    "NAT64, public inside": "[64:ff9b::5db8:d822]",
    "Teredo": "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",
}


@pytest.mark.parametrize("host", REFUSED_LITERALS.values(), ids=REFUSED_LITERALS.keys())
def test_every_refused_class_is_refused_when_written_as_an_address(host: str) -> None:
    with pytest.raises(SourceForbidden, match="PIXELFLOW_FETCH_ALLOW"):
        check_url(f"http://{host}:8080/a.jpg", [])


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1/", "ftp://example.com/a", "http:///a"])
def test_only_http_and_https_with_a_host_are_fetched(url: str) -> None:
    with pytest.raises(SourceForbidden):
        check_url(url, [])


@pytest.mark.parametrize("url", ["http://93.184.216.34/a.jpg", "https://[2606:2800:220:1::]/a", "http://images.test/a"])
def test_public_addresses_and_names_pass_the_check_without_dns(url: str) -> None:
    check_url(url, [])  # names are judged when resolved for the connection


def test_spellings_are_read_as_the_address_they_mean() -> None:
    assert literal("0177.0.0.1") == literal("2130706433") == ipaddress.ip_address("127.0.0.1")
    assert literal("images.test") is None


def test_the_allowlist_opens_hosts_and_networks_and_nothing_else() -> None:
    check_url("http://127.0.0.1:8000/a.jpg", ["127.0.0.0/8"])
    check_url("http://[::ffff:127.0.0.1]:8000/a.jpg", ["127.0.0.0/8"])
    check_url("http://10.0.0.1/a.jpg", ["10.0.0.1"])
    with pytest.raises(SourceForbidden):
        check_url("http://10.0.0.2/a.jpg", ["127.0.0.0/8", "10.0.0.1"])
    allow = Allow(["Images.Internal.", "10.0.0.0/8"])
    assert allow.host("images.internal") and not allow.host("other.internal")
    assert refused(ipaddress.ip_address("10.9.9.9"), allow) is None
    assert refused(ipaddress.ip_address("192.168.1.1"), allow)


def answers(*addresses: str):  # type: ignore[no-untyped-def]
    def resolver(host: str, port: int, **_: object) -> list[tuple[object, ...]]:
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]

    return resolver


def test_a_name_is_refused_if_any_of_its_addresses_is() -> None:
    with pytest.raises(SourceForbidden, match=r"resolves to 10\.0\.0\.5"):
        resolve("mixed.test", 80, Allow([]), answers("93.184.216.34", "10.0.0.5"))
    assert resolve("public.test", 80, Allow([]), answers("93.184.216.34")) == [ipaddress.ip_address("93.184.216.34")]
    # An allowlisted name is trusted whatever it resolves to.
    assert resolve("cache.internal", 80, Allow(["cache.internal"]), answers("10.0.0.5"))


def test_a_name_that_does_not_resolve_is_unavailable_not_forbidden() -> None:
    def failing(*_: object, **__: object) -> list[tuple[object, ...]]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(SourceUnavailable):
        resolve("nowhere.test", 80, Allow([]), failing)
