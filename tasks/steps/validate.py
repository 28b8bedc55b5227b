"""validate: sniff the real format from the bytes and apply the limits.

JPEG, PNG and JPEG XL headers sit at the start of the file, and so does a
HEIC's (its meta box, before the coded data): only the first HEADER_BYTES
are read. GIF and WebP frame counts need the whole file, and so does a header
that does not fit in the prefix.
"""

from __future__ import annotations

import uuid

from core import tracing
from core.errors import CorruptImage
from core.ports import Services
from tasks.imaging.probe import limit_frames, probe, sniff
from tasks.steps.common import already_done, held_source, processing_job, read_source

HEADER_BYTES = 256 * 1024


def validate(svc: Services, job_id: uuid.UUID) -> bool:
    job = processing_job(svc, job_id, "validate")
    if job is None:
        return False
    if already_done(job, "validate"):
        return True
    limit = svc.settings.max_source_pixels
    # Read whole when it is small, or already read by fetch in this message (then no request at all).
    whole = held_source(job) is not None or (job.source_bytes is not None and job.source_bytes <= HEADER_BYTES)
    data = read_source(svc, job, None if whole else HEADER_BYTES)
    if not whole and sniff(data) in ("jpeg", "png", "heic", "jxl"):
        try:
            info = probe(data, limit)
        except CorruptImage:
            info = probe(read_source(svc, job), limit)
    else:
        info = probe(data if whole else read_source(svc, job), limit)
    limit_frames(info, svc.settings.max_frames, svc.settings.max_animation_pixels)
    tracing.annotate(source_pixels=info.width * info.height * info.frames, source_bytes=job.source_bytes)
    svc.jobs.set_source_info(job_id, info.format, info.width, info.height, info.frames)
    return True
