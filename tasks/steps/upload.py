"""upload: mark the job done with its outputs' final keys (publish them to the client).

transform writes each output at its final key (one PUT, no staging copy);
the keys reach the client only now, in the statement that makes the job
succeed, so a client never sees half a job: the API shows no key and no URL
before. An output staged by an earlier version (under staging/) is copied to
its final key here first. A job canceled meanwhile has the outputs
transform wrote removed.
"""

from __future__ import annotations

import logging
import uuid

from core import failpoints
from core.errors import InvariantBroken, StorageUnavailable
from core.model import JobStatus
from core.ports import Services
from core.spec import result_key, staged_source_key
from tasks import metrics
from tasks.steps.common import already_done, in_parallel, remove_outputs

log = logging.getLogger(__name__)


def upload(svc: Services, job_id: uuid.UUID) -> bool:
    job = svc.jobs.get(job_id, announce="upload")
    if job is None:
        return False
    if already_done(job, "upload"):
        return True  # the job succeeded: go on to notify
    if job.status != JobStatus.PROCESSING:
        remove_outputs(svc, job, [o.staged_key for o in job.outputs if o.staged_key])
        return False
    keys = {}
    copies = []
    for output in job.outputs:
        if output.staged_key is None:
            # transform records every output before it hands on: a job here without one is a bug, not an outage.
            raise InvariantBroken(f"output {output.spec.name!r} of job {job_id} was never recorded as written")
        keys[output.spec.name] = result_key(job.tenant, job_id, output.spec.name, output.format or output.spec.format)
        if output.staged_key != keys[output.spec.name]:
            copies.append((output.staged_key, keys[output.spec.name]))
    in_parallel(lambda pair: svc.store.copy(*pair), copies)
    failpoints.fire(svc.settings.failpoints, "upload.before-commit")
    if svc.jobs.succeed(job_id, keys):
        metrics.job_finished(JobStatus.SUCCEEDED)
        staged = [source for source, _ in copies]
        if job.source_url:
            staged.append(staged_source_key(job_id))
        if staged:
            try:
                svc.store.delete(staged)
            except StorageUnavailable as exc:
                log.warning("staging of job %s not removed: %s", job_id, exc.message)
    return True
