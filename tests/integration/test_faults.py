"""Faults injected into real worker processes: children killed once or on every delivery.

Each test runs a relay and a worker of its own on a queue of its own (the
session's relay is paused meanwhile), so that failpoints reach only them.
"""

import json
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient
from kombu import Connection

from config import Settings
from core.jobstore import JobStore
from core.objectstore import S3ObjectStore
from scripts.stack import Relay, Worker, cli, wait_until
from tasks.topology import delete_all
from tests import images
from tests.integration.conftest import RecordingServer
from tests.integration.test_api import upload
from tests.integration.test_pipeline import run_job

Stack = Callable[[list[str]], Worker]


@pytest.fixture()
def own_stack(relay: Relay, settings: Settings, tmp_path: Path) -> Iterator[Stack]:
    queue = f"{settings.queue}-faults-{uuid.uuid4().hex[:6]}"
    started: list[Any] = []

    def start(failpoints: list[str]) -> Worker:
        env = {"PIXELFLOW_QUEUE": queue, "PIXELFLOW_FAILPOINTS": ",".join(failpoints)}
        relay.stop()
        own_relay = Relay(tmp_path / "relay.log", env)
        worker = Worker(f"faults-{queue}", tmp_path / "worker.log", concurrency=1, env=env)
        for process in (own_relay, worker):
            process.start()
            started.append(process)
        return worker

    yield start
    for process in started:
        process.stop()
    relay.start()
    with Connection(settings.broker_url) as conn:
        delete_all(conn, settings.model_copy(update={"queue": queue}))


@pytest.fixture()
def jobs(database: str) -> Iterator[JobStore]:
    store = JobStore(database, 1, 1, name="pixelflow-test-faults")
    store.open()
    yield store
    store.close()


def test_a_child_killed_mid_transform_costs_a_repeat_not_the_job(
    client: FlaskClient, own_stack: Stack, jobs: JobStore
) -> None:
    worker = own_stack(["transform:sleep"])
    key = upload(client, images.jpeg(600, 400))
    created = client.post("/v1/jobs", json={"source": {"key": key}, "outputs": [{"name": "a", "format": "webp"}]})
    job_id = created.json["id"]
    worker.wait_for_task("transform")
    [child] = worker.children()
    os.kill(child, signal.SIGKILL)

    def ended() -> dict[str, Any] | None:
        job = client.get(f"/v1/jobs/{job_id}").json
        return job if job["status"] in ("succeeded", "failed") else None

    job = wait_until(ended, 60, "the job to end")
    assert job["status"] == "succeeded", job["error"]
    assert "WorkerLostError" in worker.output() or "signal 9" in worker.output()
    image = images.open_image(httpx.get(job["outputs"][0]["url"]).content)
    assert image.size == (600, 400)
    assert not [d for d in jobs.dead_letters(100) if str(d["job_id"]) == job_id]


def celery_cli(*args: str) -> str:
    return cli("celery", "-A", "tasks", *args)


def test_operators_list_show_and_replay_dead_letters_from_the_celery_cli(
    client: FlaskClient, own_stack: Stack, jobs: JobStore
) -> None:
    own_stack(["transform:kill"])
    key = upload(client, images.jpeg(200, 100))
    job = run_job(client, {"source": {"key": key}, "outputs": [{"name": "a", "format": "png"}]}, timeout=90)
    assert job["error"]["code"] == "worker_lost"
    [letter] = [d for d in jobs.dead_letters(100) if str(d["job_id"]) == job["id"]]
    assert job["id"] in celery_cli("dlq", "list")
    assert '"reason": "delivery_limit"' in celery_cli("dlq", "show", str(letter["id"]))
    assert "queued again" in celery_cli("dlq", "replay", str(letter["id"]))
    assert jobs.get(uuid.UUID(job["id"])).status in ("queued", "processing", "failed")  # type: ignore[union-attr]
    assert job["id"] not in celery_cli("dlq", "list")  # replayed ones are hidden
    assert job["id"] in celery_cli("dlq", "list", "--all")


def test_a_job_canceled_while_it_renders_leaves_no_outputs_behind(
    client: FlaskClient, own_stack: Stack, settings: Settings
) -> None:
    # transform writes the outputs at their final keys, then finds (sleeping 3 s before it records them)
    # that the job was canceled: it removes them, and the chain ends there.
    worker = own_stack(["transform.before-commit:sleep"])
    key = upload(client, images.jpeg(300, 200))
    spec = {"source": {"key": key}, "outputs": [{"name": "a", "format": "png"}, {"name": "b", "format": "webp"}]}
    job_id = client.post("/v1/jobs", json=spec).json["id"]
    store = S3ObjectStore(settings)

    def written() -> list[str]:
        return [
            o.object_name for o in store.client.list_objects(store.bucket, "results/", True) if job_id in o.object_name
        ]  # type: ignore[operator]

    wait_until(lambda: len(written()) == 2, 30, "the outputs")
    assert client.post(f"/v1/jobs/{job_id}/cancel").json["status"] == "canceled"
    wait_until(lambda: "pixelflow.transform[" in worker.output() and "ignored" in worker.output(), 30, "transform")
    assert written() == []
    assert "pixelflow.upload[" not in worker.output()
    assert client.get(f"/v1/jobs/{job_id}").json["status"] == "canceled"


def test_a_job_canceled_mid_step_stops_before_the_next_one_and_the_client_hears_of_it(
    client: FlaskClient, own_stack: Stack, jobs: JobStore, http_peer: RecordingServer
) -> None:
    worker = own_stack(["transform:sleep"])
    key = upload(client, images.jpeg(300, 200))
    spec = {"source": {"key": key}, "outputs": [{"name": "a", "format": "png"}], "webhook_url": f"{http_peer.url}/h"}
    job_id = client.post("/v1/jobs", json=spec).json["id"]
    worker.wait_for_task("transform")
    assert client.post(f"/v1/jobs/{job_id}/cancel").json["status"] == "canceled"
    # The transform's failpoint sleeps 3 s, then the step finds the job canceled and drops the chain.
    wait_until(
        lambda: "pixelflow.transform[" in worker.output() and "ignored" in worker.output(),
        30,
        "the transform to give up",
    )
    time.sleep(1)
    assert "pixelflow.upload[" not in worker.output()
    job = client.get(f"/v1/jobs/{job_id}").json
    assert job["status"] == "canceled"
    assert job["outputs"][0]["key"] is None and job["outputs"][0]["url"] is None
    stored = jobs.get(uuid.UUID(job_id))
    assert stored is not None and stored.outputs[0].key is None
    # The step that found the job canceled handed it to notify: one job.canceled delivery.
    wait_until(lambda: [r for r in http_peer.requests if r[0] == "POST"], 30, "the job.canceled webhook")
    [(_, _, _, body)] = [r for r in http_peer.requests if r[0] == "POST"]
    event = json.loads(body)
    assert (event["type"], event["data"]["id"], event["data"]["status"]) == ("job.canceled", job_id, "canceled")
