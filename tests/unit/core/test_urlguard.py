import pytest

from core.errors import SourceForbidden
from core.urlguard import check_url


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.jpg",
        "http://localhost/a.jpg",
        "http://10.1.2.3/a.jpg",
        "http://192.168.0.1/a.jpg",
        "http://172.16.5.4/a.jpg",
        "http://169.254.169.254/latest/meta-data",
        "http://100.64.0.1/a.jpg",
        "http://0.0.0.0/a.jpg",
        "http://[::1]/a.jpg",
        "http://[::ffff:127.0.0.1]/a.jpg",
        "http://[2002:7f00:1::]/a.jpg",
        "http://[64:ff9b::a00:1]/a.jpg",
        "http://[fd00:ec2::254]/a.jpg",
        "http://2130706433/a.jpg",
        "http://0x7f.0.0.1/a.jpg",
        "http://224.0.0.1/a.jpg",
    ],
)
def test_non_public_addresses_are_refused(url: str) -> None:
    with pytest.raises(SourceForbidden):
        check_url(url, [])


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1/", "ftp://example.com/a"])
def test_only_http_and_https_are_fetched(url: str) -> None:
    with pytest.raises(SourceForbidden):
        check_url(url, [])


def test_a_public_address_passes() -> None:
    check_url("http://93.184.216.34/a.jpg", [])


def test_the_allowlist_opens_hosts_and_networks() -> None:
    check_url("http://127.0.0.1:8000/a.jpg", ["127.0.0.0/8"])
    check_url("http://localhost/a.jpg", ["localhost"])
    with pytest.raises(SourceForbidden):
        check_url("http://10.0.0.1/a.jpg", ["127.0.0.0/8"])
