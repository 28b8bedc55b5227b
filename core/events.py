"""Live events: what GET /v1/jobs/{id}/events and GET /v1/batches/{id}/events stream (Server-Sent Events).

The source is PostgreSQL's NOTIFY on ``pixelflow_events``: triggers send one
when a job starts, a step ends, a job ends and a batch finishes (migration
0016), and a step's read of its job tells that it started (``Jobs.get``'s
``announce``), each in the writing statement's own transaction, so the steps
pay no round trip for it. Every API process, on any host, listens once
(``EventHub``) and hands each notification to the streams that watch its job
or batch.

A notification is a hint: the stream then reads the job or the batch again
and sends what changed. So a notification lost (the listener reconnecting)
only delays an event, and a stream resumes from ``Last-Event-ID`` by reading
the same rows:
- a job's stream: its history, numbered from 1 (``job.started``, then
  ``step.ended`` for each work step in order, then ``job.ended`` with the
  job's document, after which the stream closes); ``step.started`` events are
  live only and carry no id. A client that comes back after ``job.ended`` is
  answered 204, which tells an EventSource to stop.
- a batch's stream: ``job.ended`` for each item in the order they ended (its
  id the cursor: the ending's time and job id, so the next stream starts
  after it), ``batch.counts`` whenever the counts change, and
  ``batch.finished`` with the batch's document (its manifest URL) last.
  Items that ended in the ``LOOKBACK`` before the cursor are read again, and
  sent again only by a resumed stream (it cannot know which it had), since
  commits do not arrive in the order of their times.

Both send a comment as heartbeat every PIXELFLOW_EVENTS_HEARTBEAT seconds
(and read again then) and close after PIXELFLOW_EVENTS_MAX_SECONDS; the
client reconnects where it was.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from core.document import batch_document, job_document
from core.model import Job, JobStatus
from core.ports import Ending, JobRecords, ObjectStore

log = logging.getLogger(__name__)

CHANNEL = "pixelflow_events"
WORK_STEPS = ("fetch", "validate", "transform", "upload")
LOOKBACK = timedelta(seconds=2)
COALESCE_SECONDS = 0.2
"""A batch's stream waits this long after a hint for the next ones: one read for a burst of endings."""
RETRY_MS = 2000


def sse(event: str | None, data: Any, event_id: str | None = None) -> str:
    """One Server-Sent Event (its data one line of JSON)."""
    head = (f"id: {event_id}\n" if event_id is not None else "") + (f"event: {event}\n" if event else "")
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n"


HEARTBEAT = ": heartbeat\n\n"


class Subscription:
    """What the hub hands one stream: the notifications for the keys it watches, or a ``{"type": "hint"}``
    when the listener reconnected (anything may have been missed: read again)."""

    def __init__(self, hub: EventHub, keys: frozenset[str]) -> None:
        self.hub = hub
        self.keys = keys
        self.queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()

    def get(self, timeout: float) -> dict[str, Any] | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def drain(self) -> list[dict[str, Any]]:
        got = []
        while True:
            try:
                got.append(self.queue.get_nowait())
            except queue.Empty:
                return got

    def close(self) -> None:
        self.hub.unsubscribe(self)


class EventHub:
    """One LISTEN connection per process, started with the first stream, shared by all of them."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]]) -> None:
        self.connect = connect
        self.lock = threading.Lock()
        self.watchers: dict[str, set[Subscription]] = {}
        self.thread: threading.Thread | None = None
        self.stopping = threading.Event()
        self.listening = threading.Event()

    def subscribe(self, keys: Iterable[str]) -> Subscription:
        sub = Subscription(self, frozenset(keys))
        with self.lock:
            for key in sub.keys:
                self.watchers.setdefault(key, set()).add(sub)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self.run, name="pixelflow-events", daemon=True)
                self.thread.start()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self.lock:
            for key in sub.keys:
                watching = self.watchers.get(key)
                if watching is not None:
                    watching.discard(sub)
                    if not watching:
                        del self.watchers[key]

    def dispatch(self, payload: str) -> None:
        try:
            note = json.loads(payload)
        except ValueError:
            return
        keys = {str(note[k]) for k in ("job", "batch") if note.get(k)}
        with self.lock:
            subs = {s for k in keys for s in self.watchers.get(k, ())}
        for sub in subs:
            sub.queue.put(note)

    def hint_all(self) -> None:
        with self.lock:
            subs = {s for watching in self.watchers.values() for s in watching}
        for sub in subs:
            sub.queue.put({"type": "hint"})

    def run(self) -> None:
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                with self.connect() as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    self.hint_all()  # whatever happened while not listening: the streams read again
                    backoff = 0.5
                    while not self.stopping.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self.dispatch(note.payload)
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("event listener lost its connection (%s); again in %.1f s", exc, backoff)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 10)

    def close(self) -> None:
        self.stopping.set()


# A job's events have fixed ids, so that a stream resumes after any of them: its start, each work step's end in
# the pipeline's order, its end.
STARTED, ENDED = 1, len(WORK_STEPS) + 2
STEP_IDS = {step: n for n, step in enumerate(WORK_STEPS, start=2)}


def job_history(job: Job, store: ObjectStore, url_ttl: timedelta) -> list[tuple[int, str, dict[str, Any]]]:
    """A job's events so far, (id, event, data) in order, from its row."""
    jid = str(job.id)
    history: list[tuple[int, str, dict[str, Any]]] = []
    if job.started_at is not None:
        history.append((STARTED, "job.started", {"job": jid}))
    for step in WORK_STEPS:
        if step in job.steps_done:
            history.append((STEP_IDS[step], "step.ended", {"job": jid, "step": step}))
    if job.terminal:
        history.append((ENDED, "job.ended", job_document(job, store, url_ttl)))
    return history


class Streams:
    """The event streams of one API process, over its job store and the process's hub."""

    def __init__(
        self,
        jobs: JobRecords,
        store: ObjectStore,
        hub: EventHub,
        url_ttl: timedelta,
        heartbeat: float,
        max_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.jobs, self.store, self.hub, self.url_ttl = jobs, store, hub, url_ttl
        self.heartbeat, self.max_seconds, self.clock = heartbeat, max_seconds, clock

    def job_position(self, job: Job, last_event_id: str | None) -> int | None:
        """Where a job's stream starts: after the event ``last_event_id``; None when nothing is left to send."""
        try:
            sent = min(max(int(last_event_id or 0), 0), ENDED)
        except ValueError:
            sent = 0
        return None if job.terminal and sent >= ENDED else sent

    def job(self, job_id: uuid.UUID, sent: int) -> Iterator[str]:
        """The job's history after ``sent``, then its events as they come, in the order they were committed.

        A note that follows the last event sent is sent as it is; any other (a note lost between) makes the
        stream read the job and send what it has not yet: so nothing is sent twice or out of order.
        """
        sub = self.hub.subscribe([str(job_id)])
        deadline = self.clock() + self.max_seconds
        jid = str(job_id)

        def catch_up() -> Iterator[str]:
            nonlocal sent
            job = self.jobs.get(job_id)
            if job is None:
                sent = ENDED
                return
            for n, event, data in job_history(job, self.store, self.url_ttl):
                if n > sent:
                    sent = n
                    yield sse(event, data, str(n))

        try:
            yield f"retry: {RETRY_MS}\n\n"
            yield from catch_up()
            while sent < ENDED:
                left = deadline - self.clock()
                if left <= 0:
                    return
                note = sub.get(min(self.heartbeat, left))
                if note is None:
                    yield HEARTBEAT
                    yield from catch_up()  # a hint may have been lost
                    continue
                kind, step = note.get("type"), note.get("step")
                if kind == "step.started" and step in STEP_IDS:
                    if STEP_IDS[step] > sent:  # not told ended yet
                        yield sse("step.started", {"job": jid, "step": step})
                elif kind == "job.started" and sent == STARTED - 1:
                    sent = STARTED
                    yield sse("job.started", {"job": jid}, str(STARTED))
                elif kind == "step.ended" and step in STEP_IDS and STEP_IDS[step] == sent + 1:
                    sent = STEP_IDS[step]
                    yield sse("step.ended", {"job": jid, "step": step}, str(sent))
                elif kind == "step.ended" and step in STEP_IDS and STEP_IDS[step] <= sent:
                    continue  # told already
                elif kind in ("job.started", "step.ended", "job.ended", "hint"):
                    yield from catch_up()
        finally:
            sub.close()

    @staticmethod
    def cursor(last_event_id: str | None) -> tuple[tuple[datetime, uuid.UUID] | None, int | None]:
        """(the last ending seen, the finish seen) from a batch stream's event id: ``<µs>.<job>[.<µs>]``."""
        if not last_event_id:
            return None, None
        try:
            parts = last_event_id.split(".")
            at = datetime.fromtimestamp(int(parts[0]) / 1e6, UTC) if parts[0] else None
            seen = (at, uuid.UUID(hex=parts[1])) if at is not None else None
            return seen, int(parts[2]) if len(parts) > 2 else None
        except (ValueError, IndexError):
            return None, None

    @staticmethod
    def event_id(seen: tuple[datetime, uuid.UUID] | None, finished: datetime | None = None) -> str:
        head = f"{round(seen[0].timestamp() * 1e6)}.{seen[1].hex}" if seen else "."
        return head + (f".{round(finished.timestamp() * 1e6)}" if finished else "")

    def batch_done(self, batch_id: uuid.UUID, last_event_id: str | None) -> bool:
        """A client that has seen the batch finish (as it is now): nothing is left to send."""
        batch = self.jobs.get_batch(batch_id)
        _, finished = self.cursor(last_event_id)
        return bool(batch and batch.finished_at and finished == round(batch.finished_at.timestamp() * 1e6))

    def batch(self, batch_id: uuid.UUID, last_event_id: str | None) -> Iterator[str]:
        sub = self.hub.subscribe([str(batch_id)])
        deadline = self.clock() + self.max_seconds
        seen, _ = self.cursor(last_event_id)
        told: dict[uuid.UUID, datetime] = {}  # this stream's endings sent, within the lookback
        counts: Any = None
        try:
            yield f"retry: {RETRY_MS}\n\n"
            while True:
                start = (seen[0] - LOOKBACK, uuid.UUID(int=0)) if seen else None
                while page := self.jobs.batch_endings(batch_id, start, 1000):
                    for ending in page:
                        if told.get(ending.job_id) == ending.finished_at:
                            continue
                        told[ending.job_id] = ending.finished_at
                        if seen is None or (ending.finished_at, ending.job_id) > seen:
                            seen = (ending.finished_at, ending.job_id)
                        yield sse("job.ended", _ending(ending), self.event_id(seen))
                    start = (page[-1].finished_at, page[-1].job_id)
                if seen is not None:
                    horizon = seen[0] - LOOKBACK
                    told = {k: v for k, v in told.items() if v >= horizon}
                batch = self.jobs.get_batch(batch_id)
                if batch is None:
                    return
                now = {"batch": str(batch.id), "status": batch.status, "items": batch.items,
                       "counts": {s: batch.counts.get(s, 0) for s in _STATUSES}}  # fmt: skip
                if now != counts:
                    counts = now
                    yield sse("batch.counts", now, self.event_id(seen))
                if batch.finished_at is not None:
                    document = batch_document(batch, self.store, self.url_ttl)
                    yield sse("batch.finished", document, self.event_id(seen, batch.finished_at))
                    return
                left = deadline - self.clock()
                if left <= 0:
                    return
                if sub.get(min(self.heartbeat, left)) is None:
                    yield HEARTBEAT
                    continue
                time.sleep(COALESCE_SECONDS)  # a burst of endings: read them together
                sub.drain()
        finally:
            sub.close()


_STATUSES = tuple(s.value for s in JobStatus)


def _ending(ending: Ending) -> dict[str, Any]:
    return {
        "job": str(ending.job_id),
        "status": ending.status,
        "error_code": ending.error_code,
        "at": ending.finished_at.isoformat(),
    }
