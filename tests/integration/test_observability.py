"""Visibility from real processes: worker and exporter metrics, Flower, and the
Prometheus rules and Grafana dashboard checked against what is really exported."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import yaml
from flask.testing import FlaskClient

from config import Settings
from tests import images
from tests.conftest import RUN_ID
from tests.support.api import upload
from tests.support.metrics import Samples, parse, scrape, value
from tests.support.stack import BIN, ROOT, Exporter, Process, Worker, free_port, listening, wait_until


def test_the_workers_and_the_exporter_count_what_happened(
    client: FlaskClient, stack: Any, settings: Settings, tmp_path: Path
) -> None:
    exporter = Exporter(tmp_path / "exporter.log", free_port(), stack.env)
    exporter.start()
    stack.processes.append(exporter)
    keys = [upload(client, images.jpeg(640, 480)), upload(client, images.png_with_alpha(300, 200), "image/png")]
    keys.append(upload(client, b"these bytes are no image at all" * 20, "image/png"))  # fails in validate
    api_before = parse(client.get("/metrics").get_data(as_text=True))
    ids = [
        client.post("/v1/jobs", json={"source": {"key": key}, "outputs": [{"name": "a", "format": "webp"}]}).json["id"]
        for key in keys
    ]
    canceled = client.post("/v1/jobs", json={"source": {"key": keys[0]}, "outputs": [{"name": "a", "format": "png"}]})
    assert client.post(f"/v1/jobs/{canceled.json['id']}/cancel").json["status"] == "canceled"

    # No relay yet: the jobs wait in the outbox, and the exporter says so.
    before = scrape(exporter.port)
    assert value(before, "pixelflow_exporter_up", dependency="broker") == 1
    assert value(before, "pixelflow_exporter_up", dependency="database") == 1
    assert value(before, "pixelflow_outbox_unsent") >= 3
    assert value(before, "pixelflow_outbox_oldest_unsent_seconds") > 0
    assert value(before, "pixelflow_jobs_unfinished", status="queued") >= 3
    assert value(before, "pixelflow_queue_consumers", queue=stack.queue, role="work") == 0  # not even declared yet

    relay_port = free_port()
    stack.relay(PIXELFLOW_RELAY_METRICS_PORT=str(relay_port))
    worker_port = free_port()
    stack.worker(PIXELFLOW_WORKER_METRICS_PORT=str(worker_port))

    def ended() -> list[dict[str, Any]] | None:
        now: list[dict[str, Any]] = [client.get(f"/v1/jobs/{i}").json or {} for i in ids]
        return now if all(j["status"] not in ("queued", "processing") for j in now) else None

    jobs = wait_until(ended, 90, "the jobs to end", interval=0.3)
    assert [j["status"] for j in jobs] == ["succeeded", "succeeded", "failed"]
    assert jobs[2]["error"]["code"] == "unsupported_format"

    # Two pool children counted; the main process serves the sum.
    worker = scrape(worker_port)
    assert value(worker, "pixelflow_worker_steps_total", step="fetch", outcome="ok") == 3
    assert value(worker, "pixelflow_worker_steps_total", step="validate", outcome="ok") == 2
    assert value(worker, "pixelflow_worker_steps_total", step="validate", outcome="permanent_error") == 1
    assert value(worker, "pixelflow_worker_steps_total", step="transform", outcome="ok") == 2
    assert value(worker, "pixelflow_worker_steps_total", step="upload", outcome="ok") == 2
    assert value(worker, "pixelflow_worker_step_duration_seconds_count", step="transform") == 2
    assert value(worker, "pixelflow_worker_step_duration_seconds_sum", step="transform") > 0
    assert value(worker, "pixelflow_worker_jobs_finished_total", status="succeeded", code="") == 2
    assert value(worker, "pixelflow_worker_jobs_finished_total", status="failed", code="unsupported_format") == 1

    # The failed job retried fails again. Every run begun has ended once: the dashboard's "accepted and
    # finished" panel balances (4 new + 1 retry = 2 succeeded + 2 failed + 1 canceled).
    assert client.post(f"/v1/jobs/{ids[2]}/retry").status_code == 202
    jobs = wait_until(ended, 60, "the retried job to end", interval=0.3)
    assert jobs[2]["status"] == "failed"
    worker = wait_until(
        lambda: (
            (w := scrape(worker_port))
            and value(w, "pixelflow_worker_jobs_finished_total", status="failed", code="unsupported_format") == 2
            and w
        ),
        30,
        "the retry's end counted",
    )
    api_after = parse(client.get("/metrics").get_data(as_text=True))

    def api_delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return api_after.get(key, 0.0) - api_before.get(key, 0.0)

    begun = api_delta("pixelflow_jobs_accepted_total", how="new") + api_delta(
        "pixelflow_jobs_accepted_total", how="retry"
    )
    relay = scrape(relay_port)
    finished = sum(v for (name, _), v in worker.items() if name == "pixelflow_worker_jobs_finished_total")
    finished += sum(v for (name, _), v in relay.items() if name == "pixelflow_relay_jobs_finished_total")
    assert (begun, finished + api_delta("pixelflow_jobs_canceled_total")) == (5, 5)

    def drained() -> Samples | None:
        now = scrape(exporter.port)
        waiting = value(now, "pixelflow_outbox_unsent") + value(
            now, "pixelflow_queue_messages_ready", queue=stack.queue, role="work"
        )
        return now if waiting == 0 else None

    after = wait_until(drained, 30, "the outbox and the queue to drain", interval=0.5)
    assert value(after, "pixelflow_queue_consumers", queue=stack.queue, role="work") == 1
    assert value(after, "pixelflow_outbox_oldest_unsent_seconds") == 0
    assert value(relay, "pixelflow_relay_published_total") == 5  # 4 new chains and the retry's
    assert ("pixelflow_queue_messages_ready", (("queue", f"{stack.queue}.dead"), ("role", "dead-letters"))) in after

    # Every pixelflow_* series the alert rules and the dashboard name is one the processes export.
    api = parse(client.get("/metrics").get_data(as_text=True))
    exported = {name for name, _ in (*api, *worker, *after, *relay)}
    named = referenced_metrics()
    assert named, "no metric found in the rules and the dashboard"
    assert named - exported == set()


def referenced_metrics() -> set[str]:
    rules = yaml.safe_load((ROOT / "charts/pixelflow/files/prometheus/alerts.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((ROOT / "charts/pixelflow/files/grafana/pixelflow.json").read_text())
    exprs += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    return {name for expr in exprs for name in re.findall(r"\bpixelflow_[a-z_]+\b", expr)}


def test_the_exporter_answers_with_its_dependencies_down(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens there
    exporter = Exporter(
        tmp_path / "exporter.log",
        free_port(),
        {
            "PIXELFLOW_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{closed}//",
            "PIXELFLOW_DATABASE_URL": f"postgresql://pixelflow@127.0.0.1:{closed}/pixelflow",
        },
    )
    exporter.start()
    try:
        samples = scrape(exporter.port)  # within the timeout: Prometheus would still get an answer
        assert value(samples, "pixelflow_exporter_up", dependency="broker") == 0
        assert value(samples, "pixelflow_exporter_up", dependency="database") == 0
        assert not [name for name, _ in samples if name.startswith(("pixelflow_queue", "pixelflow_outbox"))]
    finally:
        exporter.stop()


def test_flower_sees_the_workers_and_wants_a_password(worker: Worker, tmp_path: Path) -> None:
    port = free_port()
    flower = Process(
        "flower",
        [str(BIN / "python"), "-m", "tasks.flower", "--address=127.0.0.1", f"--port={port}"],  # the image's role
        tmp_path / "flower.log",
        {"FLOWER_BASIC_AUTH": "ops:flower-secret"},
    )
    flower.start()
    try:
        wait_until(lambda: listening("127.0.0.1", port) or not flower.alive(), 30, "Flower to listen")
        assert flower.alive(), flower.output()
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/api/workers", timeout=10).status_code == 401
        workers = httpx.get(f"{base}/api/workers?refresh=1", auth=("ops", "flower-secret"), timeout=30)
        assert workers.status_code == 200, workers.text
        assert any(name.startswith(f"pixelflow-test-{RUN_ID}@") for name in workers.json()), workers.json()
        # Its metrics name every worker and task: behind the same login (Flower serves them open).
        assert httpx.get(f"{base}/metrics", timeout=10).status_code == 401
        metrics = httpx.get(f"{base}/metrics", auth=("ops", "flower-secret"), timeout=10)
        assert metrics.status_code == 200 and "flower_" in metrics.text
        assert httpx.get(f"{base}/healthcheck", timeout=10).status_code == 200  # probes carry no login
    finally:
        flower.stop()
