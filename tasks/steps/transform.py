"""transform: decode once, render every output, stage the results."""

from __future__ import annotations

import time
import uuid

from core.errors import WatermarkNotFound
from core.jobstore import Output
from core.spec import CONTENT_TYPES, OutputSpec, staged_key
from tasks.imaging.probe import SourceInfo
from tasks.imaging.render import render
from tasks.services import Services
from tasks.steps.common import already_done, processing_job, read_source

CACHE_CONTROL = "public, max-age=31536000, immutable"


def read_overlays(svc: Services, specs: list[OutputSpec]) -> dict[str, bytes]:
    """The bytes of every image watermark the outputs use, each read once."""
    keys = {s.watermark.image_key for s in specs if s.watermark and s.watermark.image_key}
    overlays = {}
    for key in keys:
        try:
            overlays[key] = svc.store.get(key)
        except FileNotFoundError:
            raise WatermarkNotFound(f"the watermark image {key!r} is not in storage") from None
    return overlays


def transform(svc: Services, job_id: uuid.UUID) -> bool:
    job = processing_job(svc, job_id)
    if job is None:
        return False
    if already_done(job, "transform"):
        return True
    data = read_source(svc, job)
    assert job.source_format and job.source_width and job.source_height, "validate runs first"
    info = SourceInfo(job.source_format, job.source_width, job.source_height, job.source_frames or 1)
    specs = [o.spec for o in job.outputs]
    started = time.process_time()
    rendering = render(data, info, specs, job.placeholder_requested, svc.settings.max_frames, read_overlays(svc, specs))
    staged = []
    for result in rendering.outputs:
        key = staged_key(job_id, result.spec.name, result.format)
        # Staged with its final headers: upload's copy carries them along.
        svc.store.put(key, result.data, CONTENT_TYPES[result.format], CACHE_CONTROL)
        staged.append(Output(result.spec, key, None, result.width, result.height, len(result.data), result.format))
    compute_ms = round((time.process_time() - started) * 1000)
    svc.jobs.stage_outputs(job_id, staged, rendering.placeholder, compute_ms)
    return True
