"""Steps run inline: a worker runs each next step whose queue it consumes inside the task of the step before
(StepTask.inline_next), so a job costs one message on a worker of both queues, three between worker-io and
worker-transform, and five with PIXELFLOW_WORKER_INLINE_STEPS=false. Counted from the messages each worker
says it received (Celery's INFO line), on a queue, relay and workers of the test's own."""

import re
from collections import Counter

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests import images
from tests.integration import faultkit
from tests.integration.conftest import RecordingServer
from tests.support.api import upload
from tests.support.stack import Worker, wait_until

RECEIVED = re.compile(r"Task (pixelflow\.\w+)\[[0-9a-f-]+\] received")
STEPS = ["fetch", "validate", "transform", "upload", "notify"]


def received(*workers: Worker) -> Counter[str]:
    return Counter(name.removeprefix("pixelflow.") for w in workers for name in RECEIVED.findall(w.output()))


@pytest.fixture()
def sources(client: FlaskClient) -> list[str]:
    return [upload(client, images.jpeg(800, 600)), upload(client, images.png_with_alpha(400, 300), "image/png")]


def run(
    scenario: str,
    app: Flask,
    stack: faultkit.FaultStack,
    client: FlaskClient,
    sources: list[str],
    peer: RecordingServer,
    count: int,
) -> None:
    """``count`` jobs through the stack's workers: every one succeeded with its five steps in its ledger, once."""
    ids = faultkit.submit(client, sources, f"{peer.url}/hook", count)
    store = app.extensions["pixelflow"].store
    faultkit.oracle(scenario, client, ids, peer, store, stack.settings.broker_url, stack.queue)

    def done() -> list[tuple[str, list[str]]] | None:
        # notify's ledger row is written once the receiver has answered: just after the oracle saw the answer.
        jobs = [client.get(f"/v1/jobs/{i}").json or {} for i in ids]
        ended = [(j["status"], sorted(j["steps"])) for j in jobs]
        return ended if all("notify" in steps for _, steps in ended) else None

    assert wait_until(done, 10, "notify in every ledger") == [("succeeded", sorted(STEPS))] * count


def test_a_worker_of_both_queues_takes_one_message_a_job(
    app: Flask, stack: faultkit.FaultStack, client: FlaskClient, sources: list[str], http_peer: RecordingServer
) -> None:
    stack.relay()
    worker = stack.worker()
    run("inline: one worker of both queues", app, stack, client, sources, http_peer, count=6)
    assert received(worker) == {"fetch": 6}


def test_worker_io_and_worker_transform_pass_a_job_between_them_in_three_messages(
    app: Flask, stack: faultkit.FaultStack, client: FlaskClient, sources: list[str], http_peer: RecordingServer
) -> None:
    stack.relay()
    # The image's roles (scripts/container-entrypoint): the I/O steps on threads, transform on processes.
    io = stack.worker(concurrency=8, extra=["-Q", stack.queue, "--pool=threads"])
    transform = stack.worker(extra=["-Q", f"{stack.queue}.transform"])
    run("inline: worker-io and worker-transform", app, stack, client, sources, http_peer, count=6)
    assert received(io) == {"fetch": 6, "upload": 6}
    assert received(transform) == {"transform": 6}


def test_with_inline_steps_off_each_step_is_a_message_of_its_own(
    app: Flask, stack: faultkit.FaultStack, client: FlaskClient, sources: list[str], http_peer: RecordingServer
) -> None:
    stack.relay()
    worker = stack.worker(PIXELFLOW_WORKER_INLINE_STEPS="false")
    run("inline off: a message a step", app, stack, client, sources, http_peer, count=4)
    assert received(worker) == {step: 4 for step in STEPS}


def test_a_step_run_inline_that_must_wait_is_retried_as_its_own_message(
    app: Flask, stack: faultkit.FaultStack, client: FlaskClient, sources: list[str], http_peer: RecordingServer
) -> None:
    stack.relay()
    worker = stack.worker()
    http_peer.post_status["/hook"] = [503, 503, 200]  # notify, run inline, meets a receiver not ready yet
    run("inline: a step retried on its own", app, stack, client, sources, http_peer, count=1)
    assert received(worker) == {"fetch": 1, "notify": 2}
    assert len(re.findall(r"Step pixelflow\.notify\[[0-9a-f-]+\] to run again as its own task", worker.output())) == 1
    # Retry 1, then retry 2 of the same message: the inline run was the step's first try.
    assert len(re.findall(r"Task pixelflow\.notify\[[0-9a-f-]+\] retry", worker.output())) == 1
