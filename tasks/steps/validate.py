"""validate: sniff the real format from the bytes and apply the limits."""

from __future__ import annotations

import uuid

from tasks.imaging.probe import probe
from tasks.services import Services
from tasks.steps.common import processing_job, read_source


def validate(svc: Services, job_id: uuid.UUID) -> bool:
    job = processing_job(svc, job_id)
    if job is None:
        return False
    info = probe(read_source(svc, job), svc.settings.max_source_pixels)
    svc.jobs.set_source_info(job_id, info.format, info.width, info.height)
    return True
