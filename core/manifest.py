"""A batch's results manifest: one JSON line per item, in item order, written to storage when the batch ends.

    {"item": 0, "job_id": "…", "source": {"key": "uploads/…"}, "status": "succeeded",
     "outputs": [{"name": "thumb", "format": "webp", "key": "results/…", "width": 200, "height": 150,
                  "bytes": 5120}], "error": null}

A failed or canceled item has ``outputs`` with no keys and its ``error``. The
keys are storage keys, not URLs: the manifest outlives any presigned URL (a
job's document signs fresh ones).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from core.model import Batch, Job, JobStatus
from core.ports import Batches

CONTENT_TYPE = "application/jsonl"
PAGE = 1000


def line(item: int, job: Job) -> dict[str, Any]:
    done = job.status == JobStatus.SUCCEEDED
    source = {"key": job.source_key} if job.source_key else {"url": job.source_url}
    return {
        "item": item,
        "job_id": str(job.id),
        "source": source,
        "status": str(job.status),
        "outputs": [
            {
                "name": o.spec.name,
                "format": (o.format or o.spec.format) if done else o.spec.format,
                "key": o.key if done else None,
                "width": o.width if done else None,
                "height": o.height if done else None,
                "bytes": o.bytes if done else None,
            }
            for o in job.outputs
        ],
        "error": {"code": job.error_code, "message": job.error_message} if job.error_code else None,
    }


def lines(batches: Batches, batch: Batch) -> Iterator[bytes]:
    """The manifest, a line at a time, its jobs read a page at a time (ids ascend with the items)."""
    item, after = 0, None
    while page := batches.batch_jobs(batch.id, limit=PAGE, after=after):
        for job in page:
            yield json.dumps(line(item, job), separators=(",", ":")).encode() + b"\n"
            item += 1
        after = page[-1].id


def manifest(batches: Batches, batch: Batch) -> bytes:
    return b"".join(lines(batches, batch))
