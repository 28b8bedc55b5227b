"""Deleting a job's images: on request (DELETE /v1/jobs/{id}) and after the retention period (the sweeper).

What goes: every output the job wrote (at its final key, or staged), the
source a URL job fetched into staging, and the uploaded source unless another
job that keeps its images uses it too. The objects go first, in one request,
then the job is marked purged and the purge counted in usage, in one
statement: a failure between the two leaves a job that is purged again,
harmlessly (a missing key is no error), never one that says purged while its
images remain. The job's record stays, with ``purged_at``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from core.errors import JobNotEnded
from core.model import Batch, Job
from core.ports import JobRecords, Jobs, ObjectStore
from core.spec import staged_source_key, upload_prefix

log = logging.getLogger(__name__)
UPLOADS = "uploads/"  # every tenant's uploads (core.spec.upload_prefix)


def purge_job(job: Job, jobs: Jobs, store: ObjectStore, how: str = "request") -> Job:
    """Delete the job's images and mark it purged; an already purged job is returned as it is."""
    if job.purged_at is not None:
        return job
    if not job.terminal:
        raise JobNotEnded(f"job {job.id} is {job.status}: cancel it first")
    keys = {k for o in job.outputs for k in (o.key, o.staged_key) if k}
    if job.source_url:
        keys.add(staged_source_key(job.id))
    elif (
        job.source_key
        # Only the tenant's own uploads: a batch item that named another tenant's failed at once, and keeps it.
        and job.source_key.startswith(upload_prefix(job.tenant))
        and not jobs.sources_in_use([job.source_key], besides=job.id)
    ):
        keys.add(job.source_key)
    if keys:
        store.delete(sorted(keys))
    jobs.purge(job.id, len(keys), sum(o.bytes or 0 for o in job.outputs if o.key or o.staged_key), how)
    return jobs.get(job.id) or job


def purge_batch(batch: Batch, jobs: JobRecords, store: ObjectStore, page: int = 500, how: str = "request") -> Batch:
    """Purge every job of an ended batch, as ``purge_job`` does one, then mark the batch purged (its manifest
    goes with it). Repeating it, or finishing one that stopped halfway, purges only what is left."""
    if batch.purged_at is not None:
        return batch
    if batch.ended < batch.items:
        raise JobNotEnded(f"batch {batch.id} has {batch.items - batch.ended} items not ended: cancel it first")
    after = None
    while found := jobs.batch_jobs(batch.id, limit=page, after=after):
        for job in found:
            purge_job(job, jobs, store, how)
        after = found[-1].id
    if batch.manifest_key:
        store.delete([batch.manifest_key])
    jobs.record_batch_purge(batch.id)
    return jobs.get_batch(batch.id) or batch


def expire_jobs(jobs: Jobs, store: ObjectStore, retention: timedelta, batch: int) -> int:
    """Purge up to ``batch`` jobs that ended longer than ``retention`` ago, oldest first."""
    expired = jobs.expired(retention.total_seconds(), batch)
    for job in expired:
        purge_job(job, jobs, store, "retention")
    return len(expired)


def expire_batches(jobs: JobRecords, store: ObjectStore, retention: timedelta, batch: int) -> int:
    """Purge up to ``batch`` batches that finished longer than ``retention`` ago, oldest first: their manifests,
    and any item the job sweep had not reached yet (every item ended before its batch finished)."""
    expired = jobs.expired_batches(retention.total_seconds(), batch)
    for found in expired:
        purge_batch(found, jobs, store, how="retention")
    return len(expired)


def expire_uploads(jobs: Jobs, store: ObjectStore, before: datetime, start_after: str, batch: int) -> tuple[int, str]:
    """Delete uploads written before ``before`` that no job keeping its images uses, from one listing page.

    Returns (deleted, where the next call starts: "" once the listing has wrapped round).
    """
    page = store.list(UPLOADS, start_after, batch)
    old = [o.key for o in page if o.modified is not None and o.modified < before]
    unused = sorted(set(old) - jobs.sources_in_use(old))
    if unused:
        store.delete(unused)
        log.info("retention: %d uploads deleted", len(unused))
    return len(unused), (page[-1].key if len(page) == batch else "")
