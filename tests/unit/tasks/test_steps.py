"""Every step on the in-memory ports (core/memory.py): no PostgreSQL, no S3, no broker, no worker.

A webhook test talks to a real HTTP server on 127.0.0.1 in a thread, and its
signature is checked with the Standard Webhooks library.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from config import Settings, get_settings
from core.errors import (
    CorruptImage,
    ImageTooLarge,
    InvariantBroken,
    SourceNotFound,
    SourceTooLarge,
    StorageUnavailable,
    UnsupportedFormat,
    WatermarkNotFound,
    WebhookRejected,
    WebhookUnavailable,
)
from core.ids import new_id
from core.memory import MemoryJobs, MemoryObjectStore, MemorySecrets
from core.model import BatchItem, JobStatus
from core.ports import Services
from core.spec import OutputSpec, manifest_key, result_key, upload_prefix
from tasks.steps import fetch, finish, holding_sources, notify, transform, upload, validate
from tests import images

TENANT = "tenant-steps"
SECRET = "whsec_" + "c2VjcmV0LWZvci10aGUtc3RlcHMtdW5pdC10ZXN0cw=="
OUTPUTS = [OutputSpec("thumb", "webp", 64), OutputSpec("large", "jpeg", 200)]


@pytest.fixture()
def svc() -> Services:
    get_settings.cache_clear()
    return Services(get_settings(), MemoryJobs(), MemoryObjectStore(), MemorySecrets({TENANT: [SECRET]}))


def uploaded(svc: Services, data: bytes, name: str = "a.jpg", content_type: str = "image/jpeg") -> str:
    key = f"{upload_prefix(TENANT)}{uuid.uuid4().hex}/{name}"
    svc.store.put(key, data, content_type)
    return key


def new_job(svc: Services, data: bytes | None = None, outputs: list[OutputSpec] = OUTPUTS, **fields: Any) -> uuid.UUID:
    key = uploaded(svc, images.jpeg(320, 240) if data is None else data)
    return svc.jobs.create(new_id(), outputs, source_key=key, tenant=TENANT, **fields).id


def run_chain(svc: Services, job_id: uuid.UUID) -> list[bool]:
    return [step(svc, job_id) for step in (fetch, validate, transform, upload, notify)]


def requests_by(store: Any, since: int) -> dict[str, int]:
    made: dict[str, int] = {}
    for call in store.calls[since:]:
        made[call] = made.get(call, 0) + 1
    return made


def test_a_job_goes_through_every_step_and_each_costs_its_object_requests(svc: Services) -> None:
    job_id = new_job(svc)
    store = svc.store
    assert isinstance(store, MemoryObjectStore)
    counted = []
    for step in (fetch, validate, transform, upload, notify):
        before = len(store.calls)
        assert step(svc, job_id) is True
        counted.append(requests_by(store, before))
    # fetch: a HEAD; validate: one (ranged) GET; transform: the source, then each output written once, at its
    # final key; upload: nothing to copy or remove; notify without a webhook: nothing.
    assert counted == [{"head": 1}, {"get": 1}, {"get": 1, "put": 2}, {}, {}]
    job = svc.jobs.get(job_id)
    assert job is not None and job.status == JobStatus.SUCCEEDED
    assert job.steps_done == ("fetch", "validate", "transform", "upload", "notify")
    assert (job.source_format, job.source_width, job.source_height) == ("jpeg", 320, 240)
    assert (job.webhook_status, job.webhook_error, job.notified_at is not None) == (None, None, True)
    for output in job.outputs:
        assert output.key == result_key(TENANT, job_id, output.spec.name, output.spec.format)
        data, content_type, cache = store.objects[output.key]
        assert images.open_image(data).width == output.width == output.spec.width
        assert content_type == f"image/{output.spec.format}" and cache and "immutable" in cache
        assert output.bytes == len(data)


def test_steps_run_in_one_message_read_the_source_once(svc: Services) -> None:
    # Inline (StepTask.run_step): fetch's GET serves validate and transform. A large source, so that validate
    # alone would read only its header.
    job_id = new_job(
        svc, images.jpeg(900, 700) + bytes(300 * 1024)
    )  # trailing bytes past the JPEG's end: larger than the header
    store = svc.store
    assert isinstance(store, MemoryObjectStore)
    counted = []
    with holding_sources(True):
        for step in (fetch, validate, transform, upload, notify):
            before = len(store.calls)
            assert step(svc, job_id) is True
            counted.append(requests_by(store, before))
    assert counted == [{"read": 1}, {}, {"put": 2}, {}, {}]
    job = svc.jobs.get(job_id)
    assert job is not None and job.status == JobStatus.SUCCEEDED and job.source_width == 900
    # Not held once the message is over: the next read goes to storage again.
    again = new_job(svc)
    fetch(svc, again)
    before = len(store.calls)
    validate(svc, again)
    assert requests_by(store, before) == {"get": 1}


def test_fetch_reading_for_the_steps_after_it_still_refuses_what_its_head_refused(svc: Services) -> None:
    small = Services(svc.settings.model_copy(update={"max_source_bytes": 100}), svc.jobs, svc.store, svc.secrets)
    pdf = svc.jobs.create(
        new_id(), OUTPUTS, source_key=uploaded(svc, b"%PDF-1.7", "d.pdf", "application/pdf"), tenant=TENANT
    ).id
    with holding_sources(True):
        with pytest.raises(SourceTooLarge, match="limit is 100"):
            fetch(small, new_job(small))
        with pytest.raises(UnsupportedFormat, match="stored as 'application/pdf'"):
            fetch(svc, pdf)
        gone = svc.jobs.create(new_id(), OUTPUTS, source_key=f"{upload_prefix(TENANT)}gone.jpg", tenant=TENANT).id
        with pytest.raises(SourceNotFound, match="nothing was uploaded at"):
            fetch(svc, gone)


def test_a_step_run_again_finds_its_effect_in_the_ledger_and_does_no_work(svc: Services) -> None:
    job_id = new_job(svc)
    run_chain(svc, job_id)
    store = svc.store
    assert isinstance(store, MemoryObjectStore)
    before = len(store.calls)
    assert [validate(svc, job_id), transform(svc, job_id)] == [False, False]  # the job has ended
    assert upload(svc, job_id) is True and notify(svc, job_id) is True  # done: the chain goes on, harmlessly
    assert store.calls[before:] == []


def test_a_canceled_job_stops_at_the_next_step_and_its_written_outputs_are_removed(svc: Services) -> None:
    job_id = new_job(svc)
    assert fetch(svc, job_id) and validate(svc, job_id) and transform(svc, job_id)
    assert svc.jobs.cancel(job_id)
    assert upload(svc, job_id) is False
    store = svc.store
    assert isinstance(store, MemoryObjectStore)
    assert not [k for k in store.objects if k.startswith("results/")]
    assert notify(svc, job_id) is True
    job = svc.jobs.get(job_id)
    assert job is not None and job.status == JobStatus.CANCELED and "notify" in job.steps_done


def test_fetch_never_reads_another_tenants_upload_whatever_the_job_row_names(svc: Services) -> None:
    # The API refuses such a key and a batch item naming one fails at once; a retried job must not read it either.
    theirs = uploaded(svc, images.jpeg(64, 48))  # exists, under TENANT's prefix
    job_id = svc.jobs.create(new_id(), OUTPUTS, source_key=theirs, tenant="someone-else").id
    store = svc.store
    assert isinstance(store, MemoryObjectStore)
    before = len(store.calls)
    with pytest.raises(SourceNotFound, match="nothing was uploaded at"):
        fetch(svc, job_id)
    assert store.calls[before:] == []  # not even a HEAD


def test_fetch_refuses_a_missing_oversized_or_non_image_upload(svc: Services) -> None:
    # The API accepts a job without asking storage (core/submission.py): fetch's HEAD is the check.
    job_id = svc.jobs.create(new_id(), OUTPUTS, source_key=f"{upload_prefix(TENANT)}gone.jpg", tenant=TENANT).id
    with pytest.raises(SourceNotFound, match="nothing was uploaded at"):
        fetch(svc, job_id)
    small = Services(svc.settings.model_copy(update={"max_source_bytes": 100}), svc.jobs, svc.store, svc.secrets)
    with pytest.raises(SourceTooLarge, match="limit is 100"):
        fetch(small, new_job(small))
    key = uploaded(svc, b"%PDF-1.7", "doc.pdf", "application/pdf")
    pdf = svc.jobs.create(new_id(), OUTPUTS, source_key=key, tenant=TENANT).id
    with pytest.raises(UnsupportedFormat, match="stored as 'application/pdf'"):
        fetch(svc, pdf)
    for stored in ("image/png", "IMAGE/JPEG; charset=binary"):  # any image type: the format is read from the bytes
        assert fetch(
            svc, svc.jobs.create(new_id(), OUTPUTS, source_key=uploaded(svc, b"x", "a", stored), tenant=TENANT).id
        )


def test_validate_reads_the_bytes_not_the_name_and_applies_the_limits(svc: Services) -> None:
    job_id = new_job(svc, b"GIF89a not really an image at all")
    fetch(svc, job_id)
    with pytest.raises(CorruptImage):
        validate(svc, job_id)
    png = new_job(svc, images.png_with_alpha(40, 30))  # stored as "a.jpg", image/jpeg
    fetch(svc, png)
    assert validate(svc, png) is True
    job = svc.jobs.get(png)
    assert job is not None and job.source_format == "png"
    tight = Services(svc.settings.model_copy(update={"max_source_pixels": 1000}), svc.jobs, svc.store, svc.secrets)
    big = new_job(tight)
    fetch(tight, big)
    with pytest.raises(ImageTooLarge):
        validate(tight, big)


def test_transform_needs_its_watermark_image(svc: Services) -> None:
    marked = OutputSpec.from_fields(
        {"name": "m", "format": "png", "width": 50, "watermark": {"image_key": f"{upload_prefix(TENANT)}none.png"}}
    )
    job_id = new_job(svc, outputs=[marked])
    fetch(svc, job_id)
    validate(svc, job_id)
    with pytest.raises(WatermarkNotFound):
        transform(svc, job_id)


def test_a_storage_outage_is_transient_and_a_missing_recorded_output_is_a_bug(svc: Services) -> None:
    store = svc.store
    assert isinstance(store, MemoryObjectStore)
    job_id = new_job(svc)
    store.outage = "connection refused"
    with pytest.raises(StorageUnavailable):
        fetch(svc, job_id)
    store.outage = None
    assert fetch(svc, job_id) and validate(svc, job_id)
    # upload before transform recorded anything: a state the chain rules out.
    with pytest.raises(InvariantBroken, match="never recorded as written"):
        upload(svc, job_id)


class Hook(BaseHTTPRequestHandler):
    answers: list[int]
    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        status = type(self).answers.pop(0) if len(type(self).answers) > 1 else type(self).answers[0]
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def hook() -> Iterator[tuple[str, type[Hook]]]:
    handler = type("RecordingHook", (Hook,), {"answers": [200], "received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    server.shutdown()
    server.server_close()


def test_notify_posts_the_signed_job_document_and_records_the_delivery(
    svc: Services, hook: tuple[str, type[Hook]]
) -> None:
    url, handler = hook
    job_id = new_job(svc, webhook_url=url)
    assert run_chain(svc, job_id) == [True] * 5
    [(headers, body)] = handler.received
    payload = Webhook(SECRET).verify(body, {k.lower(): v for k, v in headers.items()})
    assert payload["type"] == "job.succeeded" and payload["data"]["id"] == str(job_id)
    assert [o["name"] for o in json.loads(body)["data"]["outputs"]] == ["thumb", "large"]
    [delivery] = svc.jobs.deliveries(job_id)
    assert (delivery["attempt"], delivery["status_code"], delivery["error"]) == (1, 200, None)
    job = svc.jobs.get(job_id)
    assert job is not None and job.webhook_status == 200 and "notify" in job.steps_done


def test_notify_retries_a_5xx_ends_on_a_4xx_and_a_410_disables_the_endpoint(
    svc: Services, hook: tuple[str, type[Hook]]
) -> None:
    url, handler = hook
    handler.answers = [503, 410]
    job_id = new_job(svc, webhook_url=url)
    assert svc.jobs.start(job_id) and svc.jobs.fail(job_id, "corrupt_image", "bad")
    with pytest.raises(WebhookUnavailable, match="503"):
        notify(svc, job_id)
    with pytest.raises(WebhookRejected, match="410"):
        notify(svc, job_id)
    assert [(d["attempt"], d["status_code"]) for d in svc.jobs.deliveries(job_id)] == [(1, 503), (2, 410)]
    job = svc.jobs.get(job_id)
    assert job is not None and (job.webhook_status, job.webhook_error) == (410, "answered 410")
    assert json.loads(handler.received[0][1])["type"] == "job.failed"
    # The next job to that endpoint is not sent at all.
    other = new_job(svc, webhook_url=url)
    assert svc.jobs.start(other) and svc.jobs.cancel(other)
    assert notify(svc, other) is True and len(handler.received) == 2
    assert svc.jobs.deliveries(other)[0]["error"] == "endpoint disabled (it answered 410)"


def test_the_operators_secrets_sign_for_a_tenant_without_its_own(svc: Services, hook: tuple[str, type[Hook]]) -> None:
    url, handler = hook
    operator = svc.settings.webhook_secrets[0]
    alone = Services(svc.settings, svc.jobs, svc.store, MemorySecrets())
    job_id = new_job(alone, webhook_url=url)
    assert run_chain(alone, job_id)[-1] is True
    [(headers, body)] = handler.received
    Webhook(operator).verify(body, {k.lower(): v for k, v in headers.items()})


def test_settings_are_those_of_the_test_run(svc: Services) -> None:
    # The webhook tests above lean on these: 127.0.0.1 is allowed, and the operator has a signing secret.
    assert isinstance(svc.settings, Settings)
    assert "127.0.0.1" in svc.settings.fetch_allow and svc.settings.webhook_secrets


def new_batch(svc: Services, n: int, **fields: Any) -> tuple[uuid.UUID, list[uuid.UUID]]:
    batch_items = [BatchItem(source_key=uploaded(svc, images.jpeg(160, 120))) for _ in range(n)]
    job_ids = sorted(new_id() for _ in batch_items)
    batch = svc.jobs.create_batch(new_id(), job_ids, batch_items, OUTPUTS, TENANT, **fields)
    return batch.id, job_ids


def test_finish_writes_the_manifest_then_sends_batch_completed_once(
    svc: Services, hook: tuple[str, type[Hook]]
) -> None:
    url, handler = hook
    batch_id, (a, b, c) = new_batch(svc, 3, webhook_url=url)
    assert run_chain(svc, a) == [True] * 5
    assert finish(svc, batch_id) is False and svc.store.list("results/tenant-steps/batches/") == []  # b, c queued
    assert svc.jobs.start(b) and svc.jobs.fail(b, "corrupt_image", "not an image")
    assert svc.jobs.cancel(c)
    assert finish(svc, batch_id) is True
    [(headers, body)] = handler.received
    payload = Webhook(SECRET).verify(body, {k.lower(): v for k, v in headers.items()})
    assert payload["type"] == "batch.completed"
    data = payload["data"]
    assert (data["id"], data["status"], data["counts"]["succeeded"]) == (str(batch_id), "partially_failed", 1)
    key = manifest_key(TENANT, batch_id)
    assert data["manifest_url"] and svc.store.head(key).content_type == "application/jsonl"
    lines = [json.loads(line) for line in svc.store.get(key).splitlines()]
    assert [(x["item"], x["job_id"], x["status"]) for x in lines] == [
        (0, str(a), "succeeded"),
        (1, str(b), "failed"),
        (2, str(c), "canceled"),
    ]
    job = svc.jobs.get(a)
    assert job is not None and [o["key"] for o in lines[0]["outputs"]] == [o.key for o in job.outputs]
    assert all(o["bytes"] > 0 for o in lines[0]["outputs"])
    assert lines[1]["error"] == {"code": "corrupt_image", "message": "not an image"}
    assert [o["key"] for o in lines[1]["outputs"]] == [None, None]
    batch = svc.jobs.get_batch(batch_id)
    assert batch is not None and batch.manifest_key == key and batch.webhook_status == 200
    assert finish(svc, batch_id) is True and len(handler.received) == 1  # told: not again
    assert [d["status_code"] for d in svc.jobs.deliveries(batch_id=batch_id)] == [200]


def test_finish_retries_the_webhook_under_one_id_and_keeps_the_manifest(
    svc: Services, hook: tuple[str, type[Hook]]
) -> None:
    url, handler = hook
    handler.answers = [503, 200]
    batch_id, [job_id] = new_batch(svc, 1, webhook_url=url)
    assert svc.jobs.start(job_id) and svc.jobs.fail(job_id, "corrupt_image", "bad")
    with pytest.raises(WebhookUnavailable, match="503"):
        finish(svc, batch_id)
    batch = svc.jobs.get_batch(batch_id)
    assert batch is not None and batch.finished_at is not None and batch.notified_at is None
    store = svc.store
    assert isinstance(store, MemoryObjectStore)
    writes = store.calls.count("put")
    assert finish(svc, batch_id) is True
    assert store.calls.count("put") == writes  # the manifest is not written again
    first, second = ({k.lower(): v for k, v in h.items()}["webhook-id"] for h, _ in handler.received)
    assert first == second
    assert json.loads(handler.received[1][1])["data"]["status"] == "failed"
    assert [d["attempt"] for d in svc.jobs.deliveries(batch_id=batch_id)] == [1, 2]


def test_finish_without_a_webhook_records_the_ending_as_told(svc: Services) -> None:
    batch_id, [job_id] = new_batch(svc, 1)
    assert run_chain(svc, job_id) == [True] * 5
    assert finish(svc, batch_id) is True
    batch = svc.jobs.get_batch(batch_id)
    assert batch is not None and batch.notified_at is not None and batch.webhook_status is None
    assert svc.jobs.deliveries(batch_id=batch_id) == []
