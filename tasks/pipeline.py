"""The Celery tasks: one thin task per step, and the chain that runs them.

``StepTask`` does what a step's outcome means (the table is tasks/outcomes.py),
and each outcome leaves a final state in the task events (Flower):
- the step returns False: the job has ended (canceled, or failed by another
  run), the rest of the chain is dropped and the job goes to notify, unless
  the client was told already (SUCCESS: the step did what there was to do);
- PermanentError: the job fails now with the error's code, never retried
  (FAILURE, acked);
- TransientError: retried with exponential backoff and "equal jitter" (half
  of each delay fixed, half random), the delay held by RabbitMQ; after the
  last retry the job fails with that code. A peer the client named (its URL
  source, its webhook) ends there (FAILURE, acked); the service's own peers
  (storage, PostgreSQL, RabbitMQ) dead-letter the step as well, for the
  operator to replay once they are back (FAILURE, then REJECTED);
- the soft time limit: the job fails with ``time_limit_exceeded`` (FAILURE);
- anything else is a bug: the job fails with ``internal_error`` and the step
  is dead-lettered (FAILURE, then REJECTED).
A job that fails this way is still notified. Each step sends the next one
itself; a send RabbitMQ does not take puts the step's message back in the
queue, and the effect ledger makes its second run a send only.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, NoReturn

from celery import Task, chain, signature
from celery.exceptions import Reject, SoftTimeLimitExceeded
from celery.signals import (
    celeryd_init,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)
from kombu.exceptions import OperationalError

from config import get_settings
from core import failpoints, logs, tracing
from core.errors import (
    DatabaseUnavailable,
    PixelFlowError,
    StepTimedOut,
    StorageUnavailable,
    TransientError,
    WebhookRejected,
)
from core.objectstore import S3ObjectStore
from tasks import metrics, steps
from tasks.celery_app import app
from tasks.imaging import jxl, probe
from tasks.outcomes import outcome_of
from tasks.services import Services, services
from tasks.services import close as close_services
from tasks.services import size_for as size_services
from tasks.shutdown import bound_cold_shutdown
from tasks.topology import declare

log = logging.getLogger(__name__)

# What a send to an unreachable RabbitMQ raises: kombu's own error once its publish retries are spent, or the
# socket's.
BROKER_ERRORS = (OperationalError, ConnectionError, TimeoutError)

Step = Callable[[Services, uuid.UUID], bool]


def keeps_source(following: list[str], runs_here: Callable[[str], bool]) -> bool:
    """Whether the source a step reads is kept for the steps after it in this message: only when transform, which
    reads it whole, is among them and every step up to it may run here. Else fetch HEADs and validate reads a
    header, as a task of their own do (a worker-io would otherwise read whole sources only to drop them)."""
    for name in following:
        if not runs_here(name):
            return False
        if name == "pixelflow.transform":
            return True
    return False


class StepTask(Task):  # type: ignore[misc]
    retry_backoff = 2
    retry_backoff_max = 300
    ignore_result = True
    max_retries = 8  # PIXELFLOW_TASK_MAX_RETRIES, applied by task_annotations
    # Expected ends of a job: Celery logs them in a line, without a traceback.
    throws = (PixelFlowError, Reject)

    def run_step(self, step: Step, job_id: str) -> None:
        """Run this task's step, then each next step of the chain that may run here (inline_next), then send
        the chain's next step on. A step run inline is judged as its own task would judge it (its retries and
        backoff, its give_up); its retry is sent as that step's own message."""
        svc = services()
        redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
        failpoints.delivery.first = not redelivered
        jid = uuid.UUID(job_id)
        began = time.monotonic()
        following = [sig["task"] for sig in reversed(self.request.chain or [])]
        with steps.holding_sources(keeps_source(following, lambda name: self.may_run_here(svc, name))):
            self.run_steps(svc, step, jid, redelivered, began)

    def run_steps(self, svc: Services, step: Step, jid: uuid.UUID, redelivered: bool, began: float) -> None:
        task, sig = self, None
        while True:
            if sig is None:
                proceed = self.run_one(svc, self, step, jid, self.request.retries, redelivered, None)
            else:
                # Celery logs a task's receipt and its end; a step run inline says so in the same words.
                log.info("Step %s[%s] started inline", task.name, self.request.id)
                with tracing.span(f"run/{task.name}"):
                    proceed = self.run_one(svc, task, STEP_OF[task.name], jid, 0, redelivered, sig)
            if not proceed:
                return
            failpoints.fire(svc.settings.failpoints, f"{task.name.rsplit('.', 1)[-1]}.after")
            following = self.inline_next(svc, time.monotonic() - began)
            if following is None:
                self.hand_on()
                return
            task, sig = following

    def run_one(
        self,
        svc: Services,
        task: StepTask,
        step: Step,
        jid: uuid.UUID,
        retries: int,
        redelivered: bool,
        sig: dict[str, Any] | None,
    ) -> bool:
        """One step of this task's message, True when the chain goes on. ``task`` is the step's own task: this
        one, or, with its chain signature ``sig``, one run inline."""
        step_name = task.name.rsplit(".", 1)[-1]
        tracing.annotate(job_id=str(jid), step=step_name, retries=retries, redelivered=redelivered)
        started = time.perf_counter()
        result: bool | BaseException
        try:
            failpoints.fire(svc.settings.failpoints, step_name)
            result = step(svc, jid)
        except SoftTimeLimitExceeded:
            limit = self.soft_time_limit or self.app.conf.task_soft_time_limit
            result = StepTimedOut(f"{task.name} ran past its time limit of {limit} s")
        except Exception as exc:
            result = exc
            if not isinstance(exc, PixelFlowError):
                log.exception("step %s crashed on job %s", task.name, jid)
        outcome = outcome_of(result, task.name, retries, task.max_retries)
        seconds = time.perf_counter() - started
        metrics.step_ran(step_name, outcome.name, seconds)
        if sig is not None and not outcome.retry:
            ended = "succeeded" if outcome.error is None else f"failed ({outcome.error.code})"
            log.info("Step %s[%s] %s in %.3fs (inline)", task.name, self.request.id, ended, seconds)
        if outcome.retry and sig is None:
            with self.requeued_if_unsent():
                retry = self.retry(exc=result, countdown=self.backoff(retries), throw=False)
            raise retry from None
        if outcome.retry:  # a step run inline: its first retry, as its own message; this task's part is done
            assert sig is not None
            with self.requeued_if_unsent():
                self.send(sig, countdown=task.backoff(0), retries=1)
            log.info("Step %s[%s] to run again as its own task (inline): %s", task.name, self.request.id, result)
            self.request.chain = None
            return False
        if outcome.error is not None:
            if outcome.name == "permanent_error":
                log.info("job %s failed in %s: %s", jid, task.name, outcome.error.code)
            elif outcome.dead_letter and isinstance(result, PixelFlowError):
                log.error("step %s on job %s: %s: %s", task.name, jid, outcome.error.code, outcome.error.message)
            task.end_job(svc, jid, outcome.error, dead_letter=outcome.dead_letter)
        if not outcome.proceed:
            self.notify_if_ended(svc, jid, step_name)
            self.request.chain = None  # the rest of the chain is dropped
            return False
        return True

    def inline_next(self, svc: Services, elapsed: float) -> tuple[StepTask, dict[str, Any]] | None:
        """The chain's next step, taken off the chain with its signature, when this worker may run it in this
        task: inline steps are on, the step's queue is one this worker consumes, and this task has used under a
        tenth of its soft time limit (a step run inline keeps nearly all the time its own task would have)."""
        chain = self.request.chain
        if not chain or not self.may_run_here(svc, chain[-1]["task"]):
            return None
        limit = self.soft_time_limit or self.app.conf.task_soft_time_limit
        if limit and elapsed >= limit / 10:
            return None
        return self.app.tasks[chain[-1]["task"]], chain.pop()

    def may_run_here(self, svc: Services, name: str) -> bool:
        """Step ``name`` may run inline in this worker: inline steps are on and this worker consumes its queue."""
        if not svc.settings.worker_inline_steps or name not in STEP_OF:
            return False
        return self.app.amqp.router.route({}, name)["queue"].name in self.app.amqp.queues.consume_from

    def send(self, sig: dict[str, Any], **options: Any) -> None:
        """Send the chain signature ``sig``, the rest of this task's chain behind it."""
        signature(sig, app=self.app).apply_async(
            chain=self.request.chain or None,
            parent_id=self.request.id,
            root_id=self.request.root_id or self.request.id,
            **options,
        )

    def end_job(self, svc: Services, job_id: uuid.UUID, error: PixelFlowError, *, dead_letter: bool) -> NoReturn:
        """Fail the job with ``error`` and end this step: FAILURE, and, with ``dead_letter``, its message
        rejected without requeue into the dead-letter queue (the relay records it for ``dlq replay``).

        A job that cannot be failed now (PostgreSQL down) is dead-lettered too: the sweeper ends it later.
        """
        try:
            self.give_up(svc, job_id, error)
        except Exception:
            log.exception("could not end job %s in %s", job_id, self.name)
            dead_letter = True
        if dead_letter:
            raise Reject(f"{error.code}: {error.message}", requeue=False)
        error.handled = True  # type: ignore[attr-defined]
        raise error

    @contextmanager
    def requeued_if_unsent(self) -> Iterator[None]:
        """A send to RabbitMQ that fails puts this step's message back in the queue (Reject, requeued).

        Nothing is lost and nothing is failed for it: when the message comes back
        (at once, or after the broker itself requeues it on a dropped connection),
        the effect ledger skips the work already done and the send is made then.
        """
        try:
            yield
        except BROKER_ERRORS as exc:
            log.warning(
                "%s on job %s: RabbitMQ unreachable (%s); its message goes back", self.name, self.request.args, exc
            )
            raise Reject(f"RabbitMQ unreachable: {exc}", requeue=True) from None

    def hand_on(self) -> None:
        """Send the chain's next step from inside this one.

        Celery would send it after the step returns; a send that fails there fails
        the step outside its body, and with it a job whose work is done and in the
        ledger. Sent here, a failed send is requeued_if_unsent.
        """
        chain = self.request.chain
        if not chain:
            return
        with self.requeued_if_unsent():
            self.send(chain.pop())
        self.request.chain = None  # sent: Celery must not send it again

    def notify_if_ended(self, svc: Services, job_id: uuid.UUID, step_name: str) -> None:
        """The job ended elsewhere (canceled, or failed by another run): the client still hears of it once."""
        if step_name == "notify":
            return
        job = svc.jobs.get(job_id)
        if job is not None and job.terminal and "notify" not in job.steps_done:
            with self.requeued_if_unsent():
                notify_task.apply_async((str(job_id),))

    def backoff(self, retries: int) -> float:
        """Seconds before retry number ``retries + 1``: 2, 4, 8 … up to retry_backoff_max, each half fixed.

        Celery's own jitter draws the whole delay at random, so a run of retries
        can be over in a few seconds and a dependency down for a minute (storage
        across a partition, say) fails jobs for good. With half of each delay
        fixed, the default 8 retries wait at least 255 s in all, and retries of
        many jobs still spread out.
        """
        delay = min(float(self.retry_backoff_max), self.retry_backoff * 2.0**retries)
        return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311  (spreading retries, not a secret)

    def give_up(self, svc: Services, job_id: uuid.UUID, exc: PixelFlowError) -> None:
        if svc.jobs.fail(job_id, exc.code, exc.message):
            metrics.job_finished("failed", exc.code)
            with self.requeued_if_unsent():  # back again, the step finds the job ended: notify_if_ended
                notify_task.apply_async((str(job_id),))

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        # What run_step did not end itself (a failure outside the step's body) must still end the job.
        if getattr(exc, "handled", False):
            return
        log.error("step %s failed outside its body on job %s", self.name, args[0], exc_info=exc)
        error = PixelFlowError(f"{self.name} failed unexpectedly ({type(exc).__name__})")
        self.give_up(services(), uuid.UUID(args[0]), error)


class NotifyTask(StepTask):
    def give_up(self, svc: Services, job_id: uuid.UUID, exc: PixelFlowError) -> None:
        # The job has already ended; only the delivery failed. A refusal (4xx) was recorded by the step itself,
        # with the status the endpoint answered: it stays.
        if isinstance(exc, WebhookRejected):
            return
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


class BatchTask(StepTask):
    """A batch's finish (tasks/steps/finish.py): retried as notify is while storage, PostgreSQL or the webhook
    is away; any other end is logged and acked, and the relay hands the batch on again later (its ending is
    still not told), so nothing here dead-letters or fails a job."""

    def finish_batch(self, batch_id: str) -> None:
        svc = services()
        bid = uuid.UUID(batch_id)
        tracing.annotate(batch_id=batch_id, retries=self.request.retries)
        try:
            failpoints.fire(svc.settings.failpoints, "finish")
            steps.finish(svc, bid)
        except WebhookRejected:
            return  # recorded with the status it answered
        except TransientError as exc:
            if self.request.retries < self.max_retries:
                with self.requeued_if_unsent():
                    retry = self.retry(exc=exc, countdown=self.backoff(self.request.retries), throw=False)
                raise retry from None
            log.warning("batch %s: gave up telling its ending: %s", batch_id, exc.message)
            with suppress(DatabaseUnavailable):  # else still untold: the relay hands it on again
                svc.jobs.record_batch_notification(bid, None, f"{exc.code}: {exc.message}")
        except Exception:
            log.exception("finishing batch %s failed; the relay hands it on again", batch_id)

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        log.error("finish of batch %s failed outside its body", args[0], exc_info=exc)


@app.task(base=BatchTask, bind=True, name="pixelflow.finish_batch")
def finish_batch_task(self: BatchTask, batch_id: str) -> None:
    self.finish_batch(batch_id)


# What each step's task runs: a step run inline in another task's message (StepTask.inline_next) runs this.
STEP_OF: dict[str, Step] = {
    fetch_task.name: steps.fetch,
    validate_task.name: steps.validate,
    transform_task.name: steps.transform,
    upload_task.name: steps.upload,
    notify_task.name: steps.notify,
}


def job_chain(job_id: uuid.UUID) -> Any:
    """fetch → validate → transform → upload → notify, each taking only the job id."""
    jid = str(job_id)
    return chain(*(task.si(jid) for task in (fetch_task, validate_task, transform_task, upload_task, notify_task)))


@celeryd_init.connect
def _observe(**_: Any) -> None:
    # In the main process, before the pool forks: children inherit both. Celery owns the log handlers.
    settings = logs.start(get_settings(), handlers=False)
    metrics.start(settings.worker_metrics_host, settings.worker_metrics_port)


_bound: dict[str, tuple[Any, Any]] = {}


@task_prerun.connect
def _bind_job(task_id: str = "", args: Any = (), **_: Any) -> None:
    # In the thread that runs the task: its log lines name the job (the first argument of every step) and the task.
    _bound[task_id] = logs.bind(str(args[0]) if args else None, task_id)


@task_postrun.connect
def _unbind_job(task_id: str = "", **_: Any) -> None:
    tokens = _bound.pop(task_id, None)
    if tokens is not None:
        logs.unbind(tokens)


@worker_shutdown.connect
def _stop_metrics(**_: Any) -> None:
    metrics.stop()
    tracing.flush()


@worker_process_init.connect
def _trace_child(**_: Any) -> None:
    # A prefork child: its own exporter thread (none survives the fork).
    tracing.start("pixelflow-worker")


@worker_init.connect
def _trace_threads(sender: Any = None, **_: Any) -> None:
    # The thread pool (worker-io) and solo run the steps in this process: no child will start tracing.
    if "prefork" not in str(getattr(sender, "pool_cls", "prefork")):
        tracing.start("pixelflow-worker")


@worker_init.connect
def _say_what_cannot_be_read(**_: Any) -> None:
    for missing in (probe.HEIC_MISSING, jxl.MISSING):
        if missing:
            log.warning("%s", missing)


@worker_init.connect
def _size_pools(sender: Any = None, **_: Any) -> None:
    if isinstance(getattr(sender, "concurrency", None), int):
        size_services(sender.concurrency)


@worker_init.connect
def _declare_topology(sender: Any = None, **_: Any) -> None:
    # Before any message can be dead-lettered (an exchange with no queue would drop it), and before the
    # consumer binds every known queue to the delayed-delivery exchange (tasks/topology.py).
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=30, interval_start=1, interval_step=1, interval_max=5)
        declare(conn, get_settings())


@worker_init.connect
def _ensure_bucket(**_: Any) -> None:
    try:
        S3ObjectStore(get_settings()).ensure_bucket()
    except StorageUnavailable as exc:
        log.warning("could not create the bucket at start-up (%s); steps will retry", exc.message)


@worker_ready.connect
def _bound_cold_shutdown(**_: Any) -> None:
    # In the main process, once Celery's own signal handlers are in place (tasks/shutdown.py).
    bound_cold_shutdown(get_settings().worker_cold_shutdown_seconds)


@worker_process_shutdown.connect
def _close_services(**_: Any) -> None:
    failpoints.fire(get_settings().failpoints, "process-shutdown")
    close_services()
    tracing.flush()
