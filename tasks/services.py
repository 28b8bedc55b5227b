"""What a step works with: settings, the job store and the object store.

Built once per worker process, on first use, so that the database pool is
never shared across a fork. A worker on the thread pool shares one among its
threads, so the pools are sized to the worker's concurrency (``size_for``, at
worker start); they open connections only as steps ask, so a process-pool
child, running one step at a time, opens one of each.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from config import Settings, get_settings
from core.jobstore import JobStore
from core.objectstore import ObjectStore, S3ObjectStore


@dataclass
class Services:
    settings: Settings
    jobs: JobStore
    store: ObjectStore


_connections = 10
_current: tuple[int, Services] | None = None
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
            _current = (os.getpid(), Services(settings, jobs, S3ObjectStore(settings, _connections)))
        return _current[1]


def close() -> None:
    global _current
    if _current is not None and _current[0] == os.getpid():
        _current[1].jobs.close()
    _current = None
