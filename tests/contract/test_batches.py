"""The Batches port's contract (core/ports.py), held by core.memory and core.batchstore alike."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from core.batchstore import PgBatches
from core.errors import IdempotencyKeyReused
from core.ids import new_id
from core.memory import MemoryJobs
from core.model import BatchItem, BatchStatus, JobStatus
from core.ports import Batches
from core.spec import OutputSpec

OUTPUTS = [OutputSpec("square", "webp", 64, 64, fit="cover"), OutputSpec("big", "png", 128)]


def tenant() -> str:
    return f"batch-{uuid.uuid4().hex[:8]}"


def conforms(batches: PgBatches, memory: MemoryJobs) -> tuple[Batches, Batches]:
    """Never called: mypy (make lint) checks that both fit the port."""
    return batches, memory


def items(owner: str, n: int) -> list[BatchItem]:
    return [BatchItem(source_key=f"uploads/{owner}/{i}.jpg") for i in range(n)]


def make(store: Any, owner: str, batch_items: list[BatchItem], **fields: Any) -> Any:
    store.relay(lambda *_: None, 100_000)
    return store.create_batch(new_id(), sorted(new_id() for _ in batch_items), batch_items, OUTPUTS, owner, **fields)


def test_both_stores_implement_the_port(store: Any) -> None:
    names = {n for n in vars(Batches) if not n.startswith("_")}
    assert not {n for n in names if not callable(getattr(store, n, None))}


def test_a_batch_is_a_queued_job_per_item_each_sent_to_the_workers(store: Any) -> None:
    owner = tenant()
    batch = make(store, owner, items(owner, 5), webhook_url="http://h/done", job_webhook_url="http://h/job")
    assert (batch.items, batch.status, dict(batch.counts)) == (5, BatchStatus.QUEUED, {"queued": 5})
    assert batch.webhook_url == "http://h/done" and not batch.replayed
    assert store.unsent() == 5
    jobs = store.batch_jobs(batch.id, limit=10)
    assert [j.source_key for j in jobs] == [f"uploads/{owner}/{i}.jpg" for i in range(5)]  # item order
    assert {(j.batch_id, j.tenant, j.status, j.webhook_url) for j in jobs} == {
        (batch.id, owner, JobStatus.QUEUED, "http://h/job")
    }
    assert [o.spec for o in jobs[0].outputs] == OUTPUTS
    assert store.get_batch(batch.id, owner).counts == {"queued": 5}
    assert store.get_batch(batch.id, "someone-else") is None
    second = store.batch_jobs(batch.id, limit=2, after=jobs[1].id)
    assert [j.id for j in second] == [jobs[2].id, jobs[3].id]


def test_an_item_refused_at_once_is_a_failed_job_never_sent_and_a_focal_point_goes_to_outputs_that_crop(
    store: Any,
) -> None:
    owner = tenant()
    refused = BatchItem(source_key="uploads/other/x.jpg", error=("source_not_found", "nothing was uploaded at …"))
    focal = BatchItem(source_key=f"uploads/{owner}/f.jpg", focal=(0.25, 0.75))
    batch = make(store, owner, [refused, focal])
    assert dict(batch.counts) == {"failed": 1, "queued": 1} and batch.status == BatchStatus.PROCESSING
    assert store.unsent() == 1
    first, second = store.batch_jobs(batch.id)
    assert (first.status, first.error_code, first.finished_at is not None) == ("failed", "source_not_found", True)
    square, big = (o.spec for o in second.outputs)
    assert (square.gravity, square.focal) == ("focal", (0.25, 0.75))
    assert big == OUTPUTS[1]  # contain: no crop, nothing to keep


def test_the_batch_state_follows_its_jobs(store: Any) -> None:
    owner = tenant()
    batch = make(store, owner, items(owner, 3))
    a, b, c = store.batch_jobs(batch.id)
    store.start(a.id)
    assert store.get_batch(batch.id).status == BatchStatus.PROCESSING
    store.succeed(a.id, {})
    store.fail(b.id, "corrupt_image", "bad")
    assert store.get_batch(batch.id).status == BatchStatus.PROCESSING
    store.fail(c.id, "corrupt_image", "bad")
    ended = store.get_batch(batch.id)
    assert (ended.status, dict(ended.counts), ended.ended) == (
        BatchStatus.PARTIALLY_FAILED,
        {"succeeded": 1, "failed": 2},
        3,
    )
    every_failed = make(store, owner, items(owner, 2))
    for job in store.batch_jobs(every_failed.id):
        store.fail(job.id, "corrupt_image", "bad")
    assert store.get_batch(every_failed.id).status == BatchStatus.FAILED
    all_good = make(store, owner, items(owner, 2))
    for job in store.batch_jobs(all_good.id):
        store.start(job.id)
        store.succeed(job.id, {})
    assert store.get_batch(all_good.id).status == BatchStatus.SUCCEEDED


def test_cancel_ends_every_unfinished_item_and_sends_none_of_their_chains(store: Any) -> None:
    owner = tenant()
    batch = make(store, owner, items(owner, 4))
    sent: list[uuid.UUID] = []
    assert store.relay(lambda job_id, _: sent.append(job_id), 1) == 1  # one item's chain is out; three wait
    store.start(sent[0])
    store.succeed(sent[0], {})
    assert store.cancel_batch(batch.id) == 3
    canceled = store.get_batch(batch.id)
    assert canceled.status == BatchStatus.CANCELED and canceled.canceled_at is not None
    assert dict(canceled.counts) == {"succeeded": 1, "canceled": 3}
    assert store.unsent() == 0
    assert store.cancel_batch(batch.id) == 0


def test_retry_runs_the_failed_items_again_and_opens_the_batch(store: Any) -> None:
    owner = tenant()
    batch = make(store, owner, items(owner, 3))
    a, b, c = store.batch_jobs(batch.id)
    store.relay(lambda *_: None, 100)
    for job, ok in ((a, True), (b, False), (c, False)):
        store.start(job.id)
        store.succeed(job.id, {}) if ok else store.fail(job.id, "source_unavailable", "down")
    assert batch.id in handed_on(store)
    assert store.finish_batch(batch.id, "results/m.jsonl") and not store.finish_batch(batch.id, "results/m.jsonl")
    assert store.get_batch(batch.id).finished_at is not None
    assert batch.id not in handed_on(store)  # handed on already
    assert store.retry_batch(batch.id) == 2
    again = store.get_batch(batch.id)
    assert (dict(again.counts), again.finished_at, again.manifest_key) == ({"succeeded": 1, "queued": 2}, None, None)
    assert store.unsent() == 2
    assert batch.id not in handed_on(store)  # items running again
    assert not store.finish_batch(batch.id, "results/m.jsonl")
    assert store.retry_batch(batch.id) == 0  # nothing has failed now
    for job in store.batch_jobs(batch.id, JobStatus.QUEUED):
        store.start(job.id)
        store.fail(job.id, "source_unavailable", "down")
    assert batch.id in handed_on(store)  # ended again: handed on again


def handed_on(store: Any, resend_after: float = 3600, retell_after: float = 3600) -> set[uuid.UUID]:
    got: list[uuid.UUID] = []
    store.relay_batches(got.append, resend_after, retell_after, 10_000)
    return set(got)


def test_an_ended_batch_is_handed_on_once_then_again_only_while_untold(store: Any) -> None:
    owner = tenant()
    running = make(store, owner, items(owner, 2))
    ended = make(store, owner, items(owner, 1))
    store.relay(lambda *_: None, 100)
    [job] = store.batch_jobs(ended.id)
    store.start(job.id)
    store.succeed(job.id, {})
    assert ended.id in handed_on(store) and running.id not in handed_on(store, 0, 0)
    assert ended.id not in handed_on(store)  # once, while the step has it
    assert ended.id in handed_on(store, resend_after=0)  # not finished long after: handed on again
    assert store.finish_batch(ended.id, "results/m.jsonl")
    assert ended.id not in handed_on(store, resend_after=0)  # finished: waits for retell_after
    assert ended.id in handed_on(store, resend_after=3600, retell_after=0)
    assert not store.record_batch_notification(running.id, None, None)  # not finished: nothing to tell
    assert store.record_batch_notification(ended.id, 200, None)
    assert not store.record_batch_notification(ended.id, 500, "again")
    assert ended.id not in handed_on(store, 0, 0)  # told: never again
    told = store.get_batch(ended.id)
    assert (told.webhook_status, told.webhook_error, told.notified_at is not None) == (200, None, True)


def test_a_canceled_batch_ends_and_is_handed_on(store: Any) -> None:
    owner = tenant()
    batch = make(store, owner, items(owner, 3))
    assert batch.id not in handed_on(store, 0, 0)
    store.cancel_batch(batch.id)
    assert batch.id in handed_on(store)


def test_a_refused_item_is_sent_only_to_tell_its_webhook(store: Any) -> None:
    owner = tenant()
    refused = [BatchItem(source_key="uploads/someone-else/a.jpg", error=("source_not_found", "not yours"))]
    make(store, owner, refused)
    assert store.unsent() == 0
    make(store, owner, refused, job_webhook_url="https://hooks.example/job")
    assert store.unsent() == 1  # its chain: fetch finds it failed, notify tells the webhook


def test_a_batch_webhook_s_deliveries_are_its_own(store: Any) -> None:
    owner = tenant()
    batch = make(store, owner, items(owner, 1))
    job = store.batch_jobs(batch.id)[0]
    msg = f"msg_{uuid.uuid4().hex}"
    store.record_delivery(None, msg, "https://hooks.example/b", 1, 503, None, 7, batch_id=batch.id)
    store.record_delivery(None, msg, "https://hooks.example/b", 2, 200, None, 5, batch_id=batch.id)
    assert store.delivery_attempts(msg) == 2
    assert [(d["attempt"], d["status_code"]) for d in store.deliveries(batch_id=batch.id)] == [(1, 503), (2, 200)]
    assert store.deliveries(job.id) == []


def test_a_batch_idempotency_key_returns_its_batch_and_refuses_another_request(store: Any) -> None:
    owner = tenant()
    first = make(store, owner, items(owner, 2), idempotency=("key-1", "hash-a"))
    again = make(store, owner, items(owner, 2), idempotency=("key-1", "hash-a"))
    assert (again.id, again.replayed, again.items) == (first.id, True, 2)
    assert store.unsent() == 0  # nothing new was made
    with pytest.raises(IdempotencyKeyReused):
        make(store, owner, items(owner, 2), idempotency=("key-1", "hash-b"))
    other = make(store, tenant(), items(owner, 1), idempotency=("key-1", "hash-b"))  # keys are per tenant
    assert other.id != first.id


def test_the_completion_and_the_purge_are_recorded_once(store: Any) -> None:
    owner = tenant()
    batch = make(store, owner, items(owner, 1))
    store.relay(lambda *_: None, 100)
    [job] = store.batch_jobs(batch.id)
    store.start(job.id)
    store.succeed(job.id, {})
    assert store.finish_batch(batch.id, "results/m.jsonl")
    assert store.record_batch_notification(batch.id, None, None)
    assert not store.record_batch_notification(batch.id, None, None)
    assert store.record_batch_purge(batch.id) and not store.record_batch_purge(batch.id)
    got = store.get_batch(batch.id)
    assert got.notified_at is not None and got.purged_at is not None
    listed = store.list_batches(owner)
    assert [b.id for b in listed] == [batch.id]
