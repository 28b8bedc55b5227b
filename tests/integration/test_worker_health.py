"""A worker's health as its orchestrator sees it: a CPU it cannot render on, a broker it lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from config import Settings
from core import liveness
from tests.support.stack import ROOT, BrokerNode, Worker, wait_until, worker_argv


def probe(tmpdir: Path, limit: float) -> int:
    """The chart's exec probe, run as Kubernetes would: a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "core.liveness", "worker", str(limit)],
        env={**os.environ, "TMPDIR": str(tmpdir), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        check=False,
    ).returncode


def test_a_worker_refuses_to_start_when_no_pillow_build_renders_on_its_cpu(services_up: None, tmp_path: Path) -> None:
    # A Pillow that dies with SIGILL on its first render, as an AVX2 build does on a CPU without AVX2.
    fake = tmp_path / "pillow"
    (fake / "PIL").mkdir(parents=True)
    (fake / "PIL" / "__init__.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGILL)\n")
    result = subprocess.run(
        worker_argv(sys.executable, f"nocpu-{tmp_path.name}@%h", 1),
        env={**os.environ, "PYTHONPATH": f"{fake}:{ROOT}", "PIXELFLOW_WORKER_METRICS_PORT": "0"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 78, result.stdout + result.stderr
    assert "not starting: no Pillow build in this installation runs on this CPU" in result.stderr
    assert " ready." not in result.stdout + result.stderr


def test_the_workers_heartbeat_stops_while_its_consumer_has_no_broker_and_resumes_after(
    services_up: None, fresh_node: BrokerNode, settings: Settings, tmp_path: Path
) -> None:
    node = fresh_node
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    limit = liveness.BEAT_EVERY + 3
    worker = Worker(
        f"heartbeat-{settings.queue}",
        tmp_path / "worker.log",
        concurrency=1,
        env={"PIXELFLOW_BROKER_URL": node.url, "PIXELFLOW_QUEUE": f"{settings.queue}-beat", "TMPDIR": str(tmpdir)},
    )
    worker.start()
    try:
        assert probe(tmpdir, limit) == 0
        node.ctl("stop_app")
        wait_until(lambda: probe(tmpdir, limit) == 1, 3 * limit, "the probe to fail without a broker", interval=1)
        assert worker.alive()  # the worker waits for the broker; the orchestrator decides
        node.ctl("start_app")
        wait_until(lambda: probe(tmpdir, limit) == 0, 90, "the heartbeat to resume", interval=1)
    finally:
        worker.stop()
    assert not (tmpdir / "pixelflow-worker.alive").exists()  # a stopped worker leaves no heartbeat behind


def test_a_worker_without_the_heic_plugin_says_so_as_it_starts_and_runs(
    services_up: None, settings: Settings, tmp_path: Path
) -> None:
    # What a platform without a pi-heif wheel meets: the import fails.
    missing = tmp_path / "no-wheel"
    missing.mkdir()
    (missing / "pi_heif.py").write_text("raise ImportError('no pi-heif wheel for this platform')\n")
    worker = Worker(
        f"noheic-{settings.queue}",
        tmp_path / "worker.log",
        concurrency=1,
        env={"PYTHONPATH": f"{missing}{os.pathsep}{ROOT}", "PIXELFLOW_QUEUE": f"{settings.queue}-noheic"},
    )
    worker.start()
    try:
        assert worker.alive(), worker.output()[-3000:]
        assert "pi-heif cannot be loaded here (no pi-heif wheel for this platform)" in worker.output()
    finally:
        worker.stop()
