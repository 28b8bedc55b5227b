"""upload: publish the staged outputs at their final keys and mark the job done.

Results appear at their final keys only now, when every output rendered,
so a client never sees half a job.
"""

from __future__ import annotations

import logging
import uuid

from core import failpoints
from core.errors import StorageUnavailable
from core.spec import result_key, staged_source_key
from tasks import metrics
from tasks.services import Services
from tasks.steps.common import already_done

log = logging.getLogger(__name__)


def upload(svc: Services, job_id: uuid.UUID) -> bool:
    job = svc.jobs.get(job_id)
    if job is None:
        return False
    if already_done(job, "upload"):
        return True  # the job succeeded: go on to notify
    if job.status != "processing":
        return False
    keys = {}
    for output in job.outputs:
        if output.staged_key is None:
            raise StorageUnavailable(f"output {output.spec.name!r} of job {job_id} was never staged")
        keys[output.spec.name] = result_key(job.tenant, job_id, output.spec.name, output.format or output.spec.format)
        svc.store.copy(output.staged_key, keys[output.spec.name])
    failpoints.fire(svc.settings.failpoints, "upload.before-commit")
    if svc.jobs.succeed(job_id, keys):
        metrics.job_finished("succeeded")
        staged = [o.staged_key for o in job.outputs if o.staged_key]
        if job.source_url:
            staged.append(staged_source_key(job_id))
        try:
            svc.store.delete(staged)
        except StorageUnavailable as exc:
            log.warning("staging of job %s not removed: %s", job_id, exc.message)
    return True
