"""Real services for the integration tests.

- PostgreSQL: the machine's server, a database of this run's own, migrated
  by Alembic and dropped at the end.
- RabbitMQ: the machine's broker, a quorum queue of this run's own, deleted
  at the end.
- S3: a nanio server process over HTTP on a port of this run's own.
- Workers: ``celery -A tasks worker`` subprocesses.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from config import Settings, get_settings
from core.migrations import upgrade

ROOT = Path(__file__).resolve().parents[2]


def wait_until(predicate: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def settings() -> Settings:
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture(scope="session")
def database(settings: Settings) -> Iterator[str]:
    name = conninfo_to_dict(settings.database_url)["dbname"]
    admin = make_conninfo(settings.database_url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    upgrade(settings.database_url)
    yield settings.database_url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


class S3Server:
    """A nanio process: a real S3 API over HTTP that checks SigV4 signatures."""

    def __init__(self, settings: Settings, data_dir: Path) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        host, port = self.settings.s3_endpoint.rsplit(":", 1)
        env = {
            **os.environ,
            "NANIO_ACCESS_KEY": self.settings.s3_access_key,
            "NANIO_SECRET_KEY": self.settings.s3_secret_key,
        }
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "nanio"),
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--host",
                host,
                "--port",
                port,
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env=env,
        )
        import socket

        def listening() -> bool:
            try:
                socket.create_connection((host, int(port)), timeout=0.5).close()
                return True
            except OSError:
                return False

        wait_until(listening, 20, "the S3 server to listen")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture(scope="session")
def s3_server(settings: Settings) -> Iterator[S3Server]:
    data_dir = Path(tempfile.mkdtemp(prefix="pixelflow-s3-"))
    server = S3Server(settings, data_dir)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def broker_queue(settings: Settings) -> Iterator[str]:
    yield settings.queue
    from tasks import app as celery

    with celery.connection_for_write() as conn:
        channel = conn.default_channel
        channel.queue_delete(settings.queue)
        channel.exchange_delete(settings.queue)


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


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Worker:
    """A real ``celery -A tasks worker`` process with this run's settings."""

    def __init__(self, name: str, log_path: Path, concurrency: int = 2) -> None:
        self.name = name
        self.log_path = log_path
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tasks",
                "worker",
                "--loglevel=INFO",
                f"--concurrency={self.concurrency}",
                "-n",
                f"{self.name}@%h",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_until(
            lambda: b" ready." in self.log_path.read_bytes() or self.process.poll() is not None,
            60,
            f"worker {self.name} to be ready",
        )
        assert self.process.poll() is None, self.log_path.read_text()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def worker(services_up: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    w = Worker("pixelflow-test", tmp_path_factory.mktemp("worker") / "worker.log")
    w.start()
    yield w
    w.stop()


class Recorder(BaseHTTPRequestHandler):
    """A local HTTP peer: serves files and records what is POSTed to it."""

    server: RecordingServer

    def do_GET(self) -> None:
        self.server.requests.append(("GET", self.path, dict(self.headers), b""))
        route = self.server.routes.get(self.path)
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
        status = self.server.post_status.get(self.path, 200)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class RecordingServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Recorder)
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.post_status: dict[str, int] = {}
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []

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
