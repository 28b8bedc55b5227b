"""One contract for the persistence ports (core/ports.py), held by core.memory and core.jobstore alike."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.deadletters import PgDeadLetters
from core.deliveries import PgDeliveries
from core.errors import IdempotencyKeyReused
from core.ids import new_id
from core.jobstore import JobStore, PgJobs
from core.memory import MemoryJobs
from core.model import Job, JobStatus, Output
from core.outbox import PgOutbox
from core.ports import DeadLetters, Deliveries, JobRecords, Jobs, Outbox, Usage
from core.spec import OutputSpec
from core.turns import Rotation
from core.usage import PgUsage

OUTPUTS = [OutputSpec("small", "webp", 64), OutputSpec("big", "png", 128)]


def tenant() -> str:
    """A tenant of the test's own: listings and usage see only its jobs."""
    return f"contract-{uuid.uuid4().hex[:8]}"


def drained(store: Outbox) -> None:
    store.relay(lambda *_: None, 10_000)


def conforms(
    jobs: PgJobs, outbox: PgOutbox, letters: PgDeadLetters, deliveries: PgDeliveries, usage: PgUsage, memory: MemoryJobs
) -> tuple[Jobs, Outbox, DeadLetters, Deliveries, Usage, JobRecords, JobRecords]:
    """Never called: mypy (make lint) checks that each PostgreSQL class and the in-memory store fit their ports."""
    return jobs, outbox, letters, deliveries, usage, memory, JobStore("")


def test_both_stores_implement_every_port(store: Any) -> None:
    # The Protocols are checked by mypy where the stores are used; this holds the method sets equal too.
    for port in (Jobs, Deliveries, Usage, Outbox, DeadLetters):
        names = {n for n in vars(port) if not n.startswith("_")}
        missing = {n for n in names if not callable(getattr(store, n, None))}
        assert not missing, f"{type(store).__name__} lacks {port.__name__}.{missing}"


def test_a_new_job_is_queued_with_its_outputs_and_waits_in_the_outbox(store: Any) -> None:
    drained(store)
    owner = tenant()
    job = store.create(new_id(), OUTPUTS, source_key="uploads/t/a.jpg", webhook_url="http://h/x", tenant=owner)
    assert job.status == JobStatus.QUEUED and not job.replayed
    assert store.unsent() == 1
    got = store.get(job.id)
    assert isinstance(got, Job)
    assert (got.status, got.source_key, got.webhook_url) == ("queued", "uploads/t/a.jpg", "http://h/x")
    assert got.tenant == owner
    assert [o.spec for o in got.outputs] == OUTPUTS and got.steps_done == ()
    assert store.get(job.id, owner) == got
    assert store.get(job.id, "someone-else") is None
    assert store.get(new_id()) is None
    published: list[tuple[uuid.UUID, str | None]] = []
    assert store.relay(lambda *sent: published.append(sent)) == 1
    assert published == [(job.id, None)] and store.unsent() == 0  # no trace: none to carry


def test_a_publish_that_fails_leaves_the_outbox_as_it_was(store: Any) -> None:
    drained(store)
    ids = [store.create(new_id(), OUTPUTS, source_key="k").id for _ in range(2)]

    def refuse(job_id: uuid.UUID, traceparent: str | None) -> None:
        raise ConnectionError("broker down")

    with pytest.raises(ConnectionError):
        store.relay(refuse)
    assert store.unsent() == 2
    published: list[uuid.UUID] = []
    assert store.relay(lambda job_id, _: published.append(job_id), limit=1) == 1 and store.unsent() == 1
    assert store.relay(lambda job_id, _: published.append(job_id)) == 1
    assert published == ids  # oldest first


def test_the_outbox_takes_the_tenants_in_turn_so_one_tenants_backlog_does_not_hold_another_back(store: Any) -> None:
    drained(store)
    bulk, other = tenant(), tenant()
    backlog = [store.create(new_id(), OUTPUTS, source_key="k", tenant=bulk).id for _ in range(5)]
    single = store.create(new_id(), OUTPUTS, source_key="k", tenant=other).id
    published: list[uuid.UUID] = []
    assert store.relay(lambda job_id, _: published.append(job_id), limit=2) == 2
    assert sorted(published) == sorted([backlog[0], single])  # the newcomer's job goes out in the first turn
    assert store.relay(lambda job_id, _: published.append(job_id)) == 4
    assert published[2:] == backlog[1:]  # each tenant's own in order


def test_a_relay_with_room_for_one_at_a_time_takes_the_tenant_it_served_least_recently(store: Any) -> None:
    # The queues full of a batch: room for one chain at a time. Without the rotation, the batch's next row (older
    # than any job that came after it, and first in its own turn too) would go out every time.
    drained(store)
    bulk, other = tenant(), tenant()
    backlog = [store.create(new_id(), OUTPUTS, source_key="k", tenant=bulk).id for _ in range(4)]
    rotation = Rotation()
    published: list[uuid.UUID] = []
    assert store.relay(lambda job_id, _: published.append(job_id), 1, rotation) == 1
    single = store.create(new_id(), OUTPUTS, source_key="k", tenant=other).id
    later = store.create(new_id(), OUTPUTS, source_key="k", tenant=other).id
    for _ in range(5):
        assert store.relay(lambda job_id, _: published.append(job_id), 1, rotation) == 1
    assert published == [backlog[0], single, backlog[1], later, backlog[2], backlog[3]]
    assert rotation.order() == [other, bulk]  # least recently served first


def test_while_the_queues_are_full_a_tenant_not_served_lately_gets_its_oldest_job_out(store: Any) -> None:
    drained(store)
    bulk, other, idle = tenant(), tenant(), tenant()
    backlog = [store.create(new_id(), OUTPUTS, source_key="k", tenant=bulk).id for _ in range(3)]
    rotation = Rotation()
    published: list[uuid.UUID] = []
    assert store.relay(lambda job_id, _: published.append(job_id), 1, rotation) == 1  # bulk served just now
    mine = [store.create(new_id(), OUTPUTS, source_key="k", tenant=other).id for _ in range(2)]
    theirs = store.create(new_id(), OUTPUTS, source_key="k", tenant=idle).id
    # Passed over: the oldest of each tenant not served in the last minute; bulk was, so its rows wait.
    assert store.relay(lambda job_id, _: published.append(job_id), 200, rotation, passed_over=60) == 2
    assert published == [backlog[0], mine[0], theirs]
    assert store.relay(lambda job_id, _: published.append(job_id), 200, rotation, passed_over=60) == 0
    assert store.unsent() == 3  # bulk's two and other's second wait for room


def test_listing_is_newest_first_by_tenant_status_and_cursor(store: Any) -> None:
    owner = tenant()
    ids = [store.create(new_id(), OUTPUTS, source_key="k", tenant=owner).id for _ in range(3)]
    store.create(new_id(), OUTPUTS, source_key="k", tenant=tenant())
    assert [j.id for j in store.list_recent(tenant=owner)] == ids[::-1]
    assert [j.id for j in store.list_recent(limit=2, tenant=owner)] == [ids[2], ids[1]]
    assert [j.id for j in store.list_recent(before=ids[1], tenant=owner)] == [ids[0]]
    store.start(ids[0])
    assert [j.id for j in store.list_recent("processing", tenant=owner)] == [ids[0]]


def test_state_changes_are_guarded(store: Any) -> None:
    job = store.create(new_id(), OUTPUTS, source_key="k")
    assert store.start(job.id) is True
    assert store.start(job.id) is False
    assert store.retry(job.id) is False  # only an ended job is retried
    assert store.cancel(job.id) is True
    assert store.fail(job.id, "x", "late") is False  # ended once, never twice
    assert store.start(job.id) is False
    after = store.get(job.id)
    assert after.status == JobStatus.CANCELED and after.terminal and after.finished_at is not None
    assert store.cancel(new_id()) is False and store.start(new_id()) is False
    queued = store.create(new_id(), OUTPUTS, source_key="k")
    assert store.succeed(queued.id, {}) is False  # never processed: cannot succeed


def test_each_effect_goes_into_the_ledger_only_while_the_job_is_processing(store: Any) -> None:
    job = store.create(new_id(), OUTPUTS, source_key="k")
    store.set_source(job.id, 1000)  # still queued: nothing happens
    assert store.get(job.id).steps_done == () and store.get(job.id).source_bytes is None
    store.start(job.id)
    store.set_source(job.id, 1000)
    store.set_source_info(job.id, "jpeg", 40, 30, 1)
    got = store.get(job.id)
    assert got.steps_done == ("fetch", "validate")
    assert (got.source_bytes, got.source_format, got.source_width, got.source_height, got.source_frames) == (
        1000,
        "jpeg",
        40,
        30,
        1,
    )
    store.cancel(job.id)
    assert store.stage_outputs(job.id, [Output(OUTPUTS[0], "r/x.webp", None, 1, 1, 10, "webp")]) is False
    assert store.get(job.id).steps_done == ("fetch", "validate")


def test_the_ledger_holds_each_step_once_in_chain_order_and_a_retry_empties_it(store: Any) -> None:
    job = store.create(new_id(), OUTPUTS, source_key="uploads/x/a.jpg")
    store.set_source(job.id, 100)  # still queued: the guarded update does not apply, nothing is recorded
    assert store.get(job.id).steps_done == ()
    store.start(job.id)
    store.set_source(job.id, 100)
    store.set_source(job.id, 100)  # a repeat adds no second row
    store.set_source_info(job.id, "jpeg", 640, 480)
    staged = [Output(o, f"staging/{job.id}/{o.name}", None, 10, 10, 5, o.format) for o in OUTPUTS]
    store.stage_outputs(job.id, staged)
    assert store.get(job.id).steps_done == ("fetch", "validate", "transform")
    store.fail(job.id, "internal_error", "boom")
    store.record_notification(job.id, None, None)
    assert store.get(job.id).steps_done == ("fetch", "validate", "transform", "notify")
    assert store.retry(job.id) is True
    assert store.get(job.id).steps_done == ()
    store.start(job.id)
    store.set_source(job.id, 100)
    store.set_source_info(job.id, "jpeg", 640, 480)
    store.stage_outputs(job.id, staged)
    assert store.succeed(job.id, {"small": "results/a.webp", "big": "results/a.jpg"}) is True
    assert store.get(job.id).steps_done == ("fetch", "validate", "transform", "upload")


def test_a_job_that_succeeds_records_its_outputs_and_its_usage_once(store: Any) -> None:
    owner = tenant()
    since = datetime.now(UTC) - timedelta(minutes=1)
    job = store.create(new_id(), OUTPUTS, source_key="k", tenant=owner)
    store.start(job.id)
    store.set_source(job.id, 1000)
    store.set_source_info(job.id, "jpeg", 40, 30, 2)
    staged = [
        Output(OUTPUTS[0], "results/a.webp", None, 64, 48, 300, "webp"),
        Output(OUTPUTS[1], "results/b.png", None, 128, 96, 900, "png"),
    ]
    assert store.stage_outputs(job.id, staged, placeholder="data:image/webp;base64,AA", compute_ms=7) is True
    keys = {"small": "results/a.webp", "big": "results/b.png"}
    assert store.succeed(job.id, keys) is True
    assert store.succeed(job.id, keys) is False
    got = store.get(job.id)
    assert got.status == JobStatus.SUCCEEDED and got.steps_done == ("fetch", "validate", "transform", "upload")
    assert [(o.key, o.width, o.height, o.bytes, o.format) for o in got.outputs] == [
        ("results/a.webp", 64, 48, 300, "webp"),
        ("results/b.png", 128, 96, 900, "png"),
    ]
    assert got.placeholder == "data:image/webp;base64,AA"
    until = datetime.now(UTC) + timedelta(minutes=1)
    assert store.usage(owner, since, until) == {
        "jobs": 1,
        "pixels": 40 * 30 * 2,
        "bytes_in": 1000,
        "bytes_out": 1200,
        "bytes_saved": 2 * 1000 - 1200,
        "compute_ms": 7,
        "jobs_purged": 0,
        "bytes_purged": 0,
    }
    assert store.usage(owner, until, until + timedelta(days=1))["jobs"] == 0
    assert store.fail(job.id, "late", "a late failure") is False


def test_a_retried_job_starts_over_and_is_sent_again(store: Any) -> None:
    drained(store)
    job = store.create(new_id(), OUTPUTS, source_key="k")
    store.start(job.id)
    store.set_source(job.id, 10)
    store.stage_outputs(job.id, [Output(OUTPUTS[0], "results/a.webp", None, 1, 1, 1, "webp")])
    assert store.fail(job.id, "storage_unavailable", "gave up") is True
    store.record_notification(job.id, 200, None)
    drained(store)
    assert store.retry(job.id) is True
    got = store.get(job.id)
    assert (got.status, got.error_code, got.error_message, got.finished_at, got.notified_at) == (
        "queued",
        None,
        None,
        None,
        None,
    )
    assert got.steps_done == () and all(o.staged_key is None and o.bytes is None for o in got.outputs)
    assert store.unsent() == 1


def test_a_failure_message_is_redacted_and_bounded(store: Any) -> None:
    job = store.create(new_id(), OUTPUTS, source_key="k")
    url = "http://s3/x?X-Amz-Signature=abcdef0123456789&X-Amz-Credential=AKIA%2Fsecret"
    assert store.fail(job.id, "source_unavailable", f"GET {url} failed " + "x" * 2000) is True
    got = store.get(job.id)
    assert got.error_code == "source_unavailable"
    assert "abcdef0123456789" not in got.error_message and "AKIA" not in got.error_message
    assert "[redacted]" in got.error_message and len(got.error_message) == 1000


def test_an_idempotency_key_returns_its_job_and_refuses_another_request(store: Any) -> None:
    owner = tenant()
    first = store.create(new_id(), OUTPUTS, source_key="k", idempotency=("key-1", "hash-a"), tenant=owner)
    again = store.create(new_id(), OUTPUTS, source_key="k", idempotency=("key-1", "hash-a"), tenant=owner)
    assert again.replayed and again.id == first.id
    with pytest.raises(IdempotencyKeyReused):
        store.create(new_id(), OUTPUTS, source_key="k", idempotency=("key-1", "hash-b"), tenant=owner)
    other = store.create(new_id(), OUTPUTS, source_key="k", idempotency=("key-1", "hash-b"), tenant=tenant())
    assert other.id != first.id and not other.replayed


def test_notification_and_deliveries_are_recorded(store: Any) -> None:
    job = store.create(new_id(), OUTPUTS, source_key="k")
    url = f"http://hooks.example/{uuid.uuid4().hex}"
    one, two, three = (f"msg_{uuid.uuid4().hex}" for _ in range(3))
    store.record_delivery(job.id, one, url, 1, 503, None, 12)
    store.record_delivery(job.id, one, url, 2, None, "ConnectError: Bearer abcdefgh12345", 30)
    store.record_delivery(job.id, two, url, 1, 200, None, 5)
    assert store.delivery_attempts(one) == 2 and store.delivery_attempts(three) == 0
    listed = store.deliveries(job.id)
    assert [(d["message_id"], d["attempt"], d["status_code"]) for d in listed] == [
        (one, 1, 503),
        (one, 2, None),
        (two, 1, 200),
    ]
    assert "abcdefgh12345" not in listed[1]["error"]
    assert {"id", "url", "duration_ms", "created_at"} <= set(listed[0])
    assert store.endpoint_disabled(url) is False
    store.disable_endpoint(url, "answered 410")
    store.disable_endpoint(url, "again")
    assert store.endpoint_disabled(url) is True
    store.record_notification(job.id, 200, None)
    got = store.get(job.id)
    assert (got.webhook_status, got.webhook_error, "notify" in got.steps_done) == (200, None, True)


def test_dead_letters_wait_until_replayed_or_dismissed(store: Any) -> None:
    store.purge_dead_letters()
    job_id = new_id()
    for task in ("pixelflow.validate", "pixelflow.upload", "pixelflow.notify"):
        store.record_dead_letter(job_id, task, "rejected", 1, {"task": task})
    letters = store.dead_letters()
    assert [x["task"] for x in letters] == ["pixelflow.notify", "pixelflow.upload", "pixelflow.validate"]
    newest, middle, oldest = (x["id"] for x in letters)
    assert store.dead_letter(oldest)["message"] == {"task": "pixelflow.validate"}
    store.mark_replayed(oldest)
    assert store.dismiss_dead_letter(middle, "the client's bucket policy") is True
    assert store.dismiss_dead_letter(middle, "twice") is False
    assert store.dismiss_dead_letter(oldest, "already replayed") is False
    assert [x["id"] for x in store.dead_letters()] == [newest]
    settled = {x["id"]: x for x in store.dead_letters(include_settled=True)}
    assert settled[middle]["dismissed_why"] == "the client's bucket policy" and settled[oldest]["replayed_at"]
    assert store.dead_letter(10**12) is None
    assert store.purge_dead_letters() == 3 and store.dead_letters(include_settled=True) == []


def ended_job(store: Any, owner: str, source_key: str = "k") -> Job:
    job = store.create(new_id(), OUTPUTS, source_key=source_key, tenant=owner)
    store.start(job.id)
    store.stage_outputs(
        job.id, [Output(o, f"results/{owner}/{job.id}/{o.name}", None, 1, 1, 100, o.format) for o in OUTPUTS]
    )
    store.succeed(job.id, {o.name: f"results/{owner}/{job.id}/{o.name}" for o in OUTPUTS})
    got = store.get(job.id)
    assert got is not None and got.status == JobStatus.SUCCEEDED
    return got  # type: ignore[no-any-return]


def test_a_purge_is_recorded_once_and_only_for_an_ended_job_and_counted_in_usage(store: Any) -> None:
    owner = tenant()
    since = datetime.now(UTC) - timedelta(minutes=1)
    running = store.create(new_id(), OUTPUTS, source_key="k", tenant=owner)
    assert store.purge(running.id, 3, 300, "request") is False
    job = ended_job(store, owner)
    assert store.purge(job.id, 3, 200, "request") is True
    assert store.purge(job.id, 3, 200, "request") is False
    got = store.get(job.id)
    assert got.purged_at is not None and got.status == JobStatus.SUCCEEDED  # the record stays
    usage = store.usage(owner, since, datetime.now(UTC) + timedelta(minutes=1))
    assert (usage["jobs"], usage["jobs_purged"], usage["bytes_purged"]) == (1, 1, 200)
    failed = store.create(new_id(), OUTPUTS, source_key="k", tenant=owner)
    store.fail(failed.id, "corrupt_image", "bad")
    assert store.purge(failed.id, 1, 0, "retention") is True
    assert store.retry(failed.id) is False  # its images are gone: nothing to run again from


def test_expired_jobs_are_the_ended_ones_not_purged_oldest_first(store: Any) -> None:
    owner = tenant()
    first, second = ended_job(store, owner), ended_job(store, owner)
    store.create(new_id(), OUTPUTS, source_key="k", tenant=owner)  # queued: never expired
    mine = [j.id for j in store.expired(0, 10_000) if j.tenant == owner]
    assert mine == [first.id, second.id]
    assert not [j for j in store.expired(3600, 10_000) if j.tenant == owner]
    store.purge(first.id, 0, 0, "retention")
    assert [j.id for j in store.expired(0, 10_000) if j.tenant == owner] == [second.id]


def test_an_upload_is_in_use_while_a_job_that_keeps_its_images_names_it(store: Any) -> None:
    owner = tenant()
    shared, alone = f"uploads/{owner}/1/a.jpg", f"uploads/{owner}/2/b.jpg"
    one, two = ended_job(store, owner, shared), ended_job(store, owner, shared)
    assert store.sources_in_use([shared, alone, f"uploads/{owner}/3/never.jpg"]) == {shared}
    assert store.sources_in_use([shared], besides=one.id) == {shared}
    store.purge(two.id, 0, 0, "request")
    assert store.sources_in_use([shared], besides=one.id) == set()
    assert store.sources_in_use([]) == set()


def test_a_tenant_sees_only_the_dead_letters_of_its_own_jobs(store: Any) -> None:
    mine, theirs = tenant(), tenant()
    job = store.create(new_id(), OUTPUTS, source_key="k", tenant=mine)
    other = store.create(new_id(), OUTPUTS, source_key="k", tenant=theirs)
    store.record_dead_letter(job.id, "pixelflow.upload", "rejected", 1, {})
    store.record_dead_letter(other.id, "pixelflow.upload", "rejected", 1, {})
    store.record_dead_letter(None, "pixelflow.fetch", "rejected", 1, {})
    assert [x["job_id"] for x in store.dead_letters(tenant=mine)] == [job.id]
    assert [x["job_id"] for x in store.dead_letters(tenant=theirs)] == [other.id]
