"""What a step works with: settings, the job store and the object store.

Built once per worker process, on first use, so that the database pool is
never shared across a fork.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from config import Settings, get_settings
from core.jobstore import JobStore
from core.objectstore import ObjectStore, S3ObjectStore


@dataclass
class Services:
    settings: Settings
    jobs: JobStore
    store: ObjectStore


_current: tuple[int, Services] | None = None


def services() -> Services:
    global _current
    if _current is None or _current[0] != os.getpid():
        settings = get_settings()
        jobs = JobStore.for_settings(settings, 0, 2, f"pixelflow-worker-{os.getpid()}")
        jobs.open()
        _current = (os.getpid(), Services(settings, jobs, S3ObjectStore(settings)))
    return _current[1]


def close() -> None:
    global _current
    if _current is not None and _current[0] == os.getpid():
        _current[1].jobs.close()
    _current = None
