"""The event streams (Server-Sent Events) under gunicorn's gevent worker, read by httpx-sse, a client no one here
wrote: a job's steps as they run, a batch's items as they end, resuming from Last-Event-ID, and many open streams
that leave ordinary requests alone."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient
from httpx_sse import ServerSentEvent, connect_sse

from tests import images
from tests.integration.conftest import Worker, wait_until
from tests.support.api import upload
from tests.support.stack import Api, free_port

OUTPUTS = [{"name": "small", "format": "webp", "width": 48}]


class HeldImage(BaseHTTPRequestHandler):
    """An image source that answers once the test lets it: the job waits in fetch meanwhile."""

    release: threading.Event

    def do_GET(self) -> None:
        type(self).release.wait(60)
        body = images.jpeg(96, 64)
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def held() -> Iterator[tuple[str, threading.Event]]:
    release = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Held", (HeldImage,), {"release": release}))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/held.jpg", release
    release.set()
    server.shutdown()
    server.server_close()


def start_api(tmp_path: Path, worker_class: str | None = None, workers: int = 2) -> Api:
    env = {"PIXELFLOW_EVENTS_HEARTBEAT": "0.5"}
    if worker_class:
        env["GUNICORN_CMD_ARGS"] = f"--worker-class={worker_class}"
    log = tmp_path / f"api-{worker_class or 'default'}.log"
    api = Api(f"127.0.0.1:{free_port()}", log, env, workers=workers, threads=4)
    api.start()
    return api


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, worker: Worker) -> Iterator[Api]:
    served = start_api(tmp_path_factory.mktemp("events"))
    yield served
    served.stop()


def http(api: Api, key: str, timeout: float = 30) -> httpx.Client:
    return httpx.Client(base_url=f"http://{api.bind}", headers={"Authorization": f"Bearer {key}"}, timeout=timeout)


def read(client: httpx.Client, path: str, last_event_id: str | None = None, first: Any = None) -> list[ServerSentEvent]:
    """Every event of the stream until the server ends it (``first`` is called on the first one). The stream
    opens with its reconnection delay (``retry:``), which httpx-sse hands over as an event with no data."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    got: list[ServerSentEvent] = []
    with connect_sse(client, "GET", path, headers=headers) as source:
        assert source.response.status_code == 200, source.response.read()
        assert source.response.headers["content-type"].startswith("text/event-stream")
        for n, event in enumerate(source.iter_sse()):
            if n == 0:
                assert (event.retry, event.data) == (2000, "")
                continue
            got.append(event)
            if first is not None and len(got) == 1:
                first()
    return got


def test_a_job_s_stream_tells_each_step_as_it_starts_and_ends_then_its_end(
    api: Api, api_key: str, client: FlaskClient, held: tuple[str, threading.Event]
) -> None:
    url, release = held
    job = client.post("/v1/jobs", json={"source": {"url": url}, "outputs": OUTPUTS}).json
    wait_until(lambda: client.get(f"/v1/jobs/{job['id']}").json["status"] == "processing", 30, "fetch to start")
    with http(api, api_key) as session:
        events = read(session, f"/v1/jobs/{job['id']}/events", first=release.set)
        told = [(e.id, e.event) for e in events if e.event != "step.started"]
        assert told == [
            ("1", "job.started"),  # from the row: the stream opened while fetch was running
            ("2", "step.ended"),
            ("3", "step.ended"),
            ("4", "step.ended"),
            ("5", "step.ended"),
            ("6", "job.ended"),
        ]
        steps = [(e.event, e.json()["step"]) for e in events if e.event in ("step.started", "step.ended")]
        # Live from fetch's end on: each later step is told as it starts, then as it ends.
        assert steps == [
            ("step.ended", "fetch"),
            ("step.started", "validate"),
            ("step.ended", "validate"),
            ("step.started", "transform"),
            ("step.ended", "transform"),
            ("step.started", "upload"),
            ("step.ended", "upload"),
        ]
        ended = events[-1].json()
        assert ended["id"] == job["id"] and ended["status"] == "succeeded" and ended["outputs"][0]["url"]
        assert all(e.json()["job"] == job["id"] for e in events[:-1])
        # Resumed: only what came after the last event seen, from the job's row.
        again = read(session, f"/v1/jobs/{job['id']}/events", last_event_id="3")
        assert [(e.id, e.event) for e in again] == [("4", "step.ended"), ("5", "step.ended"), ("6", "job.ended")]
        # After its end there is nothing more: 204 tells an EventSource to stop.
        assert session.get(f"/v1/jobs/{job['id']}/events", headers={"Last-Event-ID": "6"}).status_code == 204
        assert session.get("/v1/jobs/01a2c0de-0000-7000-8000-000000000000/events").status_code == 404
    other = httpx.get(f"http://{api.bind}/v1/jobs/{job['id']}/events", timeout=10)
    assert other.status_code == 401


def test_a_stream_sends_heartbeats_while_nothing_happens(
    api: Api, api_key: str, client: FlaskClient, held: tuple[str, threading.Event]
) -> None:
    url, release = held
    job = client.post("/v1/jobs", json={"source": {"url": url}, "outputs": OUTPUTS}).json
    lines: list[str] = []
    with http(api, api_key) as session, session.stream("GET", f"/v1/jobs/{job['id']}/events") as response:
        started = time.monotonic()
        for line in response.iter_lines():
            lines.append(line)
            if lines.count(": heartbeat") >= 2:
                break
        assert time.monotonic() - started < 10
    assert lines[0] == "retry: 2000"
    release.set()


def test_a_batch_s_stream_tells_each_item_s_end_the_counts_and_the_finish(
    api: Api, api_key: str, client: FlaskClient, tenant: str
) -> None:
    key = upload(client, images.jpeg(80, 60))
    body = {
        "items": [{"source": {"key": key}}] * 4 + [{"source": {"key": f"uploads/else-{tenant}/x.jpg"}}],
        "outputs": OUTPUTS,
    }
    batch = client.post("/v1/batches", json=body).json
    with http(api, api_key) as session:
        events = read(session, f"/v1/batches/{batch['id']}/events")
        ended = [e.json() for e in events if e.event == "job.ended"]
        assert len(ended) == 5 and len({e["job"] for e in ended}) == 5  # each item once
        assert sorted(e["status"] for e in ended) == ["failed"] + ["succeeded"] * 4
        counts = [e.json() for e in events if e.event == "batch.counts"]
        assert all(sum(c["counts"].values()) == 5 for c in counts)
        finished = [c["counts"]["succeeded"] + c["counts"]["failed"] for c in counts]
        assert finished == sorted(finished) and finished[-1] == 5
        assert counts[-1]["status"] == "partially_failed"
        assert events[-1].event == "batch.finished" and events[-1].json()["manifest_url"]
        # Resumed after the third ending: the rest of them (those just before it again, at most), then the finish.
        third = [e for e in events if e.event == "job.ended"][2]
        again = read(session, f"/v1/batches/{batch['id']}/events", last_event_id=third.id)
        resumed = {e.json()["job"] for e in again if e.event == "job.ended"}
        assert {e["job"] for e in ended[3:]} <= resumed
        assert again[-1].event == "batch.finished"
        done = session.get(f"/v1/batches/{batch['id']}/events", headers={"Last-Event-ID": events[-1].id or ""})
        assert done.status_code == 204


@pytest.mark.parametrize(("worker_class", "starves"), [(None, False), ("gthread", True)])
def test_open_streams_do_not_hold_up_other_requests(
    tmp_path: Path,
    worker: Worker,
    api_key: str,
    client: FlaskClient,
    held: tuple[str, threading.Event],
    worker_class: str | None,
    starves: bool,
) -> None:
    # One worker: with gthread's 4 threads, 4 streams take every thread; the gevent worker (the default) holds
    # each stream in a greenlet. (With two workers, which one accepts each connection is up to the kernel: one
    # that booted later, or lost the accepts, kept a free thread and answered everything.)
    url, release = held
    served = start_api(tmp_path, worker_class, workers=1)
    job = client.post("/v1/jobs", json={"source": {"url": url}, "outputs": OUTPUTS}).json
    opened = threading.Semaphore(0)
    results: list[str] = []

    def follow() -> None:
        with http(served, api_key, timeout=60) as session:
            events = read(session, f"/v1/jobs/{job['id']}/events", first=opened.release)
            results.append(events[-1].event)

    streams = [threading.Thread(target=follow, daemon=True) for _ in range(24)]
    try:
        for thread in streams:
            thread.start()
        deadline = time.monotonic() + 20
        connected = 0
        streaming = 4 if starves else 24
        while connected < streaming and opened.acquire(timeout=max(deadline - time.monotonic(), 0.01)):
            connected += 1
        assert connected == streaming
        answered = 0
        with http(served, api_key, timeout=3) as session:
            for _ in range(10):
                with contextlib.suppress(httpx.TimeoutException):
                    answered += session.get(f"/v1/jobs/{job['id']}").status_code == 200
        if starves:
            assert answered == 0, "gthread answered requests with its threads all streaming"
        else:
            assert answered == 10
            release.set()
            for thread in streams:
                thread.join(60)
            assert results == ["job.ended"] * 24
    finally:
        release.set()
        served.stop()
