"""Faults injected into real worker processes: children killed once or on every delivery.

Each test runs a relay and a worker of its own on a queue of its own (the
session's relay is paused meanwhile), so that failpoints reach only them.
"""

import json
import os
import re
import signal
import threading
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
from tasks.exporter import backlog
from tasks.topology import delete_all
from tests import images
from tests.integration.conftest import RecordingServer
from tests.support.api import run_job, upload
from tests.support.stack import Relay, Worker, cli, wait_until

Stack = Callable[..., Worker]


@pytest.fixture()
def own_stack(relay: Relay, settings: Settings, tmp_path: Path) -> Iterator[Stack]:
    queue = f"{settings.queue}-faults-{uuid.uuid4().hex[:6]}"
    started: list[Any] = []

    def start(failpoints: list[str], more_env: dict[str, str] | None = None) -> Worker:
        env = {"PIXELFLOW_QUEUE": queue, "PIXELFLOW_FAILPOINTS": ",".join(failpoints), **(more_env or {})}
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


def ended_step(worker: Worker, step: str) -> bool:
    """The worker logged the step's end: it found the job ended and returned (SUCCESS, the chain dropped)."""
    return re.search(rf"pixelflow\.{step}\[[0-9a-f-]+\] succeeded", worker.output()) is not None


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
    assert jobs.get(uuid.UUID(job["id"])).status in ("queued", "processing", "failed")
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
        ]

    wait_until(lambda: len(written()) == 2, 30, "the outputs")
    assert client.post(f"/v1/jobs/{job_id}/cancel").json["status"] == "canceled"
    wait_until(lambda: ended_step(worker, "transform"), 30, "transform")
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
    wait_until(lambda: ended_step(worker, "transform"), 30, "the transform to give up")
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


def test_dead_letters_hold_what_an_operator_can_act_on_and_each_one_is_replayed_or_dismissed(
    client: FlaskClient, own_stack: Stack, jobs: JobStore, http_peer: RecordingServer
) -> None:
    # validate crashes (a bug): the job fails with internal_error and the step is dead-lettered. The job's
    # webhook answers 503 for good: the delivery gives up after PIXELFLOW_WEBHOOK_MAX_RETRIES (1 here, not the
    # steps' 2), and that is the job's delivery history, not a dead letter. So is a URL source that keeps failing.
    own_stack(["validate:raise"], {"PIXELFLOW_WEBHOOK_MAX_RETRIES": "1"})
    http_peer.post_status["/down"] = 503
    http_peer.routes["/source-down.jpg"] = (503, {}, b"")
    key = upload(client, images.jpeg(200, 100))
    outputs = [{"name": "a", "format": "png"}]
    crashed = run_job(client, {"source": {"key": key}, "outputs": outputs, "webhook_url": f"{http_peer.url}/down"})
    unreachable = run_job(client, {"source": {"url": f"{http_peer.url}/source-down.jpg"}, "outputs": outputs})
    assert crashed["error"]["code"] == "internal_error"
    assert unreachable["error"]["code"] == "source_unavailable"
    assert "gave up after 2 retries" in unreachable["error"]["message"]
    deliveries = wait_until(
        lambda: (d := client.get(f"/v1/jobs/{crashed['id']}/deliveries").json["items"]) and len(d) >= 2 and d,
        30,
        "two webhook attempts",
    )
    time.sleep(3)  # a third attempt would come within 2 s
    assert [d["status_code"] for d in client.get(f"/v1/jobs/{crashed['id']}/deliveries").json["items"]] == [503, 503]
    assert len([r for r in http_peer.requests if r[:2] == ("POST", "/down")]) == 2 == len(deliveries)

    def letters() -> list[dict[str, Any]]:
        return [d for d in jobs.dead_letters(100) if str(d["job_id"]) in (crashed["id"], unreachable["id"])]

    [letter] = wait_until(letters, 20, "the crashed step's dead letter")
    assert (letter["task"], letter["reason"]) == ("pixelflow.validate", "rejected")
    assert backlog(jobs)["dead_letters"] >= 1
    # Replayed: the job runs again from the start, crashes again, and leaves a new letter.
    assert "queued again" in celery_cli("dlq", "replay", str(letter["id"]))
    [again] = wait_until(letters, 60, "the replayed job's letter")
    assert again["id"] != letter["id"]
    with pytest.raises(AssertionError, match=r"no dead letter"):
        celery_cli("dlq", "replay", str(letter["id"]))  # settled
    assert "dismissed" in celery_cli("dlq", "dismiss", str(again["id"]), "--why", "known bug")
    assert letters() == []
    listed = celery_cli("dlq", "list", "--all")
    assert "dismissed" in listed and "(known bug)" in listed and "replayed" in listed


STEPS = ("fetch", "validate", "transform", "upload", "notify")
# The task events of three jobs: one done, one failed in validate, one canceled while transform ran. A task per
# step: each step's. Steps inline: fetch's task runs every step (the failed one's validate failed in it, the
# canceled one's transform found the job ended in it), and notify is sent on its own to a job that ended.
Tasks = tuple[dict[str, str], dict[str, str], dict[str, str], dict[str, str]]
PER_STEP: Tasks = (
    {"PIXELFLOW_WORKER_INLINE_STEPS": "false"},
    dict.fromkeys(STEPS, "SUCCESS"),
    {"fetch": "SUCCESS", "validate": "FAILURE", "notify": "SUCCESS"},
    {"fetch": "SUCCESS", "validate": "SUCCESS", "transform": "SUCCESS", "notify": "SUCCESS"},
)
INLINE: Tasks = (
    {},
    {"fetch": "SUCCESS"},
    {"fetch": "FAILURE", "notify": "SUCCESS"},
    {"fetch": "SUCCESS", "notify": "SUCCESS"},
)


@pytest.mark.parametrize(
    ("env", "done_tasks", "failed_tasks", "canceled_tasks"), [PER_STEP, INLINE], ids=["per-step", "inline"]
)
def test_every_step_ends_in_a_final_state_in_the_task_events_that_flower_reads(
    client: FlaskClient,
    own_stack: Stack,
    http_peer: RecordingServer,
    env: dict[str, str],
    done_tasks: dict[str, str],
    failed_tasks: dict[str, str],
    canceled_tasks: dict[str, str],
) -> None:
    from celery.events.state import State
    from celery.states import READY_STATES, REJECTED

    from tasks.celery_app import app as celery_app

    worker = own_stack(["transform:sleep"], {"PIXELFLOW_TASK_EVENTS": "true", **env})
    expected = len(done_tasks) + len(failed_tasks) + len(canceled_tasks)
    state = State()
    with celery_app.connection_for_read() as conn:
        receiver = celery_app.events.Receiver(conn, handlers={"*": state.event})
        capture = threading.Thread(target=receiver.capture, kwargs={"wakeup": False}, daemon=True)
        capture.start()
        try:
            key = upload(client, images.jpeg(200, 100))
            outputs = [{"name": "a", "format": "png"}]
            canceled_id = client.post("/v1/jobs", json={"source": {"key": key}, "outputs": outputs}).json["id"]
            worker.wait_for_task("transform")
            assert client.post(f"/v1/jobs/{canceled_id}/cancel").json["status"] == "canceled"
            wait_until(lambda: ended_step(worker, "transform") or None, 30, "the transform to find the job ended")
            done = run_job(client, {"source": {"key": key}, "outputs": outputs})
            bad = upload(client, images.jpeg(200, 100)[:300], "image/jpeg")
            failed = run_job(client, {"source": {"key": bad}, "outputs": outputs})

            def ours() -> list[Any]:
                return [t for t in state.tasks.values() if t.worker and t.worker.hostname.startswith("faults-")]

            def settled() -> list[Any] | None:
                tasks = ours()
                final = all(t.state in (*READY_STATES, REJECTED) for t in tasks)
                return tasks if len(tasks) >= expected and final else None

            tasks = wait_until(settled, 30, "every step's final event")
        finally:
            receiver.should_stop = True
            capture.join(5)
    assert done["status"] == "succeeded" and failed["status"] == "failed", failed
    by_job: dict[str, dict[str, str]] = {}
    for t in tasks:
        [job_id] = [j for j in (done["id"], failed["id"], canceled_id) if j in str(t.args)]
        by_job.setdefault(job_id, {})[t.name.rsplit(".", 1)[-1]] = t.state
    assert by_job[done["id"]] == done_tasks
    assert by_job[failed["id"]] == failed_tasks
    assert by_job[canceled_id] == canceled_tasks
