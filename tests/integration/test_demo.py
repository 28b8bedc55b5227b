"""`make demo` end to end: gunicorn, a celery worker and the S3 server, started and stopped by the script."""

import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.conftest import RUN_ID
from tests.integration.conftest import ROOT, wait_until
from tests.support.stack import free_port


@pytest.fixture()
def demo_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    database = f"pixelflow_demo_{RUN_ID}"
    queue = f"pixelflow-demo-{RUN_ID}"
    env = {
        **os.environ,
        "PIXELFLOW_RUN_DIR": str(tmp_path / "run"),
        "PIXELFLOW_API_BIND": f"127.0.0.1:{free_port()}",
        "PIXELFLOW_S3_ENDPOINT": f"127.0.0.1:{free_port()}",
        "PIXELFLOW_S3_CORS_PORT": str(free_port()),
        "PIXELFLOW_S3_BUCKET": "pixelflow-demo",
        "PIXELFLOW_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
        "PIXELFLOW_QUEUE": queue,
    }
    yield env
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
    from kombu import Connection

    from config import Settings
    from tasks.topology import delete_all

    with Connection("amqp://guest:guest@127.0.0.1:5672//") as conn:
        delete_all(conn, Settings(queue=queue))


def test_the_demo_pushes_a_sample_through_the_api_and_stops_what_it_started(demo_env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(ROOT / "scripts/demo")], env=demo_env, capture_output=True, text=True, timeout=240, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = re.findall(r"^\s+(\w+)\s+(\w+)\s+(\d+)x(\d+)\s+(\d+) bytes\s+key=(\S+)$", result.stdout, re.MULTILINE)
    assert [(name, fmt, int(w), int(h)) for name, fmt, w, h, _, _ in lines] == [
        ("thumb", "webp", 200, 133),
        ("large", "jpeg", 800, 533),
        ("square", "png", 300, 300),
    ]
    assert all(key.startswith("results/") for *_, key in lines)
    assert result.stdout.count("url=http://") == 3
    run_dir = Path(demo_env["PIXELFLOW_RUN_DIR"])
    for name in ("api", "worker", "s3"):
        assert f"stopped {name}" in result.stderr
        assert not (run_dir / f"{name}.pid").exists()


def test_make_run_names_its_worker_and_prints_the_ports_it_was_given(demo_env: dict[str, str], tmp_path: Path) -> None:
    worker_port, exporter_port, relay_port = free_port(), free_port(), free_port()
    env = {
        **demo_env,
        "PIXELFLOW_WORKER_METRICS_PORT": str(worker_port),
        "PIXELFLOW_EXPORTER_PORT": str(exporter_port),
        "PIXELFLOW_RELAY_METRICS_PORT": str(relay_port),
        "PIXELFLOW_WORKER_CONCURRENCY": "1",
    }
    err, log = tmp_path / "run.err", tmp_path / "second.log"
    with err.open("w") as err_file, log.open("w") as log_file:
        run = subprocess.Popen(
            [str(ROOT / "scripts/run")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err_file,
            start_new_session=True,
            # As from a terminal: Ctrl-C reaches it. A run started in the background (nohup, &) inherits SIGINT
            # ignored, and a shell cannot trap a signal it was started ignoring.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        second = None
        try:
            wait_until(lambda: "an API key for curl" in err.read_text() or run.poll() is not None, 120, "run")
            banner = err.read_text()
            assert f"worker http://127.0.0.1:{worker_port}/metrics" in banner, banner
            assert f"exporter http://127.0.0.1:{exporter_port}/metrics" in banner, banner
            assert f"relay http://127.0.0.1:{relay_port}/metrics" in banner, banner
            assert "9808" not in banner and "9809" not in banner and "9810" not in banner
            with urllib.request.urlopen(f"http://127.0.0.1:{relay_port}/metrics", timeout=10) as served:
                assert b"pixelflow_relay_published_total" in served.read()
            # A second worker with Celery's default node name beside it: it must not die on a shared pidbox queue.
            second = subprocess.Popen(
                [str(ROOT / ".venv/bin/celery"), "-A", "tasks", "worker", "-l", "INFO", "--concurrency=1"],
                env={**env, "PIXELFLOW_WORKER_METRICS_PORT": "0"},
                cwd=ROOT,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            wait_until(lambda: " ready." in log.read_text() or second.poll() is not None, 60, "the second worker")
            time.sleep(2)
            assert second.poll() is None and "RESOURCE_LOCKED" not in log.read_text(), log.read_text()
        finally:
            if second is not None:
                second.terminate()
                second.wait(30)
            os.killpg(run.pid, signal.SIGINT)
            run.wait(60)
