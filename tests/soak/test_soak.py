"""The soak: 2,000 jobs over about ten minutes while a random schedule of faults runs, then the checker.

In the manner of Jepsen's generator and nemesis: a client submits jobs at a steady pace (retrying what is
refused, under one Idempotency-Key per job, as a careful client does), while a nemesis, from a seeded random
generator, picks one fault at a time and heals it:

- a worker's main process killed (-9), a new worker started;
- a RabbitMQ node killed (-9) and started again (a cluster of three; one down at a time);
- PostgreSQL restarted (fast or immediate stop);
- the S3 server restarted;
- a network cut: a link between every part and PostgreSQL, S3 or one broker node goes (connections dropped,
  connects refused) for some seconds.

Every service is the test's own (tests/support/stack.py), reached through links of its own
(tests/support/forwarder.py), so the nemesis breaks nothing another run uses. Afterwards the checker
(tests/soak/checker.py) reads the database, the storage and the webhook receiver's log and prints the
history's figures. ``make test-soak`` runs it (not ``make test``); PIXELFLOW_SOAK_JOBS, _MINUTES and _SEED
change its size and its schedule.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient
from kombu import Connection

from app import create_app
from config import Settings, get_settings
from core.keystore import KeyStore
from core.migrations import upgrade
from tasks import topology
from tests import images
from tests.conftest import WEBHOOK_SECRET
from tests.integration.conftest import authed
from tests.soak import checker
from tests.support.api import upload
from tests.support.forwarder import Forwarder
from tests.support.stack import BrokerCluster, PgCluster, Relay, S3Server, Worker, free_port, wait_until

JOBS = int(os.environ.get("PIXELFLOW_SOAK_JOBS", "2000"))
MINUTES = float(os.environ.get("PIXELFLOW_SOAK_MINUTES", "10"))
SEED = int(os.environ.get("PIXELFLOW_SOAK_SEED", str(secrets.randbelow(10**6))))
BAD_SOURCES = 0.05  # of the jobs name an upload that is not there: they fail (source_not_found)
HOOK_REFUSALS = 0.05  # of the webhook POSTs are answered 503: delivered again, under the same id


class Receiver(BaseHTTPRequestHandler):
    server: Hooks

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status = 503 if self.server.rng.random() < HOOK_REFUSALS else 200
        verified = checker.verified(WEBHOOK_SECRET, body, headers)
        with self.server.lock:
            self.server.log.write(json.dumps({"headers": headers, "body": body.decode(), "answered": status}) + "\n")
            self.server.log.flush()
            self.server.deliveries.append(checker.Delivery(headers, body, status, verified))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class Hooks(ThreadingHTTPServer):
    """The client's webhook receiver: every POST written to its log as it came, a few refused."""

    def __init__(self, log: Path, rng: random.Random) -> None:
        super().__init__(("127.0.0.1", 0), Receiver)
        self.rng = rng
        self.lock = threading.Lock()
        self.log = log.open("a")
        self.deliveries: list[checker.Delivery] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class Soak:
    """The services, their links, the parts; what the nemesis can break and mend."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.rng = random.Random(SEED)
        # Outside pytest's directory, which the postgres user may not enter.
        self.pg = PgCluster(Path(tempfile.mkdtemp(prefix="pixelflow-soak-pg-")))
        self.broker = BrokerCluster(base / "rmq")
        s3_port = free_port()
        self.s3_keys = {"access_key": "soak", "secret_key": "soak-secret-key"}
        self.s3 = S3Server(
            f"127.0.0.1:{s3_port}", self.s3_keys["access_key"], self.s3_keys["secret_key"], base / "s3", base / "s3.log"
        )
        self.links: dict[str, Forwarder] = {}
        self.workers: list[Worker] = []
        self.relay: Relay | None = None
        self.hooks = Hooks(base / "webhooks.jsonl", random.Random(SEED + 1))
        self.history = checker.History()
        self.settings: Settings | None = None
        self.serving: threading.Thread | None = None

    def start(self) -> Settings:
        self.pg.init()
        self.pg.start()
        with psycopg.connect(self.pg.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE pixelflow")
        self.s3.start()
        self.broker.start()
        self.links["postgresql"] = Forwarder(("127.0.0.1", self.pg.port)).start()
        self.links["s3"] = Forwarder(("127.0.0.1", self.s3.port)).start()
        for n, node in enumerate(self.broker.nodes):
            self.links[f"rabbitmq-{n}"] = Forwarder(("127.0.0.1", node.port)).start()
        database_url = f"postgresql://postgres@127.0.0.1:{self.links['postgresql'].port}/pixelflow"
        broker_url = ";".join(
            f"amqp://guest:guest@127.0.0.1:{self.links[f'rabbitmq-{n}'].port}//" for n in range(len(self.broker.nodes))
        )
        upgrade(database_url)
        defaults = Settings.model_fields
        self.settings = get_settings().model_copy(
            update={
                "database_url": database_url,
                "broker_url": broker_url,
                "queue": f"pixelflow-soak-{secrets.token_hex(3)}",
                "s3_endpoint": f"127.0.0.1:{self.links['s3'].port}",
                "s3_bucket": "pixelflow-soak",
                "s3_access_key": self.s3_keys["access_key"],
                "s3_secret_key": self.s3_keys["secret_key"],
                # A deployment's retries, not the suite's short ones: a fault lasts up to 20 s.
                "task_max_retries": defaults["task_max_retries"].default,
                "db_pool_max": defaults["db_pool_max"].default,
            }
        )
        self.env = {
            "PIXELFLOW_DATABASE_URL": database_url,
            "PIXELFLOW_BROKER_URL": broker_url,
            "PIXELFLOW_QUEUE": self.settings.queue,
            "PIXELFLOW_S3_ENDPOINT": self.settings.s3_endpoint,
            "PIXELFLOW_S3_BUCKET": self.settings.s3_bucket,
            "PIXELFLOW_S3_ACCESS_KEY": self.s3_keys["access_key"],
            "PIXELFLOW_S3_SECRET_KEY": self.s3_keys["secret_key"],
            "PIXELFLOW_TASK_MAX_RETRIES": str(self.settings.task_max_retries),
            "PIXELFLOW_DB_POOL_MAX": str(self.settings.db_pool_max),
        }
        with Connection(broker_url, connect_timeout=5) as conn:
            topology.declare(conn, self.settings)
        self.relay = Relay(self.base / "relay.log", self.env)
        self.relay.start()
        for _ in range(2):
            self.add_worker()
        self.serving = threading.Thread(target=self.hooks.serve_forever, daemon=True)
        self.serving.start()
        return self.settings

    def add_worker(self) -> Worker:
        n = len(self.workers)
        worker = Worker(f"soak-{n}-{self.env['PIXELFLOW_QUEUE']}", self.base / f"worker-{n}.log", 2, self.env)
        worker.start()
        self.workers.append(worker)
        return worker

    # The nemesis: one fault at a time, each healed before the next.

    def fault(self, kind: str) -> tuple[str, Callable[[], None]]:
        """Break something of ``kind``; return what was broken and how to mend it."""
        rng = self.rng
        if kind == "worker kill":
            victim = rng.choice([w for w in self.workers if w.alive()])
            os.killpg(victim.pid, signal.SIGKILL)  # the main process and its pool, as a container dies

            def replace() -> None:
                victim.stop()
                self.add_worker()

            return victim.name, replace
        if kind == "broker node kill":
            node = rng.choice(self.broker.nodes)
            os.kill(node.beam_pid(), signal.SIGKILL)

            def back() -> None:
                node.start()
                wait_until(lambda: len(self.broker.running()) == 3, 120, f"{node.name} to rejoin")

            return node.name, back
        if kind == "postgresql restart":
            mode = rng.choice(["fast", "immediate"])
            self.pg.stop(mode)
            return f"stop -m {mode}", self.pg.start
        if kind == "s3 restart":
            self.s3.stop()
            return "nanio", self.s3.start
        link = rng.choice(sorted(self.links))
        self.links[link].cut()
        return link, self.links[link].mend

    def nemesis(self, done: threading.Event) -> None:
        kinds = ["worker kill", "broker node kill", "postgresql restart", "s3 restart", "network cut"]
        while not done.wait(self.rng.uniform(8, 20)):
            kind = self.rng.choice(kinds)
            started = time.monotonic()
            target, mend = self.fault(kind)
            done.wait(self.rng.uniform(3, 20) if kind != "worker kill" else 1)
            mend()
            self.history.faults.append((started, time.monotonic(), kind, target))

    def listen(self, done: threading.Event) -> None:
        """The history of endings: every job.ended the database announces (LISTEN), through its outages."""
        assert self.settings is not None
        while not done.is_set():
            try:
                with psycopg.connect(self.settings.database_url, autocommit=True, connect_timeout=3) as conn:
                    conn.execute("LISTEN pixelflow_events")
                    for note in conn.notifies(timeout=1, stop_after=None):
                        event = json.loads(note.payload)
                        if event.get("type") == "job.ended":
                            self.history.endings.append((event["job"], event["status"]))
                        if done.is_set():
                            break
                    if done.is_set():
                        return
            except psycopg.OperationalError:
                time.sleep(0.5)

    def stop(self) -> None:
        for part in [*self.workers, self.relay]:
            if part is not None:
                part.stop()
        if self.serving is not None:
            self.hooks.shutdown()
        self.hooks.server_close()
        self.hooks.log.close()
        for link in self.links.values():
            link.stop()
        self.broker.stop()
        with contextlib.suppress(subprocess.CalledProcessError):
            self.pg.stop("immediate")
        shutil.rmtree(self.pg.base, ignore_errors=True)
        self.s3.stop()


@pytest.fixture()
def soak(tmp_path: Path) -> Iterator[Soak]:
    own = Soak(tmp_path)
    try:
        yield own
    finally:
        own.stop()


LOCK = threading.Lock()


def submit(client: FlaskClient, body: dict[str, Any], key: str, history: checker.History) -> None:
    """POST until accepted, under one Idempotency-Key: a 503 or 429 meant nothing was taken, or something was
    and the key finds it again."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        response = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": key})
        with LOCK:
            history.answers[response.status_code] += 1
        if response.status_code in (200, 201, 202):
            job_id = response.json["id"]
            with LOCK:
                if history.accepted.setdefault(key, job_id) != job_id:
                    history.conflicts.append(f"{key}: answered {job_id} after {history.accepted[key]}")
            return
        assert response.status_code in (429, 503), response.json  # refused for now, not for good
        time.sleep(max(1.0, float(response.headers.get("Retry-After", 1))))
    raise AssertionError(f"{key}: not accepted in 300 s")


def test_two_thousand_jobs_under_random_faults_end_once_each(soak: Soak) -> None:
    settings = soak.start()
    api = create_app(settings)
    api.config["TESTING"] = True
    tenant = f"soak-{secrets.token_hex(3)}"
    api_key = KeyStore(api.extensions["pixelflow"].jobs).create(tenant, "soak")[1]
    local = threading.local()

    def client() -> FlaskClient:
        if not hasattr(local, "client"):
            local.client = authed(api, api_key)
        return local.client  # type: ignore[no-any-return]

    def send(body: dict[str, Any], key: str) -> None:
        submit(client(), body, key, soak.history)

    sources = [
        upload(client(), images.jpeg(640, 480)),
        upload(client(), images.jpeg(1200, 800)),
        upload(client(), images.png_with_alpha(400, 300), "image/png", "a.png"),
    ]
    history = soak.history
    done = threading.Event()
    threads = [threading.Thread(target=soak.nemesis, args=(done,)), threading.Thread(target=soak.listen, args=(done,))]
    for thread in threads:
        thread.start()
    rng = random.Random(SEED + 2)
    began = time.monotonic()
    try:
        with ThreadPoolExecutor(6) as pool:
            futures = []
            for n in range(JOBS):
                source = rng.choice(sources) if rng.random() >= BAD_SOURCES else f"uploads/{tenant}/missing-{n}.jpg"
                body = {
                    "source": {"key": source},
                    "webhook_url": soak.hooks.url,
                    "outputs": [{"name": "thumb", "format": "webp", "width": 96}]
                    + ([{"name": "large", "format": "jpeg", "width": 320}] if n % 3 == 0 else []),
                }
                futures.append(pool.submit(send, body, f"soak-{n}"))
                time.sleep(max(0.0, began + (n + 1) * MINUTES * 60 / JOBS - time.monotonic()))
            for future in futures:
                future.result()
        submitted = time.monotonic()
    finally:
        done.set()
        threads[0].join()
    ids = list(history.accepted.values())

    def ended() -> bool:
        with psycopg.connect(settings.database_url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM jobs WHERE id = ANY(%s::uuid[])"
                " AND status IN ('succeeded', 'failed', 'canceled')",
                (ids,),
            ).fetchone()
        return bool(row and row[0] == len(ids))

    wait_until(ended, 600, "every accepted job to end", interval=2)
    drained = time.monotonic()

    def announced() -> bool:
        delivered = {json.loads(d.body)["data"]["id"] for d in list(soak.hooks.deliveries) if 200 <= d.answered < 300}
        return delivered >= set(ids)

    wait_until(announced, 300, "every job's webhook", interval=1)
    time.sleep(2)  # a last notification on its way
    threads[1].join()
    history.deliveries = list(soak.hooks.deliveries)
    with Connection(settings.broker_url, connect_timeout=5) as conn:
        ready = sum(
            conn.default_channel.queue_declare(q, passive=True)[1]
            for q in (settings.queue, topology.transform_queue(settings))
        )
    report = checker.check(
        history,
        settings.database_url,
        {"endpoint": f"http://{settings.s3_endpoint}", **soak.s3_keys},
        settings.s3_bucket,
        tenant,
    )
    if ready:
        report.findings.append(f"{ready} messages left in the work queues")
    last_fault = max((end for _, end, _, _ in history.faults), default=submitted)
    report.figures = {
        "seed": SEED,
        "submitting, s": round(submitted - began, 1),
        "from the last POST until every job ended, s": round(drained - submitted, 1),
        "from the last fault healed until every job ended, s": round(max(0.0, drained - last_fault), 1),
        **report.figures,
        "findings": len(report.findings),
    }
    print("\n\nsoak:\n" + checker.table(report.figures))
    print(
        "\nfaults:\n" + "\n".join(f"  {s - began:7.1f}–{e - began:7.1f} s  {k}: {t}" for s, e, k, t in history.faults)
    )
    if report.findings:
        print("\nfindings:\n" + "\n".join(f"  {f}" for f in report.findings[:100]))
    api.extensions["pixelflow"].jobs.close()
    assert len(ids) == JOBS
    assert report.findings == []
