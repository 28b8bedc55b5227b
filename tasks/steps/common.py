"""What several steps need: the job in a given state, and its source bytes."""

from __future__ import annotations

import uuid

from core.errors import SourceNotFound
from core.jobstore import Job
from core.spec import staged_source_key
from tasks.services import Services


def processing_job(svc: Services, job_id: uuid.UUID) -> Job | None:
    """The job if it is being processed; None if it is gone or has ended."""
    job = svc.jobs.get(job_id)
    return job if job is not None and job.status == "processing" else None


def source_key(job: Job) -> str:
    return job.source_key or staged_source_key(job.id)


def read_source(svc: Services, job: Job, length: int | None = None) -> bytes:
    try:
        return svc.store.get(source_key(job), length)
    except FileNotFoundError:
        raise SourceNotFound(f"the source {source_key(job)!r} is no longer in storage") from None
