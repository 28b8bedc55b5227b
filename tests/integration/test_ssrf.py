"""The fetch guard against real HTTP servers: a site on loopback and a redirecting one.

The redirector is reached by a name the operator allowed; everything it
sends the fetcher to must be refused. Where a refused address is one this
machine really serves (loopback in its many spellings), the same fetch
with the address allowed succeeds: the refusal is the guard's, not the
network's. Connections anywhere but loopback fail the test instead of
leaving the machine.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpcore
import pytest
from flask.testing import FlaskClient

from core.errors import SourceForbidden, TooManyRedirects
from core.urlguard import guarded_client
from tasks.steps.fetch import MAX_REDIRECTS, download
from tests.integration.conftest import RecordingServer, Worker
from tests.support.api import run_job
from tests.unit.core.test_urlguard import REFUSED_LITERALS


class Handler(BaseHTTPRequestHandler):
    server: Site

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        parts = urlsplit(self.path)
        if parts.path == "/go":
            self.send_response(302)
            self.send_header("Location", parse_qs(parts.query)["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self.server.body
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class Site(ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int], body: bytes) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, Handler)
        self.body = body
        self.paths: list[str] = []


def serve(address: tuple[str, int], body: bytes) -> Site:
    site = Site(address, body)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    return site


@pytest.fixture(scope="module")
def port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def running(port: int) -> Iterator[dict[str, Site]]:
    """One port, served on 127.0.0.1, 127.0.0.2 and ::1, each with its own body."""
    servers = {
        "127.0.0.1": serve(("127.0.0.1", port), b"internal"),
        "127.0.0.2": serve(("127.0.0.2", port), b"public"),
        "::1": serve(("::1", port), b"internal6"),
    }
    yield servers
    for site in servers.values():
        site.shutdown()
        site.server_close()


@pytest.fixture()
def sites(running: dict[str, Site]) -> dict[str, Site]:
    for site in running.values():
        site.paths.clear()
    return running


class LoopbackOnly(httpcore.SyncBackend):
    """Connects like httpcore does, but never beyond loopback: a guard that let it through fails the test."""

    def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        ip = ipaddress.ip_address(host)
        ip = getattr(ip, "ipv4_mapped", None) or ip
        assert ip.is_loopback, f"the guard let a connection through to {host}"
        return super().connect_tcp(host, port, *args, **kwargs)


def entries(addresses: list[str], port: int) -> list[tuple[Any, ...]]:
    return [(socket.AF_INET6 if ":" in a else socket.AF_INET, 1, 6, "", (a, port)) for a in addresses]


def names(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    """A resolver: the test's names from the table, every other host as the C library reads it."""

    def resolver(host: str, port: int, **kwargs: Any) -> list[tuple[Any, ...]]:
        return entries(table[host], port) if host in table else socket.getaddrinfo(host, port, **kwargs)

    return resolver


TABLE = {"redirector.test": ["127.0.0.1"], "internal.test": ["10.0.0.5"], "mixed.test": ["127.0.0.2", "10.0.0.5"]}


def fetch(url: str, allow: list[str]) -> bytes:
    client = guarded_client(allow, 2, names(TABLE), LoopbackOnly())
    return download(url, 1 << 20, 2, allow, client)


@pytest.mark.parametrize("host", REFUSED_LITERALS.values(), ids=REFUSED_LITERALS.keys())
def test_every_refused_class_is_refused_directly_and_after_a_redirect(
    host: str, port: int, sites: dict[str, Site]
) -> None:
    target = f"http://{host}:{port}/image"
    with pytest.raises(SourceForbidden):
        fetch(target, ["redirector.test"])
    with pytest.raises(SourceForbidden):
        fetch(f"http://redirector.test:{port}/go?to={target}", ["redirector.test"])
    assert sites["127.0.0.1"].paths == ["/go?to=" + target]  # the redirect was served, its target never asked
    assert sites["::1"].paths == []


# Spellings of 127.0.0.1 (and ::1) that httpx can also put into a request (it rejects octal).
@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "0x7f000001", "0x7f.1", "[::1]", "[::ffff:127.0.0.1]"])
def test_the_same_loopback_spellings_are_served_once_allowed(host: str, port: int, sites: dict[str, Site]) -> None:
    assert fetch(f"http://redirector.test:{port}/go?to=http://{host}:{port}/image", ["127.0.0.0/8", "::1"]) in (
        b"internal",
        b"internal6",
    )


@pytest.mark.parametrize("name", ["localhost", "internal.test", "mixed.test"])
def test_names_that_resolve_to_refused_addresses_are_refused_after_a_redirect(
    name: str, port: int, sites: dict[str, Site]
) -> None:
    with pytest.raises(SourceForbidden, match="resolves to"):
        fetch(f"http://redirector.test:{port}/go?to=http://{name}:{port}/image", ["redirector.test"])
    assert all(p.startswith("/go") for site in sites.values() for p in site.paths)


def test_the_connection_goes_to_the_address_that_was_checked(port: int, sites: dict[str, Site]) -> None:
    """DNS rebinding: the name answers an allowed address, then loopback. It is asked once."""
    calls: list[str] = []

    def rebinding(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        calls.append(host)
        return entries(["127.0.0.2" if len(calls) == 1 else "127.0.0.1"], port)

    allow = ["127.0.0.2/32"]
    client = guarded_client(allow, 2, rebinding, LoopbackOnly())
    connected = client._transport.backend.connected  # type: ignore[attr-defined]
    body = download(f"http://flip.test:{port}/image", 1 << 20, 2, allow, client)
    assert body == b"public" and calls == ["flip.test"]
    assert connected == [("flip.test", ipaddress.ip_address("127.0.0.2"), port)]
    assert sites["127.0.0.1"].paths == []


def test_redirects_are_followed_at_most_five_times(port: int, sites: dict[str, Site]) -> None:
    url = f"http://127.0.0.2:{port}/image"
    for _ in range(MAX_REDIRECTS):
        url = f"http://127.0.0.2:{port}/go?to={url}"
    assert fetch(url, ["127.0.0.2"]) == b"public"
    with pytest.raises(TooManyRedirects, match="more than 5 redirects"):
        fetch(f"http://127.0.0.2:{port}/go?to={url}", ["127.0.0.2"])


@pytest.mark.parametrize("location", ["http://0177.0.0.1/", "http://[::1/"])
def test_a_redirect_to_a_url_httpx_cannot_parse_is_refused_as_forbidden(
    location: str, port: int, sites: dict[str, Site]
) -> None:
    # Judged by parsing the Location (and by the type of the error httpx raises for it), not by the words of
    # httpx's message: octal 0177.0.0.1 is loopback, an unclosed bracket no URL.
    with pytest.raises(SourceForbidden, match=r"not a public address|not a URL"):
        fetch(f"http://127.0.0.2:{port}/go?to={location}", ["127.0.0.2"])


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data", "http://10.0.0.1/a.jpg"])
def test_a_job_redirected_to_a_refused_address_fails_with_source_forbidden(
    client: FlaskClient, worker: Worker, http_peer: RecordingServer, target: str
) -> None:
    http_peer.routes["/moved.jpg"] = (302, {"Location": target}, b"")
    job = run_job(
        client, {"source": {"url": f"{http_peer.url}/moved.jpg"}, "outputs": [{"name": "a", "format": "png"}]}
    )
    assert job["status"] == "failed" and job["error"]["code"] == "source_forbidden", job["error"]
    assert target.split("/")[2] in job["error"]["message"]


@pytest.mark.parametrize(
    ("field", "url"),
    [
        ("source", "http://169.254.169.254/latest/meta-data"),
        ("source", "http://[fd00:ec2::254]/latest"),
        ("webhook_url", "http://10.0.0.1/hook"),
        ("webhook_url", "https://[fe80::1]:8443/hook"),
    ],
)
def test_the_api_refuses_an_address_written_into_a_url_at_once(client: FlaskClient, field: str, url: str) -> None:
    body: dict[str, Any] = {"source": {"url": "http://images.test/a.jpg"}, "outputs": [{"name": "a", "format": "png"}]}
    if field == "source":
        body["source"] = {"url": url}
    else:
        body["webhook_url"] = url
    response = client.post("/v1/jobs", json=body)
    assert response.status_code == 422 and response.json["code"] == "source_forbidden", response.json
    assert response.json["message"].startswith("source.url" if field == "source" else "webhook_url")
