"""Batches over the API: real PostgreSQL, S3, RabbitMQ, the relay and a celery worker."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests import images
from tests.conftest import WEBHOOK_SECRET
from tests.integration.conftest import RecordingServer, Worker, authed, wait_until
from tests.support.api import assert_error, batch_events, posts, upload

OUTPUTS = [{"name": "small", "format": "webp", "width": 48}, {"name": "square", "format": "png", "width": 32,
           "height": 32, "fit": "cover"}]  # fmt: skip


def ended(client: FlaskClient, batch_id: str, timeout: float = 90) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        batch = client.get(f"/v1/batches/{batch_id}?limit=100").json
        counts = batch["counts"]
        return batch if counts["queued"] + counts["processing"] == 0 else None

    return wait_until(done, timeout, f"batch {batch_id} to end", interval=0.3)


def completed(peer: RecordingServer, path: str, n: int = 1, timeout: float = 60) -> list[dict[str, Any]]:
    return batch_events(peer, path, WEBHOOK_SECRET, n, timeout)


def test_an_ended_batch_sends_batch_completed_once_with_its_manifest(
    client: FlaskClient, worker: Worker, http_peer: RecordingServer, tenant: str
) -> None:
    cat = upload(client, images.jpeg(160, 120))
    theirs = f"uploads/someone-else-{tenant}/x.jpg"
    body = {
        "items": [{"source": {"key": cat}}, {"source": {"key": theirs}}, {"source": {"key": cat}}],
        "outputs": OUTPUTS,
        "webhook_url": f"{http_peer.url}/batch",
        "job_webhook_url": f"{http_peer.url}/job",
    }
    created = client.post("/v1/batches", json=body)
    assert created.status_code == 202, created.json
    batch_id = created.json["id"]
    assert created.json["manifest_url"] is None and created.json["notified_at"] is None
    [event] = completed(http_peer, "/batch")
    assert event["type"] == "batch.completed" and event["data"]["id"] == batch_id
    assert event["data"]["status"] == "partially_failed" and event["data"]["counts"]["failed"] == 1
    # Every item's job told its own webhook, the refused one too.
    jobs = wait_until(lambda: len(posts(http_peer, "/job")) >= 3 and posts(http_peer, "/job"), 30, "3 job webhooks")
    assert sorted(json.loads(b)["type"] for *_, b in jobs) == ["job.failed", "job.succeeded", "job.succeeded"]
    # The manifest, from storage through the presigned URL the event carries.
    manifest = httpx.get(event["data"]["manifest_url"], timeout=10)
    assert manifest.status_code == 200, manifest.text
    lines = [json.loads(line) for line in manifest.text.splitlines()]
    batch = client.get(f"/v1/batches/{batch_id}?limit=100").json
    assert [(x["item"], x["job_id"], x["status"]) for x in lines] == [
        (i, j["id"], j["status"]) for i, j in enumerate(batch["jobs"])
    ]
    assert [x["source"] for x in lines] == [{"key": cat}, {"key": theirs}, {"key": cat}]
    assert lines[1]["error"]["code"] == "source_not_found"
    for line, job in zip(lines, batch["jobs"], strict=True):
        assert [(o["key"], o["bytes"]) for o in line["outputs"]] == [(o["key"], o["bytes"]) for o in job["outputs"]]
    assert all(o["key"] and o["bytes"] > 0 for o in lines[0]["outputs"] + lines[2]["outputs"])
    assert batch["notified_at"] and batch["manifest_url"]
    [delivery] = client.get(f"/v1/batches/{batch_id}/deliveries").json["items"]
    assert (delivery["message_id"], delivery["status_code"], delivery["attempt"]) == (event["id"], 200, 1)
    time.sleep(2.5)  # the relay looks for ended batches each second: a told batch is not handed on again
    assert len(posts(http_peer, "/batch")) == 1


def test_a_batch_runs_every_item_as_a_job_of_its_own_and_its_counts_add_up(
    client: FlaskClient, worker: Worker, tenant: str
) -> None:
    cat, dog = upload(client, images.jpeg(160, 120)), upload(client, images.jpeg(90, 120))
    theirs = f"uploads/someone-else-{tenant}/x.jpg"
    body = {
        "items": [
            {"source": {"key": cat}},
            {"source": {"key": dog}, "focal": {"x": 0.2, "y": 0.8}},
            {"source": {"key": cat}},  # duplicates are allowed
            {"source": {"key": theirs}},  # not the tenant's: that item fails, the batch goes on
        ],
        "outputs": OUTPUTS,
    }
    created = client.post("/v1/batches", json=body)
    assert created.status_code == 202, created.json
    batch = created.json
    assert batch["items"] == 4 and batch["status"] in ("queued", "processing")
    assert sum(batch["counts"].values()) == 4 and batch["counts"]["failed"] == 1
    done = ended(client, batch["id"])
    assert done["status"] == "partially_failed"
    assert done["counts"] == {"queued": 0, "processing": 0, "succeeded": 3, "failed": 1, "canceled": 0}
    jobs = done["jobs"]
    assert [j["source"]["key"] for j in jobs] == [cat, dog, cat, theirs]  # item order
    assert {j["batch_id"] for j in jobs} == {batch["id"]}
    assert len({j["id"] for j in jobs}) == 4
    assert jobs[3]["status"] == "failed" and jobs[3]["error"]["code"] == "source_not_found"
    assert all(o["url"] for j in jobs[:3] for o in j["outputs"])
    # Each item is a job: GET /v1/jobs/{id} knows it, and its batch.
    one = client.get(f"/v1/jobs/{jobs[1]['id']}").json
    assert one["batch_id"] == batch["id"] and one["status"] == "succeeded"
    # Pages, in item order, and by state.
    first = client.get(f"/v1/batches/{batch['id']}?limit=3").json
    assert [j["id"] for j in first["jobs"]] == [j["id"] for j in jobs[:3]] and first["next_cursor"] == jobs[2]["id"]
    rest = client.get(f"/v1/batches/{batch['id']}?limit=3&cursor={first['next_cursor']}").json
    assert [j["id"] for j in rest["jobs"]] == [jobs[3]["id"]] and rest["next_cursor"] is None
    failed = client.get(f"/v1/batches/{batch['id']}?status=failed").json["jobs"]
    assert [j["id"] for j in failed] == [jobs[3]["id"]]
    listed = client.get("/v1/batches").json["items"]
    assert [b["id"] for b in listed] == [batch["id"]]


def test_a_batch_whose_items_all_fail_has_failed_and_retry_runs_only_those_again(
    client: FlaskClient, worker: Worker, http_peer: RecordingServer
) -> None:
    broken = upload(client, images.jpeg(64, 48)[:300])  # truncated: corrupt_image when decoded
    body = {"items": [{"source": {"key": broken}}] * 2, "outputs": OUTPUTS[:1], "webhook_url": f"{http_peer.url}/b"}
    created = client.post("/v1/batches", json=body)
    assert created.status_code == 202, created.json
    [first] = completed(http_peer, "/b")
    assert first["data"]["status"] == "failed" and first["data"]["counts"]["failed"] == 2
    done = ended(client, created.json["id"])
    assert done["status"] == "failed" and done["counts"]["failed"] == 2
    retried = client.post(f"/v1/batches/{done['id']}/retry")
    assert retried.status_code == 202, retried.json
    assert retried.json["counts"]["failed"] == 0 and retried.json["counts"]["queued"] == 2
    assert retried.json["manifest_url"] is None and retried.json["finished_at"] is None
    # Ended again: a new event, under a new id.
    _, again = completed(http_peer, "/b", 2)
    assert again["id"] != first["id"] and again["data"]["status"] == "failed"
    assert ended(client, done["id"])["counts"]["failed"] == 2
    assert_error(client.delete(f"/v1/batches/{done['id']}/cancel"), 405, "method_not_allowed")


def test_cancel_ends_what_has_not_run_and_a_canceled_batch_can_be_purged(
    client: FlaskClient, worker: Worker, http_peer: RecordingServer
) -> None:
    key = upload(client, images.jpeg(64, 48))
    body = {"items": [{"source": {"key": key}}] * 60, "outputs": OUTPUTS[:1], "webhook_url": f"{http_peer.url}/c"}
    created = client.post("/v1/batches", json=body)
    assert created.status_code == 202, created.json
    batch_id = created.json["id"]
    canceled = client.post(f"/v1/batches/{batch_id}/cancel")
    assert canceled.status_code == 200, canceled.json
    assert canceled.json["status"] == "canceled" and canceled.json["counts"]["canceled"] >= 1
    done = ended(client, batch_id)
    assert done["status"] == "canceled" and sum(done["counts"].values()) == 60
    [event] = completed(http_peer, "/c")
    assert event["data"]["status"] == "canceled" and sum(event["data"]["counts"].values()) == 60
    assert_error(client.post(f"/v1/batches/{batch_id}/cancel"), 409, "conflict")
    purged = client.delete(f"/v1/batches/{batch_id}")
    assert purged.status_code == 200, purged.json
    assert purged.json["purged_at"] and purged.json["manifest_url"] is None
    jobs = client.get(f"/v1/batches/{batch_id}?limit=100").json["jobs"]
    assert all(j["purged_at"] for j in jobs)
    assert all(o["url"] is None for j in jobs for o in j["outputs"])
    assert client.delete(f"/v1/batches/{batch_id}").json["purged_at"] == purged.json["purged_at"]


def test_a_running_batch_is_not_purged_and_nothing_is_retried_when_nothing_failed(client: FlaskClient) -> None:
    key = upload(client, images.jpeg(64, 48))
    created = client.post("/v1/batches", json={"items": [{"source": {"key": key}}], "outputs": OUTPUTS[:1]})
    batch_id = created.json["id"]
    assert_error(client.delete(f"/v1/batches/{batch_id}"), 409, "job_not_ended")
    assert_error(client.post(f"/v1/batches/{batch_id}/retry"), 409, "conflict")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [], "presets": ["thumbnails"]}, "items"),
        ({"items": [{"source": {"key": "k"}}]}, "outputs"),
        ({"items": [{"source": {}}], "presets": ["thumbnails"]}, "items"),
        ({"items": [{"source": {"key": "k"}, "focal": {"x": 2, "y": 0}}], "presets": ["thumbnails"]}, "items"),
    ],
)
def test_a_batch_that_is_wrong_as_a_whole_is_refused(client: FlaskClient, body: dict[str, Any], field: str) -> None:
    refused = assert_error(client.post("/v1/batches", json=body), 422, "validation_error")
    assert field in refused["errors"]


def test_too_many_items_are_refused_naming_the_limit(client: FlaskClient, app: Flask) -> None:
    limit = app.extensions["pixelflow"].settings.batch_max_items
    body = {"items": [{"source": {"key": "uploads/x/a.jpg"}}] * (limit + 1), "presets": ["thumbnails"]}
    refused = assert_error(client.post("/v1/batches", json=body), 422, "validation_error")
    assert f"at most {limit} items" in refused["message"]


def test_an_idempotency_key_returns_the_same_batch(client: FlaskClient) -> None:
    key = upload(client, images.jpeg(64, 48))
    body = {"items": [{"source": {"key": key}}] * 3, "outputs": OUTPUTS[:1]}
    first = client.post("/v1/batches", json=body, headers={"Idempotency-Key": "import-42"})
    again = client.post("/v1/batches", json=body, headers={"Idempotency-Key": "import-42"})
    assert first.status_code == again.status_code == 202
    assert again.json["id"] == first.json["id"] and again.headers["Idempotent-Replayed"] == "true"
    other = client.post(
        "/v1/batches", json={**body, "presets": ["thumbnails"]}, headers={"Idempotency-Key": "import-42"}
    )
    assert_error(other, 422, "idempotency_key_reused")
    assert len(client.get("/v1/batches").json["items"]) == 1


def test_a_batch_is_its_tenants_and_read_keys_cannot_make_one(client: FlaskClient, app: Flask) -> None:
    from core.keystore import KeyStore

    key = upload(client, images.jpeg(64, 48))
    batch_id = client.post("/v1/batches", json={"items": [{"source": {"key": key}}], "outputs": OUTPUTS[:1]}).json["id"]
    keys = KeyStore(app.extensions["pixelflow"].jobs)
    stranger = authed(app, keys.create("someone-else", "tests")[1])
    for call in (stranger.get, stranger.delete):
        assert_error(call(f"/v1/batches/{batch_id}"), 404, "not_found")
    assert_error(stranger.post(f"/v1/batches/{batch_id}/cancel"), 404, "not_found")
    assert stranger.get("/v1/batches").json["items"] == []
    reader = authed(app, keys.create("someone-else", "tests", "read")[1])
    body = {"items": [{"source": {"key": key}}], "outputs": OUTPUTS[:1]}
    assert_error(reader.post("/v1/batches", json=body), 403, "forbidden")


def test_a_batch_counts_its_items_against_the_rate_limit(client: FlaskClient, app: Flask) -> None:
    settings = app.extensions["pixelflow"].settings
    assert settings.rate_limit_batch_items == "10000/minute"
    body = {"items": [{"source": {"key": "uploads/x/a.jpg"}}] * 6000, "presets": ["thumbnails"]}
    first = client.post("/v1/batches", json=body)
    assert first.status_code == 202, first.json
    assert int(first.headers["X-RateLimit-Remaining"]) == 4000
    assert_error(client.post("/v1/batches", json=body), 429, "rate_limited")


def test_a_big_batch_waits_in_the_outbox_so_another_tenants_job_is_not_stuck_behind_it(
    client: FlaskClient, app: Flask, worker: Worker, settings: Any
) -> None:
    from core.keystore import KeyStore
    from tasks import app as celery
    from tasks.topology import transform_queue

    key = upload(client, images.jpeg(64, 48))
    created = client.post("/v1/batches", json={"items": [{"source": {"key": key}}] * 150, "outputs": OUTPUTS[:1]})
    assert created.status_code == 202, created.json
    other = authed(app, KeyStore(app.extensions["pixelflow"].jobs).create("t-other-" + created.json["id"][-8:], "t")[1])
    single = other.post(
        "/v1/jobs", json={"source": {"key": upload(other, images.jpeg(64, 48))}, "outputs": OUTPUTS[:1]}
    )
    assert single.status_code == 202, single.json
    deepest = 0

    def single_done() -> bool:
        nonlocal deepest
        with celery.connection_for_read() as conn:
            for name in (settings.queue, transform_queue(settings)):
                _, ready, _ = conn.default_channel.queue_declare(name, passive=True)
                deepest = max(deepest, ready)
        return bool(other.get(f"/v1/jobs/{single.json['id']}").json["status"] == "succeeded")

    wait_until(single_done, 60, "the other tenant's job", interval=0.1)
    batch = client.get(f"/v1/batches/{created.json['id']}").json
    # The single job was not queued behind the batch: most of the batch had still to run when it ended.
    assert batch["counts"]["queued"] + batch["counts"]["processing"] > 75, batch["counts"]
    # And the queues held only the workers' pace of messages, never the batch.
    assert deepest <= settings.relay_ready_per_consumer * 2 + 2, deepest
    assert ended(client, created.json["id"], timeout=180)["status"] == "succeeded"
