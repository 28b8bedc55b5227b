"""What several steps need: the job in a given state, the ledger, and its source bytes."""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import TypeVar

from core import tracing
from core.errors import SourceNotFound, StorageUnavailable
from core.model import Job, JobStatus
from core.ports import Services
from core.spec import staged_source_key

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


def processing_job(svc: Services, job_id: uuid.UUID, step: str, begin: bool = False) -> Job | None:
    """The job if it is being processed; None if it is gone or has ended. ``step`` is told as started. With
    ``begin``, a queued job is moved to processing first, in the same statement."""
    job = svc.jobs.begin(job_id, step) if begin else svc.jobs.get(job_id, announce=step)
    if job is not None:
        tracing.annotate(tenant=job.tenant, outputs=len(job.outputs))
    return job if job is not None and job.status == JobStatus.PROCESSING else None


def already_done(job: Job, step: str) -> bool:
    """The step's effect is in the ledger (a redelivery, a re-driven chain): it is not run again."""
    if step in job.steps_done:
        log.info("job %s: %s already done, not run again", job.id, step)
        return True
    return False


def source_key(job: Job) -> str:
    return job.source_key or staged_source_key(job.id)


# The sources read in this task's message, by key, when its next steps run here too (StepTask.run_step): fetch's
# read of the upload (or its download) serves validate and transform, one object request instead of three, and
# the steps all judge the same bytes.
_held: contextvars.ContextVar[dict[str, bytes] | None] = contextvars.ContextVar("pixelflow_held", default=None)


@contextmanager
def holding_sources(enabled: bool) -> Iterator[None]:
    """While this runs, a source read by one step is kept for the steps after it (when ``enabled``)."""
    token = _held.set({} if enabled else None)
    try:
        yield
    finally:
        _held.reset(token)


def holds_sources() -> bool:
    return _held.get() is not None


def hold(key: str, data: bytes) -> None:
    held = _held.get()
    if held is not None:
        held[key] = data


def held_source(job: Job) -> bytes | None:
    """The job's whole source, when a step before read it in this message."""
    held = _held.get()
    return None if held is None else held.get(source_key(job))


def read_source(svc: Services, job: Job, length: int | None = None) -> bytes:
    data = held_source(job)
    if data is not None:
        return data if length is None else data[:length]
    try:
        data = svc.store.get(source_key(job), length)
    except FileNotFoundError:
        raise SourceNotFound(f"the source {source_key(job)!r} is no longer in storage") from None
    if length is None:
        hold(source_key(job), data)
    return data


def remove_outputs(svc: Services, job: Job, keys: list[str]) -> None:
    """Delete outputs written for a job that was canceled or failed: no one will be given their keys.

    Only then: outputs are written at their final keys, which a re-driven run of the same job (back in
    queued or processing) writes and hands out again.
    """
    if job.status not in (JobStatus.CANCELED, JobStatus.FAILED) or not keys:
        return
    try:
        svc.store.delete(keys)
    except StorageUnavailable as exc:
        log.warning("outputs of ended job %s not removed: %s", job.id, exc.message)


# One pool of I/O threads a process, kept: starting and joining threads for every step cost more CPU than the
# calls they made. Large enough for every thread of a worker-io process to have its writes out at once; its
# threads start only as they are needed. A forked child makes its own (no thread survives a fork).
IO_THREADS = 64
_pool: tuple[int, ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()


def io_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(IO_THREADS, thread_name_prefix="pixelflow-io"))
        return _pool[1]


def in_parallel(call: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """call(item) for every item at once, each in a thread: a step's object writes cost one round trip, not one each.

    The first exception raised is raised here, after every call has ended.
    """
    items = list(items)
    if len(items) <= 1:
        return [call(item) for item in items]
    pool = io_pool()
    # Each thread runs in a copy of this context: its log lines name the job too (core/logs.py).
    futures = [pool.submit(contextvars.copy_context().run, call, item) for item in items]
    wait(futures)
    return [future.result() for future in futures]
