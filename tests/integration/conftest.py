"""Real services for the integration tests.

- PostgreSQL: the machine's server, a database of this run's own, migrated
  by Alembic and dropped at the end.
- RabbitMQ: the machine's broker, a quorum queue of this run's own, deleted
  at the end.
- S3: a nanio server process over HTTP on a port of this run's own.
- Workers: ``celery -A tasks worker`` subprocesses, fed by a ``python -m
  tasks.relay`` subprocess.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from config import Settings, get_settings
from tests.conftest import RUN_ID
from tests.support.database import fresh_database
from tests.support.stack import ROOT, BrokerNode, Relay, S3Server, Worker, wait_until

__all__ = ["ROOT", "Relay", "S3Server", "Worker", "wait_until"]


@pytest.fixture(scope="session")
def settings() -> Settings:
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture(scope="session")
def database(settings: Settings) -> Iterator[str]:
    with fresh_database(settings.database_url) as url:
        yield url


@pytest.fixture(scope="session")
def s3_server(settings: Settings) -> Iterator[S3Server]:
    data_dir = Path(tempfile.mkdtemp(prefix="pixelflow-s3-"))
    server = S3Server(
        settings.s3_endpoint, settings.s3_access_key, settings.s3_secret_key, data_dir, data_dir.with_suffix(".log")
    )
    server.start()
    yield server
    server.stop()
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.with_suffix(".log").unlink(missing_ok=True)


@pytest.fixture(scope="session")
def broker_queue(settings: Settings) -> Iterator[str]:
    yield settings.queue
    from tasks import app as celery
    from tasks.topology import delete_all

    with celery.connection_for_write() as conn:
        delete_all(conn, settings)


@pytest.fixture(scope="session")
def services_up(database: str, s3_server: S3Server, broker_queue: str) -> None:
    """Database, storage and broker of this run's own, ready."""


@pytest.fixture(scope="session")
def app(services_up: None, settings: Settings) -> Iterator[Flask]:
    from app import create_app

    flask_app = create_app(settings)
    flask_app.config["TESTING"] = True
    yield flask_app
    flask_app.extensions["pixelflow"].jobs.close()


def authed(app: Flask, key: str) -> FlaskClient:
    """A test client that sends this API key with every request."""
    test_client = app.test_client()
    test_client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return test_client


@pytest.fixture()
def tenant() -> str:
    """A tenant of the test's own: no other test's jobs, uploads, rate limits or webhook secrets are its."""
    return f"t-{secrets.token_hex(5)}"


@pytest.fixture()
def api_key(app: Flask, tenant: str) -> str:
    from core.keystore import KeyStore

    return KeyStore(app.extensions["pixelflow"].jobs).create(tenant, "tests")[1]


@pytest.fixture()
def client(app: Flask, api_key: str) -> FlaskClient:
    return authed(app, api_key)


@pytest.fixture()
def fresh_node(tmp_path: Path) -> Iterator[BrokerNode]:
    """A RabbitMQ node of the test's own, for faults of the broker itself.

    One per test: after a kill -9, quorum queues deleted earlier on the same
    node left RabbitMQ 3.10 recovering slowly enough to stall a scenario.
    """
    broker = BrokerNode(tmp_path / "rabbit")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def relay(services_up: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relay]:
    r = Relay(tmp_path_factory.mktemp("relay") / "relay.log")
    r.start()
    yield r
    r.stop()


@pytest.fixture()
def stack(relay: Relay, settings: Settings, tmp_path: Path) -> Iterator[Any]:
    """A queue, relay and workers of the test's own (faultkit.FaultStack); the session's relay waits meanwhile."""
    from tests.integration.faultkit import FaultStack  # faultkit imports this module

    relay.stop()
    own = FaultStack(settings, tmp_path)
    yield own
    own.close()
    relay.start()


@pytest.fixture(scope="session")
def worker(relay: Relay, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """A worker, and the relay that feeds it."""
    # The node name is the run's own: a second test run on this machine must not share its pidbox queue.
    w = Worker(f"pixelflow-test-{RUN_ID}", tmp_path_factory.mktemp("worker") / "worker.log")
    w.start()
    yield w
    w.stop()


class Recorder(BaseHTTPRequestHandler):
    """A local HTTP peer: serves files and records what is POSTed to it."""

    server: RecordingServer

    def do_GET(self) -> None:
        self.server.requests.append(("GET", self.path, dict(self.headers), b""))
        route = self.server.routes.get(self.path)
        if isinstance(route, list):  # answered in turn, the last answer from then on
            route = route.pop(0) if len(route) > 1 else route[0]
        if route is None:
            self.send_response(404)
            self.end_headers()
            return
        status, headers, body = route
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append(("POST", self.path, dict(self.headers), body))
        planned = self.server.post_status.get(self.path, 200)
        # A list is answered in turn, its last status from then on.
        status = (planned.pop(0) if len(planned) > 1 else planned[0]) if isinstance(planned, list) else planned
        if 200 <= status < 300:
            self.server.delivered.append(body)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class RecordingServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Recorder)
        Answer = tuple[int, dict[str, str], bytes]
        self.routes: dict[str, Answer | list[Answer]] = {}
        self.post_status: dict[str, int | list[int]] = {}
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.delivered: list[bytes] = []  # the bodies of the POSTs answered 2xx

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture()
def http_peer() -> Iterator[RecordingServer]:
    server = RecordingServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.integration.faultkit import RECOVERY, RESULTS

    if RESULTS:
        terminalreporter.write_line("")
        terminalreporter.write_line("| scenario | jobs | lost | duplicated | result |")
        terminalreporter.write_line("|---|---|---|---|---|")
        for scenario, (jobs, lost, duplicated, result) in RESULTS.items():
            terminalreporter.write_line(f"| {scenario} | {jobs} | {lost} | {duplicated} | {result} |")
    if RECOVERY:
        terminalreporter.write_line("")
        terminalreporter.write_line("| recovery | jobs | measured | seconds | bound |")
        terminalreporter.write_line("|---|---|---|---|---|")
        for scenario, (jobs, measured, seconds, bound) in RECOVERY.items():
            limit = f"{bound:g} s" if bound is not None else "—"
            terminalreporter.write_line(f"| {scenario} | {jobs} | {measured} | {seconds:.1f} | {limit} |")
