"""/metrics: open, labelled by route, and summed over every gunicorn worker."""

from __future__ import annotations

import re
import tempfile
import uuid
from pathlib import Path

import httpx
from flask.testing import FlaskClient
from prometheus_client.mmap_dict import MmapedDict

from tests import images
from tests.support.api import upload
from tests.support.stack import Api, free_port


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in the Prometheus text format (0 if absent)."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            return float(match.group(2))
    return 0.0


def test_metrics_are_open_and_labelled_by_route_not_by_id(client: FlaskClient) -> None:
    anonymous = client.application.test_client()
    before = anonymous.get("/metrics").text
    job_id = uuid.uuid4()
    assert client.get(f"/v1/jobs/{job_id}").status_code == 404
    assert anonymous.get("/v1/jobs").status_code == 401
    key = upload(client, images.jpeg(64, 64))
    body = {"source": {"key": key}, "outputs": [{"name": "a", "format": "png"}]}
    assert client.post("/v1/jobs", json=body).status_code == 202
    response = anonymous.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    text = response.text
    route = "/v1/jobs/<uuid:job_id>"
    assert (
        sample(text, "pixelflow_http_requests_total", route=route, status="404")
        == sample(before, "pixelflow_http_requests_total", route=route, status="404") + 1
    )
    assert sample(text, "pixelflow_http_requests_total", route="/v1/jobs", method="GET", status="401") >= 1
    assert sample(text, "pixelflow_http_request_duration_seconds_count", route=route) >= 1
    accepted = sample(text, "pixelflow_jobs_accepted_total", how="new")
    assert accepted == sample(before, "pixelflow_jobs_accepted_total", how="new") + 1
    assert str(job_id) not in text


def healthz_by_worker(directory: Path) -> dict[str, float]:
    """/healthz requests counted in each worker's file."""
    counted = {}
    for path in directory.glob("counter_*.db"):
        values = MmapedDict.read_all_values_from_file(str(path))  # type: ignore[no-untyped-call]
        counted[path.name] = sum(v[1] for v in values if '"/healthz"' in v[0] and "requests_total" in v[0])
    return counted


def test_every_gunicorn_worker_counts_into_one_answer(services_up: None, tmp_path: Path) -> None:
    shared = tmp_path / "metrics"
    shared.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(shared)}
    api = Api(f"127.0.0.1:{free_port()}", tmp_path / "api.log", env, workers=2, threads=1)
    api.start()
    try:
        base = f"http://{api.bind}"
        sent = 0
        # New connections until both workers have answered some (bounded), then one total from any worker.
        while sent < 300 and (sent < 30 or min(healthz_by_worker(shared).values(), default=0) == 0):
            with httpx.Client() as fresh:
                assert fresh.get(f"{base}/healthz").status_code == 200
            sent += 1
        by_worker = healthz_by_worker(shared)
        assert len(by_worker) == 2 and min(by_worker.values()) > 0, by_worker
        scrapes = [httpx.get(f"{base}/metrics").text for _ in range(6)]
        counts = {sample(s, "pixelflow_http_requests_total", route="/healthz", status="200") for s in scrapes}
        assert counts == {float(sent)}, (counts, sent)
        assert 'route="/metrics"' not in scrapes[0]
    finally:
        api.stop()
    assert "Traceback" not in api.output(), api.output()


def test_the_metrics_directory_gunicorn_made_is_removed_when_it_stops(services_up: None, tmp_path: Path) -> None:
    api = Api(f"127.0.0.1:{free_port()}", tmp_path / "api.log", workers=1, threads=1)
    before = set(Path(tempfile.gettempdir()).glob("pixelflow-metrics-*"))
    api.start()
    [made] = set(Path(tempfile.gettempdir()).glob("pixelflow-metrics-*")) - before
    httpx.get(f"http://{api.bind}/healthz")
    assert list(made.glob("*.db"))
    api.stop()
    assert not made.exists()
