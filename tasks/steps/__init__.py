"""The pipeline, in order. Each step is one module, with no Celery in it.

A step takes the services and a job id and returns True when the chain
goes on, False when the job has already ended and the rest must not run.
It raises PermanentError for bad input and TransientError for a peer that
is down; the Celery layer turns those into a failed job or a retry.
``finish`` is a batch's, once all its items have ended.
"""

from tasks.steps.common import holding_sources
from tasks.steps.fetch import fetch
from tasks.steps.finish import finish
from tasks.steps.notify import notify
from tasks.steps.transform import transform
from tasks.steps.upload import upload
from tasks.steps.validate import validate

PIPELINE = (fetch, validate, transform, upload, notify)

__all__ = ["PIPELINE", "fetch", "finish", "holding_sources", "notify", "transform", "upload", "validate"]
