"""Purge and retention (core/purge.py) on the in-memory ports: what goes, what stays, what it costs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import JobNotEnded
from core.ids import new_id
from core.memory import MemoryJobs, MemoryObjectStore
from core.model import BatchItem, Job, Output
from core.purge import expire_batches, expire_jobs, expire_uploads, purge_batch, purge_job
from core.spec import OutputSpec, staged_source_key

OUTPUTS = [OutputSpec("small", "webp", 64), OutputSpec("big", "png", 128)]
TENANT = "tenant-purge"


def finished(jobs: MemoryJobs, store: MemoryObjectStore, source_key: str | None, url: str | None = None) -> Job:
    job = jobs.create(new_id(), OUTPUTS, source_key=source_key, source_url=url, tenant=TENANT)
    jobs.start(job.id)
    written = [
        Output(o, f"results/{TENANT}/{job.id}/{o.name}", None, 1, 1, 10 * (i + 1), o.format)
        for i, o in enumerate(OUTPUTS)
    ]
    for output in written:
        assert output.staged_key is not None
        store.put(output.staged_key, b"x" * (output.bytes or 0), "image/webp")
    if url:
        store.put(staged_source_key(job.id), b"fetched", "application/octet-stream")
    jobs.stage_outputs(job.id, written)
    jobs.succeed(job.id, {o.spec.name: o.staged_key or "" for o in written})
    got = jobs.get(job.id)
    assert got is not None
    return got


def test_a_purge_deletes_outputs_and_the_unshared_upload_in_one_request_and_counts_it() -> None:
    jobs, store = MemoryJobs(), MemoryObjectStore()
    upload = f"uploads/{TENANT}/1/a.jpg"
    store.put(upload, b"source", "image/jpeg")
    job = finished(jobs, store, upload)
    store.calls.clear()
    purged = purge_job(job, jobs, store)
    assert purged.purged_at is not None and store.calls == ["delete"]
    assert store.objects == {}
    since = datetime.now(UTC) - timedelta(minutes=1)
    usage = jobs.usage(TENANT, since, datetime.now(UTC) + timedelta(minutes=1))
    assert (usage["jobs_purged"], usage["bytes_purged"]) == (1, 30)
    store.calls.clear()
    assert purge_job(purged, jobs, store) is purged and store.calls == []  # again: nothing to do


def test_an_upload_another_job_keeps_stays_and_a_url_jobs_staged_source_goes() -> None:
    jobs, store = MemoryJobs(), MemoryObjectStore()
    upload = f"uploads/{TENANT}/1/a.jpg"
    store.put(upload, b"source", "image/jpeg")
    first, second = finished(jobs, store, upload), finished(jobs, store, upload)
    purge_job(first, jobs, store)
    assert upload in store.objects
    purge_job(second, jobs, store)
    assert upload not in store.objects
    fetched = finished(jobs, store, None, "https://example.com/a.jpg")
    assert staged_source_key(fetched.id) in store.objects
    purge_job(fetched, jobs, store)
    assert store.objects == {}


def test_a_job_still_running_is_not_purged() -> None:
    jobs, store = MemoryJobs(), MemoryObjectStore()
    job = jobs.create(new_id(), OUTPUTS, source_key="k", tenant=TENANT)
    with pytest.raises(JobNotEnded, match="cancel it first"):
        purge_job(job, jobs, store)


def test_retention_purges_a_bounded_batch_of_the_oldest_ended_jobs() -> None:
    jobs, store = MemoryJobs(), MemoryObjectStore()
    ended = [finished(jobs, store, None) for _ in range(3)]
    assert expire_jobs(jobs, store, timedelta(hours=1), 10) == 0  # none is an hour old
    assert expire_jobs(jobs, store, timedelta(0), 2) == 2
    assert [jobs.get(j.id).purged_at is not None for j in ended] == [True, True, False]
    assert expire_jobs(jobs, store, timedelta(0), 2) == 1


def test_retention_deletes_old_uploads_no_kept_job_uses_a_page_at_a_time() -> None:
    jobs, store = MemoryJobs(), MemoryObjectStore()
    old = datetime.now(UTC) - timedelta(days=10)
    for name in ("a", "b", "c", "d"):
        store.put(f"uploads/{TENANT}/{name}.jpg", b"x", "image/jpeg")
        store.modified[f"uploads/{TENANT}/{name}.jpg"] = old
    store.put(f"uploads/{TENANT}/e.jpg", b"x", "image/jpeg")  # new: stays
    jobs.create(new_id(), OUTPUTS, source_key=f"uploads/{TENANT}/b.jpg", tenant=TENANT)  # in use: stays
    cutoff = datetime.now(UTC) - timedelta(days=1)
    deleted, after = expire_uploads(jobs, store, cutoff, "", 2)
    assert (deleted, after) == (1, f"uploads/{TENANT}/b.jpg")  # a; b is in use
    deleted, after = expire_uploads(jobs, store, cutoff, after, 2)
    assert (deleted, after) == (2, f"uploads/{TENANT}/d.jpg")
    deleted, after = expire_uploads(jobs, store, cutoff, after, 2)
    assert (deleted, after) == (0, "")  # the last page: the next sweep starts over
    assert sorted(store.objects) == [f"uploads/{TENANT}/b.jpg", f"uploads/{TENANT}/e.jpg"]


def test_purging_a_batch_keeps_another_tenant_s_upload_that_an_item_named() -> None:
    jobs, store = MemoryJobs(), MemoryObjectStore()
    theirs = "uploads/someone-else/1/a.jpg"
    store.put(theirs, b"not yours", "image/jpeg")
    refused = BatchItem(source_key=theirs, error=("source_not_found", f"nothing was uploaded at {theirs!r}"))
    batch = jobs.create_batch(new_id(), [new_id()], [refused], OUTPUTS, TENANT)
    purged = purge_batch(batch, jobs, store)
    assert purged.purged_at is not None
    assert store.get(theirs) == b"not yours"


def test_retention_purges_finished_batches_with_their_manifests_and_leaves_open_ones() -> None:
    jobs, store = MemoryJobs(), MemoryObjectStore()
    refused = BatchItem(source_key="uploads/x/1/a.jpg", error=("source_not_found", "nothing was uploaded there"))
    done = jobs.create_batch(new_id(), [new_id()], [refused], OUTPUTS, TENANT)
    manifest = f"results/{TENANT}/batches/{done.id}/manifest.jsonl"
    store.put(manifest, b"{}\n", "application/jsonl")
    assert jobs.finish_batch(done.id, manifest)
    running = jobs.create_batch(
        new_id(), [new_id()], [BatchItem(source_key=f"uploads/{TENANT}/1/b.jpg")], OUTPUTS, TENANT
    )
    assert expire_batches(jobs, store, timedelta(hours=1), 10) == 0  # finished just now
    assert expire_batches(jobs, store, timedelta(0), 10) == 1
    assert jobs.get_batch(done.id).purged_at is not None and manifest not in store.objects
    assert jobs.get_batch(running.id).purged_at is None  # not finished: the retention waits for its end
    assert expire_batches(jobs, store, timedelta(0), 10) == 0
