"""transform: decode once, render every output, stage the results."""

from __future__ import annotations

import uuid

from core.jobstore import Output
from core.spec import CONTENT_TYPES, staged_key
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
    info = SourceInfo(job.source_format, job.source_width, job.source_height, job.source_frames or 1)
    rendering = render(data, info, [o.spec for o in job.outputs], job.placeholder_requested, svc.settings.max_frames)
    staged = []
    for result in rendering.outputs:
        key = staged_key(job_id, result.spec.name, result.format)
        # Staged with its final headers: upload's copy carries them along.
        svc.store.put(key, result.data, CONTENT_TYPES[result.format], CACHE_CONTROL)
        staged.append(Output(result.spec, key, None, result.width, result.height, len(result.data), result.format))
    svc.jobs.stage_outputs(job_id, staged, rendering.placeholder)
    return True
