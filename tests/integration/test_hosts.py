"""Across hosts: every role on a host of its own, a host that vanishes without a word, a partition, a slow link.

The bed (tests/support/netbed.py) is made of network namespaces joined by
veth links: PostgreSQL, RabbitMQ and the S3 server each run on a host of
their own (servers of the bed's own), Redis in the hub, and the API, the
relays and the workers on hosts of theirs. A host "vanishes" when its link
goes down at both ends: no packet crosses, so its peers get no RST and no
FIN and only heartbeats, keepalives and timeouts notice. After each
scenario the fault suite's oracle (tests/integration/faultkit.py) checks
that every accepted job ended exactly once with one effect per step, and
the time to recover is measured against its bound.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from config import Settings
from core.keystore import KeyStore
from core.migrations import upgrade
from tests import images
from tests.integration import faultkit
from tests.integration.conftest import RecordingServer, authed
from tests.support import netbed, netns
from tests.support.api import upload
from tests.support.forwarder import Forwarder
from tests.support.stack import BIN, Api, Process, Relay, Worker, free_port, wait_until

pytestmark = pytest.mark.skipif(not netbed.available(), reason="the bed needs root, iproute2 and tc")

TENANT = "hosts"


@dataclass
class Services:
    """The bed's servers, how the bed's hosts reach them and how this process does (tunnels)."""

    bed: netbed.Bed
    role_env: dict[str, str]
    settings: Settings  # this process's view: through the tunnels
    pg: netbed.BedPostgres
    broker: netbed.BedBroker
    s3_address: tuple[str, int]
    hosts: dict[str, netbed.Host] = field(default_factory=dict)


@pytest.fixture(scope="module")
def services(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    base = tmp_path_factory.mktemp("bed")
    with contextlib.ExitStack() as cleanup:
        bed = netbed.Bed(secrets.token_hex(2), 100 + secrets.randbelow(150))
        cleanup.callback(bed.close)
        db, mq, s3 = bed.host("db"), bed.host("mq"), bed.host("s3")
        pg = netbed.BedPostgres(bed, db, Path(tempfile.mkdtemp(prefix="pixelflow-bed-pg-")))
        cleanup.callback(shutil.rmtree, pg.base, True)
        pg.init()
        pg.start()
        cleanup.callback(pg.stop, "immediate")
        broker = netbed.BedBroker(bed, mq, base / "rabbit")
        broker.start()
        cleanup.callback(broker.stop)
        s3_port, redis_port = free_port(), free_port()
        data = base / "s3"
        data.mkdir()
        nanio = Process(
            "s3",
            [str(BIN / "nanio"), "serve", "--data-dir", str(data), "--host", s3.address, "--port", str(s3_port),
             "--no-access-log", "--log-level", "warning"],
            base / "s3.log",
            {"NANIO_ACCESS_KEY": settings.s3_access_key, "NANIO_SECRET_KEY": settings.s3_secret_key},
        )  # fmt: skip
        netbed.serve(bed, s3, nanio, s3_port, "the bed's S3 server")
        redis = Process(
            "redis",
            [shutil.which("redis-server") or "redis-server", "--port", str(redis_port), "--bind", bed.hub_ip,
             "--save", "", "--appendonly", "no", "--protected-mode", "no"],
            base / "redis.log",
        )  # fmt: skip
        netbed.serve(bed, None, redis, redis_port, "the bed's Redis")
        cleanup.callback(redis.stop)
        pg_tunnel = bed.tunnel(pg.address, pg.port)
        mq_tunnel = bed.tunnel(broker.address, broker.port)
        s3_tunnel = bed.tunnel(s3.address, s3_port)
        dbname = "pixelflow"
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{pg_tunnel.port}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {dbname}")
        local = settings.model_copy(
            update={
                "database_url": f"postgresql://postgres@127.0.0.1:{pg_tunnel.port}/{dbname}",
                "broker_url": f"amqp://guest:guest@127.0.0.1:{mq_tunnel.port}//",
                "s3_endpoint": f"127.0.0.1:{s3_tunnel.port}",
                "redis_url": "redis://127.0.0.1:1/0",  # this process's app counts limits in memory
                "fetch_allow": [*settings.fetch_allow, f"{bed.net}.0/24"],  # the webhook receiver's address
            }
        )
        upgrade(local.database_url)
        role_env = {
            "PIXELFLOW_DATABASE_URL": pg.url(dbname),
            "PIXELFLOW_BROKER_URL": broker.url,
            "PIXELFLOW_S3_ENDPOINT": f"{s3.address}:{s3_port}",
            # Presigned URLs name the tunnel: the clients are in this process.
            "PIXELFLOW_S3_PUBLIC_ENDPOINT": local.s3_endpoint,
            "PIXELFLOW_REDIS_URL": f"redis://{bed.hub_ip}:{redis_port}/0",
            "PIXELFLOW_FETCH_ALLOW": f"{bed.net}.0/24",
            "PIXELFLOW_WORKER_METRICS_PORT": "0",
        }
        hosts = {"db": db, "mq": mq, "s3": s3}
        yield Services(bed, role_env, local, pg, broker, (s3.address, s3_port), hosts)


@pytest.fixture(scope="module")
def bed_app(services: Services) -> Iterator[Flask]:
    flask_app = create_app(services.settings)
    flask_app.config["TESTING"] = True
    yield flask_app
    flask_app.extensions["pixelflow"].jobs.close()


@pytest.fixture(scope="module")
def bed_key(bed_app: Flask) -> str:
    return KeyStore(bed_app.extensions["pixelflow"].jobs).create(TENANT, "hosts")[1]


@pytest.fixture()
def bed_client(bed_app: Flask, bed_key: str) -> FlaskClient:
    return authed(bed_app, bed_key)


@pytest.fixture()
def scene(services: Services, http_peer: RecordingServer, tmp_path: Path) -> Iterator[Scene]:
    own = Scene(services, http_peer, tmp_path)
    yield own
    own.close()


class Scene:
    """One scenario's queue, hosts and processes, and its webhook receiver as the bed's hosts reach it."""

    def __init__(self, services: Services, peer: RecordingServer, tmp: Path) -> None:
        self.services = services
        self.bed = services.bed
        self.tmp = tmp
        self.queue = f"{services.settings.queue}-hosts-{secrets.token_hex(3)}"
        hook = self.bed.expose(("127.0.0.1", int(peer.url.rsplit(":", 1)[1])))
        self.hook = f"http://{self.bed.hub_ip}:{hook.port}/hook"
        self.peer = peer
        self.hosts: list[netbed.Host] = []
        self.forwarders: list[Forwarder] = [hook]

    def env(self, **extra: str) -> dict[str, str]:
        return {**self.services.role_env, "PIXELFLOW_QUEUE": self.queue, **extra}

    def host(self, name: str) -> netbed.Host:
        """A role's host, made on first use and kept for later scenarios (healed and emptied after each)."""
        host = self.services.hosts.get(name) or self.bed.host(name)
        self.services.hosts[name] = host
        if host not in self.hosts:
            self.hosts.append(host)
        return host

    def relay(self, host: str, **env: str) -> Relay:
        relay = Relay(self.tmp / f"relay-{host}.log", self.env(**env))
        self.host(host).spawn(relay)
        return relay

    def worker(self, host: str, failpoints: str = "", **env: str) -> Worker:
        worker = Worker(
            f"{host}-{self.queue}",
            self.tmp / f"worker-{host}.log",
            2,
            self.env(PIXELFLOW_FAILPOINTS=failpoints, TMPDIR=str(self.tmp), **env),
        )
        self.host(host).spawn(worker)
        return worker

    def submit(self, client: FlaskClient, count: int) -> list[str]:
        sources = [upload(client, images.jpeg(800, 600)), upload(client, images.png_with_alpha(400, 300), "image/png")]
        return faultkit.submit(client, sources, self.hook, count)

    def check(self, name: str, app: Flask, client: FlaskClient, ids: list[str], timeout: float = 180) -> float:
        """The oracle; returns when every job ended (seconds since the call)."""
        started = time.monotonic()
        store = app.extensions["pixelflow"].store
        faultkit.oracle(name, client, ids, self.peer, store, self.services.settings.broker_url, self.queue, timeout)
        return time.monotonic() - started

    def unsent(self) -> int:
        with psycopg.connect(self.services.settings.database_url) as conn:
            row = conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        for host in self.hosts:
            host.heal()
            host.stop()
            host.processes.clear()
        for forwarder in self.forwarders:
            forwarder.stop()
        from kombu import Connection

        from tasks.topology import delete_all

        with Connection(self.services.settings.broker_url, connect_timeout=5) as conn:
            delete_all(conn, self.services.settings.model_copy(update={"queue": self.queue}))


recovered = faultkit.recovered


def test_a_worker_host_that_vanishes_mid_step_hands_its_jobs_to_another_within_60_s(
    scene: Scene, bed_app: Flask, bed_client: FlaskClient
) -> None:
    name = "a worker host vanishes mid-step (link down, no RST)"
    scene.relay("relay-a")
    doomed = scene.worker("worker-a", "transform:sleep")
    ids = scene.submit(bed_client, 4)
    doomed.wait_for_task("transform")
    scene.worker("worker-b")
    cut = time.monotonic()
    scene.host("worker-a").cut()
    scene.check(name, bed_app, bed_client, ids, timeout=120)
    recovered(name, len(ids), "from the link going down until every job ended", time.monotonic() - cut, 60)


def test_a_relay_host_that_vanishes_mid_publish_leaves_its_rows_to_another_relay(
    scene: Scene, bed_app: Flask, bed_client: FlaskClient
) -> None:
    name = "the relay's host vanishes mid-publish; a second relay carries on"
    scene.relay("relay-a", PIXELFLOW_FAILPOINTS="relay.after-publish:sleep")
    worker = scene.worker("worker-a")
    ids = scene.submit(bed_client, 4)
    worker.wait_for_task("fetch")  # relay-a published one chain and holds the rest, locked, mid-transaction
    cut = time.monotonic()
    scene.host("relay-a").cut()
    scene.relay("relay-b")
    # relay-b publishes what nobody holds at once; the rows relay-a held stay locked until PostgreSQL finds
    # relay-a gone (its keepalives, asked for at connect) and ends its transaction.
    wait_until(lambda: scene.unsent() == 0, 90, "the outbox to drain", interval=0.5)
    drained = time.monotonic() - cut
    scene.check(name, bed_app, bed_client, ids, timeout=120)
    measured = "from the link going down until the outbox drained and every job ended"
    recovered(name, len(ids), measured, max(drained, time.monotonic() - cut), 60)
    # Nothing published without its job: the only jobs announced are these.
    assert faultkit.announced(scene.peer) == set(ids)


def test_an_api_host_partitioned_from_postgresql_answers_503_within_2_s_and_recovers(
    scene: Scene, services: Services, bed_key: str
) -> None:
    name = "the API host loses PostgreSQL by partition"
    host = scene.host("api-a")
    port = free_port()
    api = Api(f"{host.address}:{port}", scene.tmp / "api.log", scene.env(), workers=1, threads=4)
    # Api.start waits for the API from this process, which has no route into the bed: the tunnel below does.
    api.argv = [*netns.enter_argv(host.ns), *api.argv]
    Process.start(api)
    host.processes.append(api)
    tunnel = scene.bed.tunnel(host.address, port)
    scene.forwarders.append(tunnel)
    base = f"http://127.0.0.1:{tunnel.port}"
    headers = {"Authorization": f"Bearer {bed_key}"}

    def ready() -> bool:
        try:
            return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, 60, "the API on its host")
    jobs = httpx.get(f"{base}/v1/jobs", headers=headers, timeout=5)
    assert jobs.status_code == 200, jobs.text
    host.partition(services.pg.address, services.pg.port)
    try:
        timings: dict[str, list[float]] = {}
        for path in ("/v1/jobs", "/v1/jobs", "/readyz"):
            started = time.monotonic()
            answer = httpx.get(f"{base}{path}", headers=headers, timeout=30)
            timings.setdefault(path, []).append(time.monotonic() - started)
            assert answer.status_code == 503, (path, answer.text)
            assert "database_unavailable" in answer.text or "timeout" in answer.text, answer.text
        assert max(timings["/v1/jobs"]) <= 2.0, timings
        assert max(timings["/readyz"]) <= 1.2, timings
        started = time.monotonic()
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200  # touches no dependency
        assert time.monotonic() - started < 0.5
    finally:
        host.unpartition(services.pg.address, services.pg.port)
    healed = time.monotonic()
    wait_until(
        lambda: httpx.get(f"{base}/v1/jobs", headers=headers, timeout=5).status_code == 200, 30, "the API to recover"
    )
    faultkit.RESULTS[name] = (0, 0, 0, "pass")
    recovered(name, 0, "slowest answer (503 database_unavailable) while partitioned", max(timings["/v1/jobs"]), 2)
    recovered(f"{name}, healed", 0, "from the heal until requests succeed again", time.monotonic() - healed, 10)


def test_a_worker_host_that_loses_s3_for_60_s_finishes_every_job_without_a_time_limit_kill(
    scene: Scene, services: Services, bed_app: Flask, bed_client: FlaskClient
) -> None:
    name = "a worker host loses S3 for 60 s"
    scene.relay("relay-a")
    # The default retries (PIXELFLOW_TASK_MAX_RETRIES=8, this suite lowers it elsewhere).
    worker = scene.worker("worker-a", PIXELFLOW_TASK_MAX_RETRIES="8")
    host = scene.host("worker-a")
    host.partition(*services.s3_address)
    try:
        ids = scene.submit(bed_client, 4)
        time.sleep(60)
    finally:
        host.unpartition(*services.s3_address)
    healed = time.monotonic()
    jobs = faultkit.oracle(
        name, bed_client, ids, scene.peer, bed_app.extensions["pixelflow"].store,
        services.settings.broker_url, scene.queue, timeout=180,
    )  # fmt: skip
    recovered(
        name, len(ids), "from S3 coming back until every job ended (none failed)", time.monotonic() - healed, None
    )
    assert [j["status"] for j in jobs] == ["succeeded"] * len(ids), [j.get("error") for j in jobs]
    log = worker.output()
    assert "TimeLimitExceeded" not in log and "SoftTimeLimitExceeded" not in log
    assert "storage" in log.lower()  # it did meet the outage, and retried


def test_jobs_complete_once_over_a_slow_narrow_link_between_a_worker_and_rabbitmq(
    scene: Scene, services: Services, bed_app: Flask, bed_client: FlaskClient
) -> None:
    name = "a slow link between a worker and RabbitMQ (100 ms each way, 1 Mbit/s)"
    slow = scene.bed.link((services.broker.address, services.broker.port), delay=0.1)
    scene.relay("relay-a")
    url = f"amqp://guest:guest@{scene.bed.hub_ip}:{slow.port}//"
    scene.worker("worker-slow", PIXELFLOW_BROKER_URL=url)
    scene.host("worker-slow").shape("1mbit")
    ids = scene.submit(bed_client, 4)
    seconds = scene.check(name, bed_app, bed_client, ids, timeout=180)
    recovered(name, len(ids), "until every job ended", seconds, None)


def test_the_brokers_host_vanishing_while_workers_hold_deliveries_loses_no_job_and_repeats_none(
    scene: Scene, services: Services, bed_app: Flask, bed_client: FlaskClient
) -> None:
    name = "the broker's host vanishes for 30 s while workers hold deliveries"
    scene.relay("relay-a")
    worker = scene.worker("worker-a", "transform:sleep")
    ids = scene.submit(bed_client, 4)
    worker.wait_for_task("transform")
    mq = services.hosts["mq"]
    mq.cut()
    try:
        time.sleep(30)
    finally:
        mq.heal()
    healed = time.monotonic()
    scene.check(name, bed_app, bed_client, ids, timeout=180)
    recovered(
        name, len(ids), "from the broker's host coming back until every job ended", time.monotonic() - healed, None
    )
