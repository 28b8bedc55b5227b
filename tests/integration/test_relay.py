"""The outbox and its relay: the API never publishes; jobs wait in PostgreSQL until the relay does."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from flask.testing import FlaskClient
from kombu import Connection
from psycopg import sql
from psycopg.conninfo import make_conninfo

from config import Settings
from core.jobstore import JobStore
from core.migrations import upgrade
from core.spec import OutputSpec
from tasks.topology import delete_all
from tests import images
from tests.integration.conftest import Worker
from tests.support.api import upload
from tests.support.stack import Relay, free_port, wait_until

OUTPUTS = [OutputSpec("a", "png")]


@pytest.fixture()
def own_jobs(settings: Settings) -> Iterator[JobStore]:
    """A job store on a database of this test's own, where no relay runs."""
    name = f"pixelflow_relay_{uuid.uuid4().hex[:8]}"
    admin = make_conninfo(settings.database_url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_conninfo(settings.database_url, dbname=name)
    upgrade(url)
    store = JobStore(url, 1, 2, name="pixelflow-test-relay")
    store.open()
    yield store
    store.close()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_a_job_accepted_while_the_broker_is_unreachable_runs_once_the_relay_gets_through(
    client: FlaskClient, worker: Worker, relay: Relay, tmp_path: Path
) -> None:
    key = upload(client, images.jpeg(200, 100))
    relay.stop()
    cut_off = Relay(tmp_path / "cut-off.log", {"PIXELFLOW_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}//"})
    cut_off.start()
    try:
        created = client.post("/v1/jobs", json={"source": {"key": key}, "outputs": [{"name": "a", "format": "png"}]})
        assert created.status_code == 202
        job_id = created.json["id"]
        wait_until(lambda: "relay paused" in cut_off.output(), 30, "the relay to meet the dead broker")
        assert client.get(f"/v1/jobs/{job_id}").json["status"] == "queued"
    finally:
        cut_off.stop()
        relay.start()

    def ended() -> str | None:
        status = client.get(f"/v1/jobs/{job_id}").json["status"]
        return status if status in ("succeeded", "failed") else None

    assert wait_until(ended, 60, "the job to run") == "succeeded"


def test_an_io_worker_started_alone_on_a_new_queue_keeps_native_delayed_delivery(
    settings: Settings, tmp_path: Path
) -> None:
    # Celery binds every queue it knows to its delayed-delivery exchange at start, the transform queue too:
    # a worker-io that came up before any worker-transform must find it declared.
    queue = f"{settings.queue}-alone-{uuid.uuid4().hex[:6]}"
    worker = Worker.role("worker-io", f"alone-{queue}", tmp_path / "io.log", {"PIXELFLOW_QUEUE": queue})
    worker.start()
    try:
        output = worker.output()
        assert "delayed delivery" not in output and "CRITICAL" not in output, output[-3000:]
    finally:
        worker.stop()
        with Connection(settings.broker_url) as conn:
            delete_all(conn, settings.model_copy(update={"queue": queue}))
