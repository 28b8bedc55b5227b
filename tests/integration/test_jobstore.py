"""Jobs in the real PostgreSQL: creation, listing and guarded transitions.

These tests move jobs through their states by hand, so they use a database of
their own: in the session's, its relay and worker would take the same jobs
and move them first (seen under load).
"""

import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from config import Settings
from core.ids import new_id
from core.jobstore import JobStore
from core.model import Output
from core.objectstore import S3ObjectStore
from core.ports import Services
from core.spec import OutputSpec, result_key
from core.webhooksecrets import WebhookSecrets
from tasks.steps.upload import upload
from tests.integration.conftest import S3Server
from tests.support.database import fresh_database
from tests.support.forwarder import Forwarder

OUTPUTS = [OutputSpec("small", "webp", width=200), OutputSpec("big", "jpeg", width=800, quality=90)]


@pytest.fixture(scope="module")
def own_database(settings: Settings) -> Iterator[str]:
    name = conninfo_to_dict(settings.database_url)["dbname"]
    with fresh_database(make_conninfo(settings.database_url, dbname=f"{name}_jobstore")) as url:
        yield url


@pytest.fixture(scope="module")
def jobs(own_database: str) -> Iterator[JobStore]:
    store = JobStore(own_database, 1, 2, name="pixelflow-test-jobstore")
    store.open()
    yield store
    store.close()


def test_a_source_must_be_a_key_or_a_url_never_both(jobs: JobStore) -> None:
    import psycopg

    with pytest.raises(psycopg.errors.CheckViolation):
        jobs.create(new_id(), OUTPUTS, source_key="k", source_url="https://example.com/a.jpg")


def test_a_pooled_connection_the_server_dropped_is_replaced_before_use(own_database: str) -> None:
    database = own_database
    store = JobStore(database, 1, 1, name="pixelflow-test-stale")
    store.open()
    try:
        store.ping()
        # The server ends the pooled connection (as a restart does) while it is idle.
        with psycopg.connect(database, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'pixelflow-test-stale' AND datname = current_database()"
            ).fetchall()
        assert ended == [(True,)]
        time.sleep(0.2)  # the server's goodbye reaches the idle socket
        store.ping()  # no DatabaseUnavailable: the connection was tested when taken, found dead, replaced
        assert store.pool.get_stats()["connections_lost"] == 1
    finally:
        store.close()


def test_each_call_a_step_makes_is_one_round_trip(own_database: str) -> None:
    # Through a forwarder that counts the client's turns: a read of a job (ledger and outputs with it) and
    # each step's write cost one round trip each, and a connection taken from the pool is not pinged.
    conninfo = conninfo_to_dict(own_database)
    link = Forwarder((str(conninfo.get("host", "127.0.0.1")), int(str(conninfo.get("port", 5432))))).start()
    store = JobStore(make_conninfo(own_database, host="127.0.0.1", port=str(link.port)), 1, 1, "pixelflow-test-turns")
    store.open()
    try:
        store.pool.wait()
        job = store.create(new_id(), OUTPUTS, source_key="uploads/x/a.jpg")
        staged = [Output(o, f"staging/{job.id}/{o.name}", None, 10, 10, 5, o.format) for o in OUTPUTS]
        time.sleep(0.6)
        before_all = link.turns
        begun = store.begin(job.id, "fetch")  # queued → processing, and the job as it is then: one turn
        assert begun is not None and begun.status == "processing" and begun.started_at is not None
        assert begun.outputs and begun.steps_done == ()
        assert link.turns - before_all == 1
        again = store.begin(job.id, "fetch")  # not queued any more (a redelivery): read as it is, a second turn
        assert again is not None and again.status == "processing" and again.started_at == begun.started_at
        assert link.turns - before_all == 3
        calls: list[Callable[[], object]] = [
            lambda: store.start(job.id),
            lambda: store.get(job.id),
            lambda: store.set_source(job.id, 100),
            lambda: store.set_source_info(job.id, "jpeg", 640, 480),
            lambda: store.stage_outputs(job.id, staged, "LKQ", 12),
            lambda: store.succeed(job.id, {"small": "results/a.webp", "big": "results/a.jpg"}),
            lambda: store.record_notification(job.id, None, None),
        ]
        for call in calls:
            before = link.turns
            time.sleep(0.6)  # idle, as between the steps of a job
            call()
            assert link.turns - before == 1, call
        done = store.get(job.id)
        assert done is not None and done.status == "succeeded" and done.placeholder == "LKQ"
        assert done.steps_done == ("fetch", "validate", "transform", "upload", "notify")
        assert [(o.staged_key, o.key, o.bytes) for o in done.outputs] == [
            (f"staging/{job.id}/small", "results/a.webp", 5),
            (f"staging/{job.id}/big", "results/a.jpg", 5),
        ]
        assert done.finished_at is not None
        assert store.usage("default", done.created_at, done.finished_at + timedelta(seconds=1))["jobs"] == 1
    finally:
        store.close()
        link.stop()


def test_upload_removes_the_written_outputs_of_a_canceled_job_not_of_a_re_driven_one(
    jobs: JobStore, settings: Settings, s3_server: S3Server
) -> None:
    # transform writes outputs at their final keys: a late upload of a job that was re-driven (back in
    # queued, its outputs still recorded and handed out by the next run) must leave them; one of a canceled
    # job removes them.
    store = S3ObjectStore(settings)
    store.ensure_bucket()
    svc = Services(settings, jobs, store, WebhookSecrets(jobs))
    for end, kept in ((lambda job_id: jobs.redrive(job_id, 5), True), (jobs.cancel, False)):
        job = jobs.create(new_id(), OUTPUTS, source_key="uploads/x/a.jpg")
        jobs.start(job.id)
        written = [
            Output(o, result_key(job.tenant, job.id, o.name, o.format), None, 1, 1, 3, o.format) for o in OUTPUTS
        ]
        for output in written:
            assert output.staged_key is not None
            store.put(output.staged_key, b"out", "image/webp")
        assert jobs.stage_outputs(job.id, written)
        assert end(job.id)
        assert upload(svc, job.id) is False
        present = []
        for output in written:
            assert output.staged_key is not None
            try:
                present.append(store.head(output.staged_key).size == 3)
            except FileNotFoundError:
                present.append(False)
        assert present == [kept, kept]
