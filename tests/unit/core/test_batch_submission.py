"""The batch rules (core/submission.py submit_batch) on the in-memory ports: what refuses a batch, what refuses
one item only, and what a batch is made of."""

from __future__ import annotations

from typing import Any

import pytest

from config import Settings, get_settings
from core.errors import InvalidRequest, SourceForbidden, WatermarkNotFound
from core.ids import new_id
from core.memory import MemoryJobs
from core.model import BatchItem, BatchStatus, JobStatus
from core.spec import OutputSpec, Watermark, upload_prefix
from core.submission import BatchRequest, submit_batch

TENANT = "tenant-batch"
PRESETS = {"pair": [OutputSpec("p-small", "webp", 100), OutputSpec("p-big", "jpeg", 400)]}


@pytest.fixture()
def ports() -> tuple[Settings, MemoryJobs]:
    get_settings.cache_clear()
    return get_settings().model_copy(update={"batch_max_items": 5}), MemoryJobs()


def key(name: str, tenant: str = TENANT) -> str:
    return f"{upload_prefix(tenant)}0001/{name}"


def submit(ports: tuple[Settings, MemoryJobs], items: list[BatchItem], **fields: Any) -> Any:
    settings, jobs = ports
    request = BatchRequest(items=items, **({"presets": ["pair"]} | fields))
    return submit_batch(TENANT, request, settings, PRESETS, jobs, new_id())


def test_a_batch_is_a_job_per_item_with_every_output_in_item_order(ports: Any) -> None:
    _, jobs = ports
    names = ["a.jpg", "b.jpg", "a.jpg"]  # duplicates are allowed: two jobs
    batch = submit(ports, [BatchItem(source_key=key(n)) for n in names], outputs=[OutputSpec("own", "png", 10)])
    assert (batch.items, batch.status) == (3, BatchStatus.QUEUED)
    made = jobs.batch_jobs(batch.id)
    assert [j.source_key for j in made] == [key(n) for n in names]
    assert [o.spec.name for o in made[0].outputs] == ["own", "p-small", "p-big"]
    assert jobs.unsent() == 3


def test_a_source_that_is_not_the_tenants_fails_its_item_alone_and_the_batch_goes_on(ports: Any) -> None:
    _, jobs = ports
    items = [
        BatchItem(source_key=key("mine.jpg")),
        BatchItem(source_key=key("theirs.jpg", "someone-else")),
        BatchItem(source_url="http://169.254.169.254/inside.jpg"),
        BatchItem(source_url="https://93.184.215.14/photo.jpg"),
    ]
    batch = submit(ports, items)
    assert dict(batch.counts) == {"queued": 2, "failed": 2}
    by_source = {j.source_key or j.source_url: j for j in jobs.batch_jobs(batch.id)}
    assert by_source[key("theirs.jpg", "someone-else")].error_code == "source_not_found"
    assert by_source["http://169.254.169.254/inside.jpg"].error_code == "source_forbidden"
    assert by_source[key("mine.jpg")].status == JobStatus.QUEUED
    assert jobs.unsent() == 2  # the refused items are never sent


@pytest.mark.parametrize(
    ("items", "fields", "error", "match"),
    [
        ([], {}, InvalidRequest, "at least one item"),
        ([BatchItem(source_key=key("a.jpg"))] * 6, {}, InvalidRequest, "at most 5 items"),
        ([BatchItem(source_key=key("a.jpg"))], {"presets": []}, InvalidRequest, "ask for outputs"),
        ([BatchItem(source_key=key("a.jpg"))], {"presets": ["nope"]}, InvalidRequest, "unknown preset"),
        ([BatchItem(source_key=key("a.jpg"))], {"webhook_url": "http://10.0.0.1/h"}, SourceForbidden, "webhook_url"),
        (
            [BatchItem(source_key=key("a.jpg"))],
            {"outputs": [OutputSpec("w", "png", 10, watermark=Watermark(image_key=key("m.png", "other")))]},
            WatermarkNotFound,
            "watermark",
        ),
    ],
)
def test_what_refuses_the_whole_batch(ports: Any, items: list[BatchItem], fields: Any, error: Any, match: str) -> None:
    _, jobs = ports
    with pytest.raises(error, match=match):
        submit(ports, items, **fields)
    assert jobs.unsent() == 0 and jobs.list_batches(TENANT) == []
