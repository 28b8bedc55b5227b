"""The fault suite: real processes, bounded in time, checked by the oracle (faultkit.py).

Scenarios use a queue of their own (the session's relay is paused while
each runs): on the machine's RabbitMQ, or, for broker faults, on a RabbitMQ
node the tests start with their own ports and data directory.
"""

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from config import Settings
from scripts.stack import BrokerNode, Relay
from tests import images
from tests.integration import faultkit
from tests.integration.conftest import RecordingServer
from tests.integration.test_api import upload


@pytest.fixture()
def stack(relay: Relay, settings: Settings, tmp_path: Path) -> Iterator[faultkit.FaultStack]:
    relay.stop()
    fault = faultkit.FaultStack(settings, tmp_path)
    yield fault
    fault.close()
    relay.start()


@pytest.fixture()
def sources(client: FlaskClient) -> list[str]:
    return [upload(client, images.jpeg(800, 600)), upload(client, images.png_with_alpha(400, 300), "image/png")]


def submit(client: FlaskClient, sources: list[str], peer: RecordingServer, count: int = 6) -> list[str]:
    return faultkit.submit(client, sources, f"{peer.url}/hook", count)


def check(
    name: str, app: Flask, stack: faultkit.FaultStack, client: FlaskClient, ids: list[str], peer: RecordingServer
) -> None:
    broker_url = stack.env.get("PIXELFLOW_BROKER_URL", stack.settings.broker_url)
    jobs = faultkit.oracle(name, client, ids, peer, app.extensions["pixelflow"].store, broker_url, stack.queue)
    # Usage: exactly one row per succeeded job, however often its steps ran.
    with psycopg.connect(stack.settings.database_url) as conn:
        rows = conn.execute("SELECT job_id::text FROM usage WHERE job_id = ANY(%s::uuid[])", (ids,)).fetchall()
    assert sorted(r[0] for r in rows) == sorted(j["id"] for j in jobs if j["status"] == "succeeded")


def finish(
    name: str, app: Flask, stack: faultkit.FaultStack, client: FlaskClient, ids: list[str], peer: RecordingServer
) -> None:
    """The oracle, and every job of the scenario succeeded."""
    check(name, app, stack, client, ids, peer)
    assert {client.get(f"/v1/jobs/{i}").json["status"] for i in ids} == {"succeeded"}


@pytest.mark.parametrize(
    ("scenario", "failpoint"),
    [
        ("pool child killed before transform (first delivery)", "transform:kill:first"),
        ("crash after upload, before the database write", "upload.before-commit:exit:first"),
        ("crash after a step succeeded, before the next was sent", "transform.after:exit:first"),
        ("crash after fetch succeeded, before validate was sent", "fetch.after:exit:first"),
    ],
)
def test_a_crash_at_a_named_point_costs_a_repeat_not_a_job(
    scenario: str,
    failpoint: str,
    client: FlaskClient,
    app: Flask,
    stack: faultkit.FaultStack,
    sources: list[str],
    http_peer: RecordingServer,
) -> None:
    stack.relay()
    worker = stack.worker([failpoint])
    ids = submit(client, sources, http_peer)
    finish(scenario, app, stack, client, ids, http_peer)
    # The failpoint did fire: pool children were lost and their messages redelivered.
    assert "WorkerLostError" in worker.output()


def test_the_relay_crashing_between_publish_and_commit_publishes_again_harmlessly(
    client: FlaskClient,
    app: Flask,
    stack: faultkit.FaultStack,
    sources: list[str],
    http_peer: RecordingServer,
) -> None:
    scenario = "relay crash between publish and commit"
    stack.worker()
    crashing = stack.relay(["relay.after-publish:exit"])
    ids = submit(client, sources, http_peer, count=3)
    faultkit.wait_until(lambda: not crashing.alive(), 20, "the relay to crash after its first publish")
    stack.relay()  # its successor publishes the same rows again
    finish(scenario, app, stack, client, ids, http_peer)


def test_postgres_backends_terminated_mid_step_are_retried(
    client: FlaskClient,
    app: Flask,
    stack: faultkit.FaultStack,
    sources: list[str],
    http_peer: RecordingServer,
    settings: Settings,
) -> None:
    scenario = "PostgreSQL backends terminated mid-step"
    stack.relay()
    stack.worker(["transform:sleep"])
    ids = submit(client, sources, http_peer, count=4)
    terminated = 0
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        for _ in range(8):
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name LIKE 'pixelflow-worker-%%' AND datname = current_database()"
            ).fetchall()
            terminated += len(rows)
            time.sleep(0.5)
    assert terminated > 0
    finish(scenario, app, stack, client, ids, http_peer)


@pytest.mark.parametrize(
    ("scenario", "sig"),
    [
        ("worker main process killed (-9) with tasks in flight", signal.SIGKILL),
        ("warm worker shutdown (TERM) with tasks in flight", signal.SIGTERM),
        ("cold worker shutdown (QUIT) with tasks in flight", signal.SIGQUIT),
    ],
)
def test_a_worker_that_goes_away_mid_task_is_replaced_without_loss(
    scenario: str,
    sig: int,
    client: FlaskClient,
    app: Flask,
    stack: faultkit.FaultStack,
    sources: list[str],
    http_peer: RecordingServer,
) -> None:
    stack.relay()
    first = stack.worker(["transform:sleep"])
    ids = submit(client, sources, http_peer)
    faultkit.wait_until(lambda: "pixelflow.transform[" in first.output(), 30, "a transform to start")
    if sig == signal.SIGKILL:
        os.killpg(first.pid, signal.SIGKILL)  # the main process and its pool children
    else:
        os.kill(first.pid, sig)
    first.process.wait(60)  # type: ignore[union-attr]
    stack.worker()
    finish(scenario, app, stack, client, ids, http_peer)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerNode]:
    broker = BrokerNode(tmp_path_factory.mktemp("rabbit"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture()
def fresh_node(tmp_path: Path) -> Iterator[BrokerNode]:
    # A node of its own: after a kill -9, quorum queues deleted earlier on the same node
    # left RabbitMQ 3.10 recovering slowly enough to stall the scenario.
    broker = BrokerNode(tmp_path / "rabbit")
    broker.start()
    yield broker
    broker.stop()


def _on_node(stack: faultkit.FaultStack, node: BrokerNode) -> None:
    stack.env["PIXELFLOW_BROKER_URL"] = node.url


def test_broker_restart_mid_task(
    client: FlaskClient,
    app: Flask,
    stack: faultkit.FaultStack,
    sources: list[str],
    http_peer: RecordingServer,
    node: BrokerNode,
) -> None:
    scenario = "broker restarted (stop_app/start_app) mid-task"
    _on_node(stack, node)
    stack.relay()
    worker = stack.worker(["transform:sleep"])
    ids = submit(client, sources, http_peer)
    faultkit.wait_until(lambda: "pixelflow.transform[" in worker.output(), 30, "a transform to start")
    node.ctl("stop_app")
    time.sleep(3)
    node.ctl("start_app")
    finish(scenario, app, stack, client, ids, http_peer)


def test_broker_killed_during_a_burst_of_posts(
    client: FlaskClient,
    app: Flask,
    stack: faultkit.FaultStack,
    sources: list[str],
    http_peer: RecordingServer,
    fresh_node: BrokerNode,
) -> None:
    scenario = "broker killed (-9) during a burst of POSTs"
    node = fresh_node
    _on_node(stack, node)
    stack.relay()
    stack.worker()
    os.kill(node.beam_pid(), signal.SIGKILL)
    ids = submit(client, sources, http_peer, count=10)  # every POST is accepted meanwhile
    time.sleep(2)
    node.start()
    finish(scenario, app, stack, client, ids, http_peer)


def test_broker_frozen_for_30_seconds(
    client: FlaskClient,
    app: Flask,
    stack: faultkit.FaultStack,
    sources: list[str],
    http_peer: RecordingServer,
    node: BrokerNode,
) -> None:
    scenario = "broker frozen (SIGSTOP) for 30 s"
    _on_node(stack, node)
    stack.relay()
    worker = stack.worker(["transform:sleep"])
    ids = submit(client, sources, http_peer, count=4)
    faultkit.wait_until(lambda: "pixelflow.transform[" in worker.output(), 30, "a transform to start")
    beam = node.beam_pid()
    os.kill(beam, signal.SIGSTOP)
    try:
        time.sleep(30)
    finally:
        os.kill(beam, signal.SIGCONT)
    finish(scenario, app, stack, client, ids, http_peer)


def test_broker_memory_alarm_while_jobs_arrive(
    client: FlaskClient,
    app: Flask,
    stack: faultkit.FaultStack,
    sources: list[str],
    http_peer: RecordingServer,
    node: BrokerNode,
) -> None:
    scenario = "broker memory alarm while jobs arrive"
    _on_node(stack, node)
    stack.relay()
    stack.worker()
    node.ctl("set_vm_memory_high_watermark", "0")
    try:
        ids = submit(client, sources, http_peer)  # accepted: the API never waits on the broker
        time.sleep(5)
        assert {client.get(f"/v1/jobs/{i}").json["status"] for i in ids} == {"queued"}
    finally:
        node.ctl("set_vm_memory_high_watermark", "0.4")
    finish(scenario, app, stack, client, ids, http_peer)


def _lose_the_chains(settings: Settings, ids: list[str]) -> None:
    """As if the published messages were lost (a purged queue): the outbox says sent, no message exists."""
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("UPDATE outbox SET sent_at = now() WHERE job_id = ANY(%s::uuid[])", (ids,))


def test_the_sweeper_re_drives_a_job_whose_chain_was_lost(
    client: FlaskClient,
    app: Flask,
    stack: faultkit.FaultStack,
    sources: list[str],
    http_peer: RecordingServer,
    settings: Settings,
) -> None:
    scenario = "chains lost after publishing (purged queue): the sweeper re-drives"
    ids = submit(client, sources, http_peer, count=3)
    _lose_the_chains(settings, ids)
    stack.worker()
    stack.relay(PIXELFLOW_STUCK_AFTER="2", PIXELFLOW_SWEEP_INTERVAL="1")
    check(scenario, app, stack, client, ids, http_peer)
    jobs = [app.extensions["pixelflow"].jobs.get(uuid.UUID(i)) for i in ids]
    assert [(j.status, j.redrives) for j in jobs] == [("succeeded", 1)] * 3


def test_the_sweeper_fails_a_job_that_had_its_re_drives(
    client: FlaskClient,
    app: Flask,
    stack: faultkit.FaultStack,
    sources: list[str],
    http_peer: RecordingServer,
    settings: Settings,
) -> None:
    ids = submit(client, sources, http_peer, count=1)
    _lose_the_chains(settings, ids)
    stack.relay(PIXELFLOW_STUCK_AFTER="1", PIXELFLOW_SWEEP_INTERVAL="1", PIXELFLOW_MAX_REDRIVES="0")
    job = faultkit.wait_until(
        lambda: (j := client.get(f"/v1/jobs/{ids[0]}").json)["status"] == "failed" and j, 30, "the sweeper"
    )
    assert job["error"]["code"] == "stuck"
