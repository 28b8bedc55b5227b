"""The event streams' logic (core/events.py) on the in-memory ports, the notifications fed by hand."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from core.events import EventHub, Streams, Subscription, job_history, sse
from core.ids import new_id
from core.memory import MemoryJobs, MemoryObjectStore
from core.spec import OutputSpec

OUTPUTS = [OutputSpec("small", "webp", 64)]


class Hub(EventHub):
    """The hub without its listener: the test puts the notifications in."""

    def __init__(self) -> None:
        super().__init__(lambda: None)  # type: ignore[arg-type,return-value]
        self.subs: list[Subscription] = []

    def subscribe(self, keys: Any) -> Subscription:
        sub = Subscription(self, frozenset(keys))
        self.subs.append(sub)
        return sub

    def note(self, **fields: Any) -> None:
        for sub in self.subs:
            sub.queue.put(fields)


def parsed(chunk: str) -> tuple[str | None, str | None, Any]:
    fields = dict(line.split(": ", 1) for line in chunk.strip().splitlines() if not line.startswith(":"))
    return fields.get("id"), fields.get("event"), json.loads(fields["data"]) if "data" in fields else None


def streams(jobs: MemoryJobs, hub: Hub) -> Streams:
    return Streams(jobs, MemoryObjectStore(), hub, timedelta(hours=1), heartbeat=0.01, max_seconds=60)


def test_a_job_stream_sends_notes_in_order_and_reads_the_job_again_after_a_gap() -> None:
    jobs, hub = MemoryJobs(), Hub()
    job = jobs.create(new_id(), OUTPUTS, source_key="uploads/t/a.jpg", tenant="t")
    stream = streams(jobs, hub).job(job.id, 0)
    assert next(stream).startswith("retry: ")
    jobs.start(job.id)
    hub.note(type="job.started", job=str(job.id))
    hub.note(type="step.started", job=str(job.id), step="fetch")
    assert [parsed(next(stream))[:2] for _ in range(2)] == [("1", "job.started"), (None, "step.started")]
    jobs.set_source(job.id, 10)
    jobs.set_source_info(job.id, "jpeg", 8, 8)
    hub.note(type="step.ended", job=str(job.id), step="fetch")
    hub.note(type="step.started", job=str(job.id), step="validate")
    # validate's end is lost: transform's end finds the stream behind, which reads the job and catches up.
    hub.note(type="step.ended", job=str(job.id), step="transform")
    jobs.stage_outputs(job.id, [])
    got = [parsed(next(stream)) for _ in range(4)]
    assert [g[:2] for g in got] == [("2", "step.ended"), (None, "step.started"), ("3", "step.ended"),
                                    ("4", "step.ended")]  # fmt: skip
    assert [g[2]["step"] for g in got] == ["fetch", "validate", "validate", "transform"]
    hub.note(type="step.started", job=str(job.id), step="transform")  # late: transform was told ended
    jobs.succeed(job.id, {"small": "results/t/x.webp"})
    hub.note(type="job.ended", job=str(job.id), status="succeeded")
    rest = [parsed(chunk) for chunk in stream if not chunk.startswith(":")]
    assert [r[:2] for r in rest] == [("5", "step.ended"), ("6", "job.ended")]
    assert rest[1][2]["status"] == "succeeded"


def test_a_job_stream_resumes_after_the_id_it_is_given_and_none_is_left_after_the_end() -> None:
    jobs, hub = MemoryJobs(), Hub()
    job = jobs.create(new_id(), OUTPUTS, source_key="uploads/t/a.jpg", tenant="t")
    jobs.start(job.id)
    jobs.set_source(job.id, 10)
    jobs.fail(job.id, "corrupt_image", "bad")
    ended = jobs.get(job.id)
    assert ended is not None
    assert [n for n, *_ in job_history(ended, MemoryObjectStore(), timedelta(hours=1))] == [1, 2, 6]
    s = streams(jobs, hub)
    assert s.job_position(ended, "6") is None and s.job_position(ended, "junk") == 0
    sent = s.job_position(ended, "1")
    assert sent == 1
    assert [parsed(c)[:2] for c in s.job(job.id, sent)][1:] == [("2", "step.ended"), ("6", "job.ended")]


def test_a_batch_stream_cursor_round_trips_and_its_heartbeat_is_a_comment() -> None:
    at = datetime(2026, 12, 5, 21, 0, 0, 123456, tzinfo=UTC)
    job = uuid.uuid4()
    event_id = Streams.event_id((at, job), at + timedelta(seconds=1))
    assert Streams.cursor(event_id) == ((at, job), round((at + timedelta(seconds=1)).timestamp() * 1e6))
    assert Streams.cursor(Streams.event_id(None)) == (None, None)
    assert Streams.cursor("not.an.id") == (None, None)
    assert sse("x", {"a": 1}, "7") == 'id: 7\nevent: x\ndata: {"a":1}\n\n'


def test_a_batch_stream_tells_each_ending_once_then_the_counts_and_the_finish() -> None:
    from core.model import BatchItem

    jobs, hub = MemoryJobs(), Hub()
    items = [BatchItem(source_key="uploads/t/a.jpg"), BatchItem(source_key="uploads/t/b.jpg")]
    ids = sorted(new_id() for _ in items)
    batch = jobs.create_batch(new_id(), ids, items, OUTPUTS, "t")
    stream = streams(jobs, hub).batch(batch.id, None)
    assert next(stream).startswith("retry: ")
    first = parsed(next(stream))
    assert first[1] == "batch.counts" and first[2]["counts"]["queued"] == 2
    jobs.start(ids[0])
    jobs.fail(ids[0], "corrupt_image", "bad")
    hub.note(type="job.ended", job=str(ids[0]), batch=str(batch.id))
    chunks = [next(stream) for _ in range(3)]
    told = [parsed(c) for c in chunks if not c.startswith(":")]
    assert [t[1] for t in told][:2] == ["job.ended", "batch.counts"]
    assert told[0][2]["job"] == str(ids[0]) and told[1][2]["status"] == "processing"
    jobs.cancel(ids[1])
    assert jobs.finish_batch(batch.id, "results/t/batches/m.jsonl")
    hub.note(type="batch.finished", batch=str(batch.id))
    rest = [parsed(c) for c in stream if not c.startswith(":")]
    assert [r[1] for r in rest] == ["job.ended", "batch.counts", "batch.finished"]
    assert rest[0][2]["job"] == str(ids[1])  # the first ending is not told again
    assert rest[2][2]["status"] == "failed" and rest[2][0] and rest[2][0].count(".") == 2
