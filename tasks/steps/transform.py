"""transform: decode once, render every output, stage the results."""

from __future__ import annotations

import dataclasses
import uuid

from core.jobstore import Output
from core.spec import staged_key
from tasks.imaging.probe import SourceInfo
from tasks.imaging.render import render
from tasks.services import Services
from tasks.steps.common import processing_job, read_source

CACHE_CONTROL = "public, max-age=31536000, immutable"


def transform(svc: Services, job_id: uuid.UUID) -> bool:
    job = processing_job(svc, job_id)
    if job is None:
        return False
    data = read_source(svc, job)
    assert job.source_format and job.source_width and job.source_height, "validate runs first"
    info = SourceInfo(job.source_format, job.source_width, job.source_height, 1)
    staged = []
    for result in render(data, info, [o.spec for o in job.outputs]):
        key = staged_key(job_id, result.spec)
        # Staged with its final headers: upload's copy carries them along.
        svc.store.put(key, result.data, result.spec.content_type, CACHE_CONTROL)
        staged.append(
            dataclasses.replace(
                Output(result.spec), staged_key=key, width=result.width, height=result.height, bytes=len(result.data)
            )
        )
    svc.jobs.stage_outputs(job_id, staged)
    return True
