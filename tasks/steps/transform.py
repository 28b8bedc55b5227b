"""transform: decode once, render every output, write each at its final key.

The writes go out together (one round trip, not one per output), each with
the headers it is served with. upload makes them the job's results.
"""

from __future__ import annotations

import time
import uuid

from core import failpoints, tracing
from core.errors import WatermarkNotFound
from core.model import Output
from core.ports import Services
from core.spec import CONTENT_TYPES, OutputSpec, result_key
from tasks.imaging.probe import SourceInfo
from tasks.imaging.render import Rendered, render
from tasks.steps.common import already_done, in_parallel, processing_job, read_source, remove_outputs

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
    job = processing_job(svc, job_id, "transform")
    if job is None:
        return False
    if already_done(job, "transform"):
        return True
    data = read_source(svc, job)
    assert job.source_format and job.source_width and job.source_height, "validate runs first"
    info = SourceInfo(job.source_format, job.source_width, job.source_height, job.source_frames or 1)
    specs = [o.spec for o in job.outputs]
    started = time.process_time()
    rendering = render(data, info, specs, job.placeholder_kind, svc.settings.max_frames, read_overlays(svc, specs))
    compute_ms = round((time.process_time() - started) * 1000)
    keys = [result_key(job.tenant, job_id, r.spec.name, r.format) for r in rendering.outputs]

    def put(written: tuple[str, Rendered]) -> None:
        key, result = written
        svc.store.put(key, result.data, CONTENT_TYPES[result.format], CACHE_CONTROL)

    in_parallel(put, zip(keys, rendering.outputs, strict=True))
    tracing.annotate(bytes_out=sum(len(r.data) for r in rendering.outputs), compute_ms=compute_ms)
    failpoints.fire(svc.settings.failpoints, "transform.before-commit")
    outputs = [
        Output(r.spec, key, None, r.width, r.height, len(r.data), r.format, r.quality, r.score)
        for key, r in zip(keys, rendering.outputs, strict=True)
    ]
    if not svc.jobs.stage_outputs(job_id, outputs, rendering.placeholder, compute_ms):
        # The job moved on while it rendered: canceled (its outputs will never be handed out), or re-driven.
        ended = svc.jobs.get(job_id)
        if ended is not None:
            remove_outputs(svc, ended, keys)
        return False
    return True
