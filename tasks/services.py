"""What a step works with: settings, the job store and the object store.

Built once per worker process, on first use, so that the database pool is
never shared across a fork. A worker on the thread pool shares one among its
threads: the pool opens connections as threads ask (up to DB_POOL_MAX), and
a process-pool child, running one step at a time, opens one.
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


DB_POOL_MAX = 32
_current: tuple[int, Services] | None = None
_lock = threading.Lock()


def services() -> Services:
    global _current
    current = _current
    if current is not None and current[0] == os.getpid():
        return current[1]
    with _lock:
        if _current is None or _current[0] != os.getpid():
            settings = get_settings()
            jobs = JobStore.for_settings(settings, 0, DB_POOL_MAX, f"pixelflow-worker-{os.getpid()}")
            jobs.open()
            _current = (os.getpid(), Services(settings, jobs, S3ObjectStore(settings)))
        return _current[1]


def close() -> None:
    global _current
    if _current is not None and _current[0] == os.getpid():
        _current[1].jobs.close()
    _current = None
