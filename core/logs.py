"""One start-up for every process (API, relay, exporter, worker): settings, logging, redaction.

Every log line names the job and the Celery task it is about, and the trace
(``job=… task=… trace=…``, ``-`` outside one): the worker binds them around each step (``about``, from
Celery's task_prerun and task_postrun signals), so a line from a step, the
job store or the object store can be traced to its job with grep.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from config import Settings, get_settings
from core import redact, tracing

FORMAT = "%(asctime)s %(levelname)s %(name)s job=%(job_id)s task=%(task_id)s trace=%(trace_id)s %(message)s"
# Celery's worker prints its own process name first, as it always has.
WORKER_FORMAT = (
    "[%(asctime)s: %(levelname)s/%(processName)s] job=%(job_id)s task=%(task_id)s trace=%(trace_id)s %(message)s"
)

_job: ContextVar[str] = ContextVar("pixelflow_job_id", default="-")
_task: ContextVar[str] = ContextVar("pixelflow_task_id", default="-")
_installed = False


def bind_context() -> None:
    """Every record gets job_id and task_id, whichever logger makes it (once per process)."""
    global _installed
    if _installed:
        return
    base = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        record.job_id = _job.get()
        record.task_id = _task.get()
        record.trace_id = tracing.trace_id()
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def start(settings: Settings | None = None, *, handlers: bool = True) -> Settings:
    """Settings read, log lines formatted and redacted, Sentry started if configured: what a process does first.

    ``handlers=False`` leaves the handlers to their owner (Celery's worker sets its own, with WORKER_FORMAT).
    """
    settings = settings or get_settings()
    bind_context()
    if handlers:
        logging.basicConfig(level=settings.log_level, format=FORMAT)
    # httpx logs every request's whole URL at INFO: a client's webhook or source URL may carry a token there.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    redact.install(settings)
    return settings


@contextmanager
def about(job_id: str | None, task_id: str | None) -> Iterator[None]:
    """Log lines in this block name this job and task."""
    tokens = bind(job_id, task_id)
    try:
        yield
    finally:
        unbind(tokens)


def bind(job_id: str | None, task_id: str | None) -> tuple[Any, Any]:
    bind_context()
    return _job.set(job_id or "-"), _task.set(task_id or "-")


def unbind(tokens: tuple[Any, Any]) -> None:
    _job.reset(tokens[0])
    _task.reset(tokens[1])
