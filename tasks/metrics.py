"""Worker metrics, served by the worker's main process on PIXELFLOW_WORKER_METRICS_PORT.

A prefork worker's pool children count in files under PROMETHEUS_MULTIPROC_DIR
and the main process serves their sum. The multiprocess mode must be chosen
before any metric exists, so the metrics are made when the worker starts
(celeryd_init, before the pool forks), in a fresh directory unless the
operator names one. In other processes that import the tasks (the API, the
relay) they are never made and recording does nothing.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, start_http_server, values

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerMetrics:
    steps: Counter
    step_seconds: Histogram
    jobs_finished: Counter
    directory: str
    own_directory: bool


_metrics: WorkerMetrics | None = None


def start(host: str, port: int) -> None:
    """Make the metrics and serve them (port 0: neither). In the worker's main process."""
    global _metrics
    if not port:
        return
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    own = not directory
    if not directory:
        directory = tempfile.mkdtemp(prefix="pixelflow-worker-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    else:
        for stale in Path(directory).glob("*.db"):  # an earlier worker's counts
            stale.unlink()
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    _metrics = WorkerMetrics(
        # outcome: ok, ended (the job had ended), permanent_error, transient_error (retried), gave_up (the last
        # retry failed too), error
        steps=Counter("pixelflow_worker_steps_total", "Step runs by step and outcome", ["step", "outcome"]),
        step_seconds=Histogram(
            "pixelflow_worker_step_duration_seconds",
            "Time a step ran, by step",
            ["step"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        ),
        jobs_finished=Counter(
            "pixelflow_worker_jobs_finished_total",
            "Jobs a worker ended: succeeded, or failed with an error code",
            ["status", "code"],
        ),
        directory=directory,
        own_directory=own,
    )
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:  # the worker still works; only its numbers are missing
        log.error("worker metrics not served on %s:%s: %s", host, port, exc)
    else:
        log.info("worker metrics on http://%s:%s/metrics", host, port)


def stop() -> None:
    """At worker shutdown, in the main process: remove the directory it made."""
    if _metrics is not None and _metrics.own_directory:
        shutil.rmtree(_metrics.directory, ignore_errors=True)


def step_ran(step: str, outcome: str, seconds: float) -> None:
    if _metrics is not None:
        _metrics.steps.labels(step, outcome).inc()
        _metrics.step_seconds.labels(step).observe(seconds)


def job_finished(status: str, code: str = "") -> None:
    if _metrics is not None:
        _metrics.jobs_finished.labels(status, code).inc()
