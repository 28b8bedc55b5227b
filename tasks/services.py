"""The services a worker process's steps work with (core/ports.py): PostgreSQL and S3.

Built once per worker process, on first use, so that the database pool is
never shared across a fork. A worker on the thread pool shares one among its
threads, so the pools are sized to the worker's concurrency (``size_for``, at
worker start); they open connections only as steps ask, so a process-pool
child, running one step at a time, opens one of each.
"""

from __future__ import annotations

import os
import threading

from config import get_settings
from core.jobstore import JobStore
from core.objectstore import S3ObjectStore
from core.ports import Services
from core.webhooksecrets import WebhookSecrets

__all__ = ["Services", "close", "services", "size_for"]

_connections = 10
# The process that built them, the services and the job store behind them (closed with the process).
_current: tuple[int, Services, JobStore] | None = None
_lock = threading.Lock()


def size_for(concurrency: int) -> None:
    """Connections per pool (database and storage): one per step the worker runs at once, and at least 10
    (transform writes a job's outputs at once)."""
    global _connections
    _connections = max(10, concurrency)


def services() -> Services:
    global _current
    current = _current
    if current is not None and current[0] == os.getpid():
        return current[1]
    with _lock:
        if _current is None or _current[0] != os.getpid():
            settings = get_settings()
            jobs = JobStore.for_settings(settings, 0, _connections, f"pixelflow-worker-{os.getpid()}")
            jobs.open()
            store = S3ObjectStore(settings, _connections)
            _current = (os.getpid(), Services(settings, jobs, store, WebhookSecrets(jobs)), jobs)
        return _current[1]


def close() -> None:
    global _current
    if _current is not None and _current[0] == os.getpid():
        _current[2].close()
    _current = None
