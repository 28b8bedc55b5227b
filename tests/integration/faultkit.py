"""What the fault suite shares: a stack of its own (queue, relay, workers) and the oracle.

The oracle, after each scenario: every job that got a 202 ends in exactly one
terminal state; one object per output key and nothing left in staging; each
job announced under one webhook-id (however often it arrived); the work
queues drained. Attempts may exceed effects; lost must be zero.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from kombu import Connection
from kombu.exceptions import OperationalError

from config import Settings
from core.objectstore import S3ObjectStore
from tasks.topology import delete_all
from tests.integration.conftest import RecordingServer
from tests.support.stack import Relay, Worker, wait_until

# scenario → (jobs, lost, duplicated, result), printed at the end of the session.
RESULTS: dict[str, tuple[int, int, int, str]] = {}
# Across hosts: scenario → (jobs, what was measured, seconds, the bound or None), printed at the end.
RECOVERY: dict[str, tuple[int, str, float, float | None]] = {}


@dataclass
class FaultStack:
    settings: Settings
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)
    processes: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.env.setdefault("PIXELFLOW_QUEUE", f"{self.settings.queue}-suite-{uuid.uuid4().hex[:6]}")

    @property
    def queue(self) -> str:
        """The stack's queue: its processes' PIXELFLOW_QUEUE (a test may point it elsewhere)."""
        return self.env["PIXELFLOW_QUEUE"]

    def relay(self, failpoints: list[str] | None = None, **env: str) -> Relay:
        relay = Relay(
            self.tmp / f"relay-{len(self.processes)}.log",
            {**self.env, "PIXELFLOW_FAILPOINTS": ",".join(failpoints or []), **env},
        )
        relay.start()
        self.processes.append(relay)
        return relay

    def worker(
        self, failpoints: list[str] | None = None, concurrency: int = 2, extra: list[str] | None = None, **env: str
    ) -> Worker:
        """A worker on the stack's queues (``extra``: more arguments of ``celery worker``, -Q, --pool…)."""
        worker = Worker(
            f"suite-{len(self.processes)}-{self.queue}",
            self.tmp / f"worker-{len(self.processes)}.log",
            concurrency,
            {**self.env, "PIXELFLOW_FAILPOINTS": ",".join(failpoints or []), **env},
            extra,
        )
        worker.start()
        self.processes.append(worker)
        return worker

    def close(self) -> None:
        for process in self.processes:
            process.stop()
        # A node of the test's own may already be gone with its queues.
        with (
            contextlib.suppress(OperationalError, OSError),
            Connection(self.env.get("PIXELFLOW_BROKER_URL", self.settings.broker_url), connect_timeout=3) as conn,
        ):
            delete_all(conn, self.settings.model_copy(update={"queue": self.queue}))


def recovered(name: str, jobs: int, measured: str, seconds: float, bound: float | None) -> None:
    """A scenario's recovery time, printed at the end of the session; within ``bound`` seconds if one is set."""
    RECOVERY[name] = (jobs, measured, round(seconds, 1), bound)
    if bound is not None:
        assert seconds <= bound, f"{name}: recovered in {seconds:.1f} s, bound {bound} s"


def submit(client: FlaskClient, keys: list[str], hook: str, count: int) -> list[str]:
    ids = []
    for i in range(count):
        response = client.post(
            "/v1/jobs",
            json={
                "source": {"key": keys[i % len(keys)]},
                "webhook_url": hook,
                "outputs": [{"name": "a", "format": "webp", "width": 64}, {"name": "b", "format": "png"}],
            },
        )
        assert response.status_code == 202, response.json
        ids.append(response.json["id"])
    return ids


def oracle(
    scenario: str,
    client: FlaskClient,
    ids: list[str],
    peer: RecordingServer,
    store: S3ObjectStore,
    broker_url: str,
    queue: str,
    timeout: float = 120,
) -> list[dict[str, Any]]:
    def ended() -> list[dict[str, Any]] | None:
        jobs: list[dict[str, Any]] = [client.get(f"/v1/jobs/{i}").json or {} for i in ids]
        return jobs if all(j["status"] in ("succeeded", "failed", "canceled") for j in jobs) else None

    try:
        jobs = wait_until(ended, timeout, f"{scenario}: every job to end", interval=0.5)
    except TimeoutError:
        jobs = [client.get(f"/v1/jobs/{i}").json or {} for i in ids]
    lost = sum(j["status"] not in ("succeeded", "failed", "canceled") for j in jobs)
    duplicated = 0
    for job in jobs:
        if job["status"] == "succeeded":
            prefix = job["outputs"][0]["key"].rsplit("/", 1)[0] + "/"
            names = {o.rsplit("/", 1)[-1] for o in _keys(store, prefix)}
            duplicated += len(names) != len(job["outputs"])
            duplicated += bool(_keys(store, f"staging/{job['id']}/"))
    # Webhooks: each job announced under one webhook-id, however many deliveries. Waited
    # for until each is answered 2xx: a delivery refused is retried, and its retry sits
    # in the queue until then.
    if lost == 0:
        wait_until(lambda: _delivered(peer) >= set(ids), 30, f"{scenario}: webhooks", interval=0.2)
    for job_id in ids:
        ids_seen = {h["webhook-id"] for _, _, h, body in _posts(peer) if json.loads(body)["data"]["id"] == job_id}
        duplicated += len(ids_seen) > 1
    with Connection(broker_url) as conn:
        ready = sum(conn.default_channel.queue_declare(q, passive=True)[1] for q in (queue, f"{queue}.transform"))
    result = "pass" if lost == 0 and duplicated == 0 and ready == 0 else "FAIL"
    RESULTS[scenario] = (len(ids), lost, duplicated, result + ("" if ready == 0 else f" ({ready} left in queue)"))
    assert lost == 0, [j for j in jobs if j["status"] not in ("succeeded", "failed", "canceled")]
    assert duplicated == 0
    assert ready == 0
    return jobs


def _keys(store: S3ObjectStore, prefix: str) -> list[str]:
    return [o.object_name for o in store.client.list_objects(store.bucket, prefix=prefix, recursive=True)]


def _posts(peer: RecordingServer) -> list[tuple[str, str, dict[str, str], bytes]]:
    return [r for r in peer.requests if r[0] == "POST"]


def announced(peer: RecordingServer) -> set[str]:
    """The job ids the webhook receiver was told about."""
    return _hooked(peer)


def _delivered(peer: RecordingServer) -> set[str]:
    return {json.loads(body)["data"]["id"] for body in peer.delivered}


def _hooked(peer: RecordingServer) -> set[str]:
    return {json.loads(body)["data"]["id"] for _, _, _, body in _posts(peer)}
