"""The liveness probe the container's HEALTHCHECK and the chart's exec probes run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from core import liveness
from tests.support.stack import ROOT, free_port


@pytest.fixture()
def tmpdir_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))  # core.liveness asks it
    return tmp_path


def test_a_heartbeat_counts_until_it_is_older_than_the_roles_limit(tmpdir_env: Path) -> None:
    assert "no heartbeat yet" in (liveness.check("worker") or "")
    liveness.beat("worker")
    assert liveness.check("worker") is None
    old = time.time() - liveness.STALE_AFTER["worker"] - 5
    os.utime(liveness.heartbeat_file("worker"), (old, old))
    assert "last heartbeat" in (liveness.check("worker") or "")
    assert liveness.check("worker", stale_after=3600) is None
    liveness.clear("worker")
    assert not liveness.heartbeat_file("worker").exists()


def test_a_beat_on_a_read_only_directory_does_not_raise(tmpdir_env: Path) -> None:
    tmpdir_env.chmod(0o500)
    try:
        liveness.beat("relay")  # a probe fails later; the process itself must go on
    finally:
        tmpdir_env.chmod(0o700)


class Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def http_server() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), Ok)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_urls_and_ports_are_probed_with_a_short_timeout(http_server: str) -> None:
    assert liveness.check(f"{http_server}/healthz") is None
    assert "503" in (liveness.check(f"{http_server}/other") or "")
    closed = free_port()
    assert liveness.check(f"tcp://127.0.0.1:{closed}") is not None
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert liveness.check(f"tcp://127.0.0.1:{listener.getsockname()[1]}") is None
    assert "unknown target" in (liveness.check("ftp://x") or "")


def test_the_command_exits_1_with_the_reason_and_0_when_alive(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT)}

    def probe(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "core.liveness", *args], env=env, capture_output=True, text=True, check=False
        )

    dead = probe("relay")
    assert dead.returncode == 1 and "no heartbeat yet" in dead.stderr
    (tmp_path / "pixelflow-relay.alive").touch()
    assert probe("relay").returncode == 0
    assert probe().returncode == 2
