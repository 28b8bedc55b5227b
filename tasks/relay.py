"""The outbox relay: ``python -m tasks.relay``.

Publishes the chain of every job the API committed, with publisher confirms,
then marks its outbox row sent. It wakes on PostgreSQL NOTIFY (sent in the
job's transaction) and polls every second as well, so a lost notification
or a broker outage only delays jobs. Several relays may run at once.

Each round it also moves dead letters from RabbitMQ into PostgreSQL: a
message a worker died on too often (delivery limit) fails its job with
``worker_lost`` and the client is notified; a step that failed for good has
already failed its job, and is only recorded.

Each second it hands every batch whose items have all ended to a worker,
which writes its manifest and sends its batch.completed webhook
(tasks/steps/finish.py); a batch still untold long after is handed on again.

Every PIXELFLOW_SWEEP_INTERVAL its sweeper re-drives stuck jobs and, with
PIXELFLOW_RETENTION_DAYS set, deletes the images of jobs past the retention
period and uploads no job kept, a bounded batch at a time.

It serves its counters on PIXELFLOW_RELAY_METRICS_PORT: among them the jobs it
ends (``worker_lost``, ``stuck``), which the workers' finished counter never
sees, so that the dashboard's accepted and finished balance.
"""

from __future__ import annotations

import logging
import signal
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import amqp.exceptions
import psycopg
from kombu import Connection
from kombu.exceptions import OperationalError
from kombu.message import Message
from prometheus_client import CollectorRegistry, Counter, start_http_server

from config import Settings
from core import broker, failpoints, liveness, logs, timeouts, tracing
from core.errors import DatabaseUnavailable, StorageUnavailable, Stuck, WorkerLost
from core.jobstore import OUTBOX_CHANNEL, JobStore
from core.objectstore import S3ObjectStore
from core.purge import expire_batches, expire_jobs, expire_uploads
from core.turns import Rotation
from tasks import topology
from tasks.pipeline import finish_batch_task, job_chain, notify_task

log = logging.getLogger("pixelflow.relay")
POLL_SECONDS = 1.0
# Tenants share the workers while more than one was served in this many seconds: the queues are kept to
# PIXELFLOW_RELAY_READY_PER_CONSUMER_SHARED ready messages per consumer then (Relay.room).
SHARED_SECONDS = 5.0
# While chains wait for room in the queues, the relay looks again this often: a worker takes a message every few
# tens of milliseconds, and the queues must not run dry between looks.
HELD_POLL_SECONDS = 0.05
# Retention, per sweep: at most this many jobs purged (each a DELETE of its objects), and one listing page.
RETENTION_BATCH = 100
RETENTION_BATCHES = 10  # a batch's purge pages through its items: few at a sweep
UPLOADS_PAGE = 1000


class RelayMetrics:
    """The relay's counters, in a registry of their own (served by main(); a test reads them)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.published = Counter(
            "pixelflow_relay_published_total", "Job chains published from the outbox", registry=self.registry
        )
        self.dead_letters = Counter(
            "pixelflow_relay_dead_letters_total",
            "Dead letters moved from RabbitMQ into PostgreSQL (celery -A tasks dlq list)",
            ["task", "reason"],
            registry=self.registry,
        )
        self.redrives = Counter(
            "pixelflow_relay_redrives_total", "Stuck jobs the sweeper sent again", registry=self.registry
        )
        # The same labels as the workers' pixelflow_worker_jobs_finished_total: the dashboard adds the two.
        self.jobs_finished = Counter(
            "pixelflow_relay_jobs_finished_total",
            "Jobs the relay ended: a step dead-lettered at its delivery limit (worker_lost), no progress (stuck)",
            ["status", "code"],
            registry=self.registry,
        )
        for code in (WorkerLost.code, Stuck.code):  # at 0 from the start: rate() sees the first one
            self.jobs_finished.labels("failed", code)


def chained(body: Any) -> list[str]:
    """The tasks a Celery message's chain holds, in the order they run."""
    try:
        return [str(sig["task"]) for sig in reversed((body[2] or {}).get("chain") or [])]
    except (IndexError, TypeError, KeyError, AttributeError):
        return []


def ended_on(task: str, chain: list[str], steps_done: tuple[str, ...]) -> str:
    """The step a dead letter of ``task`` ended on: its own, or a later one of its chain run inline in the same
    message (StepTask.inline_next): the first one the job's ledger does not hold."""
    return next((name for name in (task, *chain) if name.rsplit(".", 1)[-1] not in steps_done), task)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def retell_after(settings: Settings) -> float:
    """How long a finished batch may stay untold before it is handed on again: longer than the finish step's
    webhook retries can take (each delay 2 s doubling to an hour), so that it is not told twice at once."""
    delays = (min(3600.0, 2.0 * 2.0**i) for i in range(settings.webhook_max_retries))
    return sum(delays) + settings.stuck_after


def publish(job_id: uuid.UUID, traceparent: str | None = None) -> None:
    """Send the job's chain, in the trace the job was created in (its publish span, the first step's parent)."""
    with tracing.continued(traceparent, "pixelflow.relay publish", job_id=job_id):
        job_chain(job_id).apply_async(
            retry=True, retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5}
        )


class Relay:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.jobs = JobStore.for_settings(settings, 1, 1, "pixelflow-relay")
        self.store: S3ObjectStore | None = None  # made on the first retention sweep
        self.rotation = Rotation()  # whom the outbox's turns served last (core/turns.py)
        self.notified = False  # the outbox's NOTIFY came since the last drain: a job came in
        self.next_pass = 0.0
        self.uploads_after = ""  # where the next page of uploads starts
        self.running = True
        self.metrics = RelayMetrics()
        self.held = False  # chains are waiting for room in the queues
        self.recount_at = 0.0  # while held, when the outbox's unsent rows are counted again
        self.next_dead_letters = 0.0  # when the dead-letter queue is looked at again
        self.next_batches = 0.0  # when ended batches are looked for again

    def publish(self, job_id: uuid.UUID, traceparent: str | None = None) -> None:
        publish(job_id, traceparent)
        failpoints.fire(self.settings.failpoints, "relay.after-publish")

    def stop(self, *_: object) -> None:
        self.running = False

    def drain_dead_letters(self, conn: Connection) -> int:
        moved = 0
        queue = topology.dead_letter_queue(self.settings)(conn.default_channel)
        while self.running and (message := queue.get(no_ack=False)) is not None:
            self.record(message)
            message.ack()
            moved += 1
        return moved

    def record(self, message: Message) -> None:
        headers = message.headers or {}
        deaths = headers.get("x-death") or [{}]
        reason = str(deaths[0].get("reason", "unknown"))
        count = headers.get("x-delivery-count") or deaths[0].get("count")
        task = str(headers.get("task", "?"))
        body = message.decode()
        try:
            # A batch's finish names its batch: the relay hands the batch on again, no job is failed.
            job_id = None if task == finish_batch_task.name else uuid.UUID(body[0][0])
        except (ValueError, IndexError, TypeError, KeyError):
            job_id = None
        if job_id is not None and (chain := chained(body)):
            job = self.jobs.get(job_id)
            task = ended_on(task, chain, job.steps_done) if job is not None else task
        snapshot = {
            "headers": _jsonable(headers),
            "body": _jsonable(body),
            "routing_key": message.delivery_info.get("routing_key"),
        }
        self.jobs.record_dead_letter(job_id, task, reason, int(count) if count is not None else None, snapshot)
        self.metrics.dead_letters.labels(task, reason).inc()
        log.warning("dead letter: %s for job %s (%s)", task, job_id, reason)
        if job_id and reason == "delivery_limit":
            message_text = f"a worker process died on every delivery of {task} (delivery limit reached)"
            if self.jobs.fail(job_id, WorkerLost.code, message_text):
                self.metrics.jobs_finished.labels("failed", WorkerLost.code).inc()
                notify_task.apply_async((str(job_id),))

    def sweep(self) -> None:
        """Re-drive jobs with no progress past the deadline; fail those that had their re-drives."""
        settings = self.settings
        for job in self.jobs.stuck(settings.stuck_after):
            if self.jobs.redrive(job.id, settings.max_redrives):
                self.metrics.redrives.inc()
                log.warning("job %s stuck %s: re-driven", job.id, job.status)
            elif self.jobs.fail(
                job.id,
                Stuck.code,
                f"no progress for {settings.stuck_after:.0f} s, after {settings.max_redrives} re-drives",
            ):
                self.metrics.jobs_finished.labels("failed", Stuck.code).inc()
                log.warning("job %s stuck %s: failed", job.id, job.status)
                notify_task.apply_async((str(job.id),))

    def expire(self) -> None:
        """The retention period: a batch of ended jobs' images, finished batches' manifests, then a page of the
        uploads (core/purge.py)."""
        if not self.settings.retention_days:
            return
        retention = timedelta(days=self.settings.retention_days)
        if self.store is None:
            self.store = S3ObjectStore(self.settings)
        try:
            purged = expire_jobs(self.jobs, self.store, retention, RETENTION_BATCH)
            if purged:
                log.info("retention: %d jobs purged", purged)
            if batches := expire_batches(self.jobs, self.store, retention, RETENTION_BATCHES):
                log.info("retention: %d batches purged", batches)
            before = datetime.now(UTC) - retention
            _, self.uploads_after = expire_uploads(self.jobs, self.store, before, self.uploads_after, UPLOADS_PAGE)
        except StorageUnavailable as exc:  # the next sweep tries again
            log.warning("retention: %s", exc.message)

    def room(self, conn: Connection) -> int | None:
        """How many chains may go out now: every work queue below PIXELFLOW_RELAY_READY_PER_CONSUMER ready
        messages per consumer (None: no bound), or PIXELFLOW_RELAY_READY_PER_CONSUMER_SHARED while tenants share
        the workers. Read from the broker itself (a passive declare per queue), so it counts every message
        waiting, the later steps of chains already out included."""
        per = self.settings.relay_ready_per_consumer
        if per == 0:
            return None
        if len(self.rotation.recent(SHARED_SECONDS)) > 1:
            per = min(per, self.settings.relay_ready_per_consumer_shared)
        room = None
        for name in (self.settings.queue, topology.transform_queue(self.settings)):
            _, ready, consumers = conn.default_channel.queue_declare(name, passive=True)
            left = per * max(consumers, 1) - ready
            room = left if room is None else min(room, left)
        return max(room or 0, 0)

    def finish_batches(self) -> int:
        """Hand each batch that has ended to a worker (at most once a POLL_SECONDS)."""
        now = time.monotonic()
        if now < self.next_batches:
            return 0
        self.next_batches = now + POLL_SECONDS

        def hand_on(batch_id: uuid.UUID) -> None:
            finish_batch_task.apply_async((str(batch_id),), retry=True, retry_policy={"max_retries": 3})

        n = self.jobs.relay_batches(hand_on, self.settings.stuck_after, retell_after(self.settings))
        if n:
            log.info("handed on %d ended batches", n)
        return n

    def pass_over(self) -> int:
        """The queues are full: the tenants not served for PIXELFLOW_RELAY_PASS_AFTER get their next chain out.
        Asked when a job came in (the outbox's NOTIFY) and every half of that period, not at every poll."""
        after = self.settings.relay_pass_after
        now = time.monotonic()
        if not after or not (self.notified or now >= self.next_pass):
            return 0
        self.next_pass = now + after / 2
        n = self.jobs.relay(self.publish, 200, self.rotation, passed_over=after)
        self.metrics.published.inc(n)
        return n

    def drain(self, conn: Connection) -> int:
        """Publish while the queues have room. Held (chains left waiting for room), the relay looks again every
        HELD_POLL_SECONDS; a look then costs the queues' depth and nothing else when it knows chains are waiting:
        it took as many as it asked for, or found no room and nothing has gone out since (the outbox is counted
        again once a POLL_SECONDS, for rows canceled or sent by another relay)."""
        sent, took_all = 0, False
        was_held, self.held = self.held, False
        while self.running:
            room = self.room(conn)
            if room == 0:
                sent += self.pass_over()
                # Took all it asked for: more wait. Else they are counted, unless nothing changed since the last look.
                self.held = took_all or self.chains_waiting(unchanged=was_held and not sent)
                return sent
            limit = 200 if room is None else min(room, 200)
            n = self.jobs.relay(self.publish, limit, self.rotation)
            self.metrics.published.inc(n)
            sent += n
            if n == 0:
                return sent
            took_all = n == limit
        return sent

    def chains_waiting(self, unchanged: bool) -> bool:
        """Chains wait in the outbox: counted, or, ``unchanged`` (the last look found them waiting and nothing went
        out since), taken as still there until POLL_SECONDS after the last count."""
        now = time.monotonic()
        if unchanged and now < self.recount_at:
            return True
        self.recount_at = now + POLL_SECONDS
        return self.jobs.unsent() > 0

    def look_at_dead_letters(self, conn: Connection) -> int:
        """Record what the dead-letter queue holds, at most once a POLL_SECONDS (not at every held look)."""
        now = time.monotonic()
        if now < self.next_dead_letters:
            return 0
        self.next_dead_letters = now + POLL_SECONDS
        return self.drain_dead_letters(conn)

    def run(self) -> None:
        self.jobs.open()
        declared = False
        next_sweep = time.monotonic() + self.settings.sweep_interval
        backoff = 0.5
        listener: psycopg.Connection[tuple[object, ...]] | None = None
        conn: Connection | None = None  # the broker, for the queues' depth and the dead letters
        try:
            while self.running:
                liveness.beat("relay")
                try:
                    if listener is None or listener.closed:
                        listener = psycopg.connect(
                            self.settings.database_url,
                            autocommit=True,
                            application_name="pixelflow-relay-listen",
                            **timeouts.postgres(self.settings),
                        )
                        listener.execute(f"LISTEN {OUTBOX_CHANNEL}")
                    if conn is None:
                        conn = broker.connection(self.settings)
                        conn.ensure_connection(max_retries=1)
                    if not declared:
                        topology.declare(conn, self.settings)
                        declared = True
                    sent = self.drain(conn)
                    if sent:
                        log.info("published %d jobs", sent)
                    self.look_at_dead_letters(conn)
                    self.finish_batches()
                    if time.monotonic() >= next_sweep:
                        self.sweep()
                        self.expire()
                        next_sweep = time.monotonic() + self.settings.sweep_interval
                    wait = HELD_POLL_SECONDS if self.held else POLL_SECONDS
                    self.notified = any(True for _ in listener.notifies(timeout=wait, stop_after=1))
                    backoff = 0.5
                except (
                    OperationalError,
                    OSError,
                    DatabaseUnavailable,
                    psycopg.OperationalError,
                    amqp.exceptions.ChannelError,  # a work queue gone (deleted): declared again
                    # The broker closed the connection: in a cluster, a queue whose leader's node went answers
                    # 541 "nodedown" until its followers elect another (a few seconds).
                    amqp.exceptions.ConnectionError,
                ) as exc:
                    log.warning("relay paused %.1fs: %s", backoff, str(exc) or type(exc).__name__)
                    declared = not isinstance(exc, amqp.exceptions.ChannelError) and declared
                    if listener is not None:
                        listener.close()
                    if conn is not None:
                        conn.release()
                        conn = None
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 10)
        finally:
            liveness.clear("relay")
            if listener is not None:
                listener.close()
            if conn is not None:
                conn.release()
            self.jobs.close()


def main() -> None:
    settings = logs.start()
    tracing.start("pixelflow-relay")
    relay = Relay(settings)
    signal.signal(signal.SIGTERM, relay.stop)
    signal.signal(signal.SIGINT, relay.stop)
    if settings.relay_metrics_port:
        start_http_server(
            settings.relay_metrics_port, addr=settings.relay_metrics_host, registry=relay.metrics.registry
        )
        log.info("relay metrics on http://%s:%s/metrics", settings.relay_metrics_host, settings.relay_metrics_port)
    log.info("relay started")
    relay.run()
    log.info("relay stopped")


if __name__ == "__main__":
    main()
