"""The public JSON form of a job: what GET /v1/jobs/{id} and the webhook carry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from core.model import Batch, Job, JobStatus
from core.ports import ObjectStore


def job_document(job: Job, store: ObjectStore, url_ttl: timedelta) -> dict[str, Any]:
    done = job.status == JobStatus.SUCCEEDED
    kept = job.purged_at is None  # a purged job's outputs are described, no longer served
    source: dict[str, Any] = {"key": job.source_key} if job.source_key else {}
    if job.source_url:
        source["url"] = job.source_url
    if job.source_format:
        source.update(
            format=job.source_format, width=job.source_width, height=job.source_height, bytes=job.source_bytes
        )
    return {
        "id": str(job.id),
        "status": job.status,
        "steps": list(job.steps_done),
        "source": source,
        "outputs": [
            {
                "name": o.spec.name,
                "format": (o.format or o.spec.format) if done else o.spec.format,
                "width": o.width if done else None,
                "height": o.height if done else None,
                "bytes": o.bytes if done else None,
                **({"quality": o.quality, "score": o.score} if done and o.quality is not None else {}),
                "key": o.key if done else None,
                "url": store.presign_get(o.key, url_ttl) if done and kept and o.key else None,
            }
            for o in job.outputs
        ],
        "error": {"code": job.error_code, "message": job.error_message} if job.error_code else None,
        "placeholder": {"type": job.placeholder_kind, "hash": job.placeholder} if done and job.placeholder else None,
        "webhook_url": job.webhook_url,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "purged_at": job.purged_at.isoformat() if job.purged_at else None,
        "batch_id": str(job.batch_id) if job.batch_id else None,
    }


def batch_document(batch: Batch, store: ObjectStore, url_ttl: timedelta) -> dict[str, Any]:
    """The public JSON form of a batch (its jobs are paged apart: GET /v1/batches/{id})."""
    manifest = batch.manifest_key if batch.purged_at is None else None
    return {
        "id": str(batch.id),
        "status": batch.status,
        "items": batch.items,
        "counts": {s.value: batch.counts.get(s, 0) for s in JobStatus},
        "webhook_url": batch.webhook_url,
        "manifest_url": store.presign_get(manifest, url_ttl) if manifest else None,
        "created_at": batch.created_at.isoformat(),
        "canceled_at": batch.canceled_at.isoformat() if batch.canceled_at else None,
        "finished_at": batch.finished_at.isoformat() if batch.finished_at else None,
        "notified_at": batch.notified_at.isoformat() if batch.notified_at else None,
        "purged_at": batch.purged_at.isoformat() if batch.purged_at else None,
    }
