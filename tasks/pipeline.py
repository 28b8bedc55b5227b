"""The Celery tasks: one thin task per step, and the chain that runs them.

``StepTask`` is the one place that decides what a step's outcome means:
- the step returns False: the job has ended, the rest of the chain is dropped;
- PermanentError: the job fails now with the error's code, never retried;
- TransientError: retried with exponential backoff and jitter, the delay
  held by RabbitMQ; after the last retry the job fails with that code;
- anything else is a bug: the job fails with ``internal_error``.
A job that fails this way is still notified.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from celery import Task, chain
from celery.exceptions import Ignore, SoftTimeLimitExceeded
from celery.signals import celeryd_init, worker_init, worker_process_shutdown, worker_shutdown

from config import get_settings
from core import failpoints, redact
from core.errors import PermanentError, PixelFlowError, StepTimedOut, StorageUnavailable, TransientError
from core.objectstore import S3ObjectStore
from tasks import metrics, steps
from tasks.celery_app import app
from tasks.services import Services, services
from tasks.services import close as close_services
from tasks.topology import declare_dead_letters

log = logging.getLogger(__name__)

Step = Callable[[Services, uuid.UUID], bool]


class StepTask(Task):  # type: ignore[misc]
    autoretry_for = (TransientError,)
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True
    ignore_result = True
    max_retries = 5  # PIXELFLOW_TASK_MAX_RETRIES, applied by task_annotations

    def run_step(self, step: Step, job_id: str) -> None:
        svc = services()
        step_name = self.name.rsplit(".", 1)[-1]
        failpoints.first_delivery = not (self.request.delivery_info or {}).get("redelivered", False)
        failpoints.fire(svc.settings.failpoints, step_name)
        jid = uuid.UUID(job_id)
        started, outcome = time.perf_counter(), "error"
        try:
            proceed = step(svc, jid)
            outcome = "ok" if proceed else "ended"
        except PermanentError as exc:
            outcome = "permanent_error"
            log.info("job %s failed in %s: %s", job_id, self.name, exc.code)
            self.give_up(svc, jid, exc)
            raise Ignore() from None
        except TransientError:
            outcome = "transient_error"
            raise
        finally:
            metrics.step_ran(step_name, outcome, time.perf_counter() - started)
        if not proceed:
            raise Ignore()
        failpoints.fire(svc.settings.failpoints, f"{step_name}.after")

    def give_up(self, svc: Services, job_id: uuid.UUID, exc: PixelFlowError) -> None:
        if svc.jobs.fail(job_id, exc.code, exc.message):
            metrics.job_finished("failed", exc.code)
            notify_task.apply_async((str(job_id),))

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        # Retries exhausted, or a bug: the job must still end.
        job_id = uuid.UUID(args[0])
        if isinstance(exc, TransientError):
            exc.message = f"gave up after {self.request.retries} retries: {exc.message}"
            error: PixelFlowError = exc
        elif isinstance(exc, SoftTimeLimitExceeded):
            limit = self.soft_time_limit or self.app.conf.task_soft_time_limit
            error = StepTimedOut(f"{self.name} ran past its time limit of {limit} s")
        else:
            log.exception("step %s crashed on job %s", self.name, job_id, exc_info=exc)
            error = PixelFlowError(f"{self.name} failed unexpectedly ({type(exc).__name__})")
        self.give_up(services(), job_id, error)


class NotifyTask(StepTask):
    def give_up(self, svc: Services, job_id: uuid.UUID, exc: PixelFlowError) -> None:
        # The job has already ended; only the delivery failed.
        svc.jobs.record_notification(job_id, None, f"{exc.code}: {exc.message}")


@app.task(base=StepTask, bind=True, name="pixelflow.fetch")
def fetch_task(self: StepTask, job_id: str) -> None:
    self.run_step(steps.fetch, job_id)


@app.task(base=StepTask, bind=True, name="pixelflow.validate")
def validate_task(self: StepTask, job_id: str) -> None:
    self.run_step(steps.validate, job_id)


@app.task(base=StepTask, bind=True, name="pixelflow.transform")
def transform_task(self: StepTask, job_id: str) -> None:
    self.run_step(steps.transform, job_id)


@app.task(base=StepTask, bind=True, name="pixelflow.upload")
def upload_task(self: StepTask, job_id: str) -> None:
    self.run_step(steps.upload, job_id)


@app.task(base=NotifyTask, bind=True, name="pixelflow.notify")
def notify_task(self: NotifyTask, job_id: str) -> None:
    self.run_step(steps.notify, job_id)


def job_chain(job_id: uuid.UUID) -> Any:
    """fetch → validate → transform → upload → notify, each taking only the job id."""
    jid = str(job_id)
    return chain(*(task.si(jid) for task in (fetch_task, validate_task, transform_task, upload_task, notify_task)))


@celeryd_init.connect
def _observe(**_: Any) -> None:
    # In the main process, before the pool forks: children inherit both.
    settings = get_settings()
    redact.install(settings)
    metrics.start(settings.worker_metrics_host, settings.worker_metrics_port)


@worker_shutdown.connect
def _stop_metrics(**_: Any) -> None:
    metrics.stop()


@worker_init.connect
def _declare_dead_letters(sender: Any = None, **_: Any) -> None:
    # Before any message can be dead-lettered: an exchange with no queue would drop it.
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=30, interval_start=1, interval_step=1, interval_max=5)
        declare_dead_letters(conn, get_settings())


@worker_init.connect
def _ensure_bucket(**_: Any) -> None:
    try:
        S3ObjectStore(get_settings()).ensure_bucket()
    except StorageUnavailable as exc:
        log.warning("could not create the bucket at start-up (%s); steps will retry", exc.message)


@worker_process_shutdown.connect
def _close_services(**_: Any) -> None:
    close_services()
