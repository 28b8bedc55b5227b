"""The fault suite: real processes, bounded in time, checked by the oracle (faultkit.py).

Scenarios here use the machine's RabbitMQ and PostgreSQL with a queue of
their own; the session's relay is paused while each runs.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from config import Settings
from scripts.stack import Relay
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


def run(
    name: str,
    client: FlaskClient,
    app: Flask,
    stack: faultkit.FaultStack,
    sources: list[str],
    peer: RecordingServer,
    count: int = 6,
) -> list[str]:
    ids = faultkit.submit(client, sources, f"{peer.url}/hook", count)
    return ids


def check(
    name: str, app: Flask, stack: faultkit.FaultStack, client: FlaskClient, ids: list[str], peer: RecordingServer
) -> None:
    faultkit.oracle(name, client, ids, peer, app.extensions["pixelflow"].store, stack.settings.broker_url, stack.queue)


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
    ids = run(scenario, client, app, stack, sources, http_peer)
    check(scenario, app, stack, client, ids, http_peer)
    # The failpoint did fire: pool children were lost and their messages redelivered.
    assert "WorkerLostError" in worker.output()
    jobs = [client.get(f"/v1/jobs/{i}").json for i in ids]
    assert {j["status"] for j in jobs} == {"succeeded"}


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
    ids = run(scenario, client, app, stack, sources, http_peer, count=3)
    faultkit.wait_until(lambda: not crashing.alive(), 20, "the relay to crash after its first publish")
    stack.relay()  # its successor publishes the same rows again
    check(scenario, app, stack, client, ids, http_peer)
    assert {client.get(f"/v1/jobs/{i}").json["status"] for i in ids} == {"succeeded"}


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
    ids = run(scenario, client, app, stack, sources, http_peer, count=4)
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
    check(scenario, app, stack, client, ids, http_peer)
    assert {client.get(f"/v1/jobs/{i}").json["status"] for i in ids} == {"succeeded"}
