"""Purge and retention on the real services: DELETE /v1/jobs/{id} through the API and S3, the sweeper in a relay."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from config import Settings
from core.ids import new_id
from core.jobstore import JobStore
from core.model import BatchItem, Output
from core.objectstore import S3ObjectStore
from core.spec import OutputSpec, manifest_key, upload_prefix
from tests import images
from tests.integration import faultkit
from tests.support.api import assert_error, run_job, upload
from tests.support.database import fresh_database, named
from tests.support.stack import Relay, Worker, wait_until

OUTPUTS = [{"name": "small", "format": "webp", "width": 64}, {"name": "big", "format": "png", "width": 160}]


def gone(store: S3ObjectStore, key: str) -> bool:
    try:
        store.head(key)
    except FileNotFoundError:
        return True
    return False


def test_delete_removes_a_jobs_images_keeps_its_record_and_counts_once(
    client: FlaskClient, worker: Worker, settings: Settings
) -> None:
    store = S3ObjectStore(settings)
    key = upload(client, images.jpeg(320, 240))
    job = run_job(client, {"source": {"key": key}, "outputs": OUTPUTS})
    assert job["status"] == "succeeded", job["error"]
    results = [o["key"] for o in job["outputs"]]
    assert not any(gone(store, k) for k in [*results, key])
    purged = client.delete(f"/v1/jobs/{job['id']}")
    assert purged.status_code == 200, purged.json
    doc = purged.json
    assert doc["purged_at"] and doc["status"] == "succeeded" and doc["finished_at"] == job["finished_at"]
    assert [(o["key"], o["bytes"], o["url"]) for o in doc["outputs"]] == [
        (o["key"], o["bytes"], None) for o in job["outputs"]
    ]
    assert all(gone(store, k) for k in [*results, key])
    again = client.delete(f"/v1/jobs/{job['id']}")
    assert again.status_code == 200 and again.json == doc  # a repeat changes nothing
    assert client.get(f"/v1/jobs/{job['id']}").json == doc
    usage = client.get("/v1/usage").json
    assert (usage["jobs"], usage["jobs_purged"]) == (1, 1)
    assert usage["bytes_purged"] == sum(o["bytes"] for o in job["outputs"])
    assert_error(client.post(f"/v1/jobs/{job['id']}/retry"), 409, "conflict")


def test_an_upload_two_jobs_share_goes_with_the_last_of_them(
    client: FlaskClient, worker: Worker, settings: Settings
) -> None:
    store = S3ObjectStore(settings)
    key = upload(client, images.jpeg(200, 150))
    first, second = (run_job(client, {"source": {"key": key}, "outputs": OUTPUTS[:1]}) for _ in range(2))
    assert client.delete(f"/v1/jobs/{first['id']}").status_code == 200
    assert not gone(store, key) and gone(store, first["outputs"][0]["key"])
    assert not gone(store, second["outputs"][0]["key"])
    assert client.delete(f"/v1/jobs/{second['id']}").status_code == 200
    assert gone(store, key)


def test_only_the_tenants_own_ended_job_is_purged(
    client: FlaskClient, stack: faultkit.FaultStack, app: Any, settings: Settings
) -> None:
    # The stack holds the session's relay: the job stays queued.
    from core.keystore import KeyStore
    from tests.integration.conftest import authed

    key = upload(client, images.jpeg(64, 64))
    queued = client.post("/v1/jobs", json={"source": {"key": key}, "outputs": OUTPUTS[:1]}).json
    assert_error(client.delete(f"/v1/jobs/{queued['id']}"), 409, "job_not_ended")
    other = authed(app, KeyStore(app.extensions["pixelflow"].jobs).create(f"other-{secrets.token_hex(4)}", "x")[1])
    assert_error(other.delete(f"/v1/jobs/{queued['id']}"), 404, "not_found")
    assert client.post(f"/v1/jobs/{queued['id']}/cancel").status_code == 200
    purged = client.delete(f"/v1/jobs/{queued['id']}")
    assert purged.status_code == 200 and purged.json["status"] == "canceled" and purged.json["purged_at"]
    assert gone(S3ObjectStore(settings), key)
    assert_error(client.delete(f"/v1/jobs/{uuid.uuid4()}"), 404, "not_found")


@pytest.fixture()
def retention(settings: Settings, s3_server: Any, tmp_path: Path) -> Iterator[tuple[Settings, JobStore]]:
    """A database, a bucket and a queue of the test's own: a retention of seconds touches nothing else."""
    own = secrets.token_hex(4)
    with fresh_database(named(settings.database_url, f"retention_{own}")) as url:
        mine = settings.model_copy(
            update={"database_url": url, "s3_bucket": f"retention-{own}", "queue": f"retention-{own}"}
        )
        S3ObjectStore(mine).ensure_bucket()
        jobs = JobStore(url, 1, 2, "pixelflow-test-retention")
        jobs.open()
        yield mine, jobs
        jobs.close()


def test_the_sweeper_purges_jobs_and_uploads_past_the_retention_period(
    retention: tuple[Settings, JobStore], tmp_path: Path
) -> None:
    settings, jobs = retention
    store = S3ObjectStore(settings)
    tenant = "tenant-retention"
    specs = [OutputSpec("small", "webp", 64)]

    def put(key: str) -> str:
        store.put(key, b"image bytes", "image/webp")
        return key

    used = put(f"{upload_prefix(tenant)}{new_id()}/used.jpg")
    orphan = put(f"{upload_prefix(tenant)}{new_id()}/orphan.jpg")
    ended = jobs.create(new_id(), specs, source_key=used, tenant=tenant)
    jobs.start(ended.id)
    result = put(f"results/{tenant}/{ended.id}/small.webp")
    jobs.stage_outputs(ended.id, [Output(specs[0], result, None, 64, 48, 11, "webp")])
    assert jobs.succeed(ended.id, {"small": result})
    # A finished batch (its one item refused at once) with its manifest: the sweep purges both.
    refused = BatchItem(source_key="uploads/someone-else/x.jpg", error=("source_not_found", "not the tenant's"))
    batch = jobs.create_batch(new_id(), [new_id()], [refused], specs, tenant)
    manifest = put(manifest_key(tenant, batch.id))
    assert jobs.finish_batch(batch.id, manifest)
    pending_source = put(f"{upload_prefix(tenant)}{new_id()}/pending.jpg")
    pending = jobs.create(new_id(), specs, source_key=pending_source, tenant=tenant)  # never ends here
    time.sleep(2.5)  # everything above is now older than the retention period
    relay = Relay(
        tmp_path / "relay.log",
        {
            "PIXELFLOW_DATABASE_URL": settings.database_url,
            "PIXELFLOW_S3_BUCKET": settings.s3_bucket,
            "PIXELFLOW_QUEUE": settings.queue,
            "PIXELFLOW_RETENTION_DAYS": str(2 / 86400),
            "PIXELFLOW_SWEEP_INTERVAL": "1",
        },
    )
    relay.start()
    try:
        wait_until(lambda: jobs.get(ended.id).purged_at is not None, 30, "the sweeper to purge the job")
        wait_until(lambda: gone(store, orphan), 30, "the sweeper to delete the unused upload")
        wait_until(lambda: jobs.get_batch(batch.id).purged_at is not None, 30, "the sweeper to purge the batch")
    finally:
        relay.stop()
    assert gone(store, result) and gone(store, used)
    assert not gone(store, pending_source) and jobs.get(pending.id).purged_at is None
    assert gone(store, manifest)
    assert "retention: 2 jobs purged" in relay.output(), relay.output()[-2000:]  # the job and the batch's item
    assert "retention: 1 batches purged" in relay.output()
