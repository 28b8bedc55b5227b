"""What several steps need: the job in a given state, the ledger, and its source bytes."""

from __future__ import annotations

import contextvars
import logging
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from core import tracing
from core.errors import SourceNotFound, StorageUnavailable
from core.model import Job, JobStatus
from core.ports import Services
from core.spec import staged_source_key

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


def processing_job(svc: Services, job_id: uuid.UUID, step: str) -> Job | None:
    """The job if it is being processed; None if it is gone or has ended. ``step`` is told as started."""
    job = svc.jobs.get(job_id, announce=step)
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


def read_source(svc: Services, job: Job, length: int | None = None) -> bytes:
    try:
        return svc.store.get(source_key(job), length)
    except FileNotFoundError:
        raise SourceNotFound(f"the source {source_key(job)!r} is no longer in storage") from None


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


def in_parallel(call: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """call(item) for every item at once, each in a thread: a step's object writes cost one round trip, not one each.

    The first exception raised is raised here, after every call has ended.
    """
    items = list(items)
    if len(items) <= 1:
        return [call(item) for item in items]
    with ThreadPoolExecutor(len(items), thread_name_prefix="pixelflow-io") as pool:
        # Each thread runs in a copy of this context: its log lines name the job too (core/logs.py).
        futures = [pool.submit(contextvars.copy_context().run, call, item) for item in items]
    return [future.result() for future in futures]
