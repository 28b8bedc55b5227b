"""Uploads that expire or are too large, security headers, and secrets kept out of logs and Sentry."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient

from config import Settings
from tests import images
from tests.conftest import WEBHOOK_SECRET
from tests.integration.conftest import ROOT, RecordingServer, Worker, authed, wait_until
from tests.support.api import run_job, upload


@pytest.fixture()
def strict_app(services_up: None, settings: Settings) -> Iterator[Flask]:
    """The API with a 1-second upload expiry."""
    yield from app_with(settings, upload_url_ttl=1)


def app_with(settings: Settings, **changes: object) -> Iterator[Flask]:
    from app import create_app

    flask_app = create_app(settings.model_copy(update=changes))
    flask_app.config["TESTING"] = True
    yield flask_app
    flask_app.extensions["pixelflow"].jobs.close()


def test_an_expired_upload_url_is_refused_by_the_storage(strict_app: Flask, api_key: str, worker: Worker) -> None:
    client = authed(strict_app, api_key)
    slot = client.post("/v1/uploads", json={"content_type": "image/png", "file_name": "late.png"}).json
    time.sleep(2.1)
    late = httpx.put(slot["url"], content=images.png_with_alpha(20, 20), headers=slot["headers"])
    assert late.status_code == 403 and b"expired" in late.content.lower()
    # Nothing was stored, so nothing can be processed: the job is accepted (the API asks storage nothing) and
    # fetch fails it, as it fails a URL that answers 404.
    job = run_job(client, {"source": {"key": slot["key"]}, "outputs": [{"name": "a", "format": "png"}]})
    assert job["status"] == "failed" and job["error"]["code"] == "source_not_found"
    assert job["error"]["message"] == f"nothing was uploaded at {slot['key']!r}"
    assert "fetch" not in job["steps"], job["steps"]  # the chain's first step failed it


def test_an_oversized_upload_fails_its_job_before_a_byte_is_read(client: FlaskClient, stack: Any) -> None:
    stack.relay()
    stack.worker(PIXELFLOW_MAX_SOURCE_BYTES="20000")
    data = images.png_with_alpha(400, 400)
    assert len(data) > 20_000
    key = upload(client, data, "image/png", "big.png")
    job = run_job(client, {"source": {"key": key}, "outputs": [{"name": "a", "format": "png"}]})
    assert job["status"] == "failed" and job["error"]["code"] == "source_too_large"
    assert str(len(data)) in job["error"]["message"] and "20000" in job["error"]["message"]
    assert [o["key"] for o in job["outputs"]] == [None]  # nothing was rendered


@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/jobs/nope", "/healthz", "/openapi.json"])
def test_every_response_carries_the_security_headers(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert ("no-store" in response.headers.get("Cache-Control", "")) == path.startswith("/v1/")


def test_swagger_ui_may_load_its_assets_and_nothing_else(client: FlaskClient, app: Flask) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "script-src https://cdn.jsdelivr.net" in csp and "frame-ancestors 'none'" in csp
    assert app.config["OPENAPI_SWAGGER_UI_URL"].startswith("https://cdn.jsdelivr.net/")
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP here
    secure = client.get("/healthz", base_url="https://api.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_a_webhook_password_never_reaches_the_worker_log(
    client: FlaskClient, worker: Worker, http_peer: RecordingServer
) -> None:
    http_peer.post_status["/hook"] = [503, 200]  # the retry is logged with the error, and so the URL
    password = "hunter2-webhook-password"
    hook = http_peer.url.replace("http://", f"http://hooks:{password}@") + "/hook"
    key = upload(client, images.jpeg(64, 64))
    job = run_job(client, {"source": {"key": key}, "outputs": [{"name": "a", "format": "png"}], "webhook_url": hook})
    assert job["status"] == "succeeded"
    wait_until(lambda: "answered 503" in worker.output(), 20, "the retried delivery in the log")
    log = worker.output()
    assert "hooks:[redacted]@" in log
    assert password not in log


def _envelopes(server: RecordingServer) -> list[str]:
    bodies = []
    for method, path, headers, body in server.requests:
        if method == "POST" and path.endswith("/envelope/"):
            if {k.lower(): v for k, v in headers.items()}.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            bodies.append(body.decode())
    return bodies


def _items(envelope: str) -> list[tuple[str, Any]]:
    """(type, payload) of each item of a Sentry envelope: a header line, then header and payload lines."""
    lines = envelope.splitlines()[1:]
    return [(json.loads(lines[i])["type"], json.loads(lines[i + 1])) for i in range(0, len(lines) - 1, 2)]


SENTRY_SCRIPT = """
import logging, sys
import sentry_sdk
from app import create_app

key, secret, presigned = sys.argv[1:4]
app = create_app()

@app.get("/boom")
def boom():
    raise RuntimeError(f"the peer refused Bearer {key} signed with {secret}; see {presigned}")

client = app.test_client()
status = client.get("/boom", headers={"Authorization": f"Bearer {key}"}).status_code
logging.getLogger("pixelflow.test").error("could not call %s with %s", presigned, secret)
sentry_sdk.flush(10)
print(status)
"""


def test_sentry_events_are_scrubbed_of_keys_secrets_and_signatures(
    services_up: None, http_peer: RecordingServer
) -> None:
    key = "pf_" + "k" * 43
    presigned = "http://127.0.0.1:9000/b/o.png?X-Amz-Credential=AKIDEXAMPLE%2F2026&X-Amz-Signature=" + "f" * 64
    env = {**os.environ, "PIXELFLOW_SENTRY_DSN": f"http://publickey@127.0.0.1:{http_peer.server_address[1]}/1"}
    result = subprocess.run(
        [sys.executable, "-c", SENTRY_SCRIPT, key, WEBHOOK_SECRET, presigned],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.strip() == "500", result.stderr
    sent = wait_until(lambda: len(_envelopes(http_peer)) >= 2 and _envelopes(http_peer), 10, "two Sentry events")
    events = [event for body in sent for kind, event in _items(body) if kind == "event"]
    assert {e["level"] for e in events} == {"error"}
    assert any(v["type"] == "RuntimeError" for e in events for v in e.get("exception", {}).get("values", []))
    text = "\n".join(sent) + result.stderr
    for secret in (key, key[3:], WEBHOOK_SECRET, "f" * 64, "AKIDEXAMPLE"):
        assert secret not in text, secret
    assert "[redacted]" in "\n".join(sent)


def test_a_password_in_a_source_url_is_not_repeated_in_the_jobs_error(
    client: FlaskClient, worker: Worker, http_peer: RecordingServer
) -> None:
    source = http_peer.url.replace("http://", "http://images:source-password-9@") + "/missing.jpg"
    job = run_job(client, {"source": {"url": source}, "outputs": [{"name": "a", "format": "png"}]})
    assert job["error"]["code"] == "source_not_found"
    assert "images:[redacted]@" in job["error"]["message"] and "source-password-9" not in job["error"]["message"]


def test_an_upload_stored_with_another_content_type_fails_its_job_at_fetch(client: FlaskClient, worker: Worker) -> None:
    slot = client.post("/v1/uploads", json={"content_type": "image/png", "file_name": "page.png"}).json
    stored = httpx.put(slot["url"], content=b"<html><script>alert(1)</script>", headers={"Content-Type": "text/html"})
    assert stored.status_code == 200  # a presigned PUT does not bind the header; fetch checks it instead
    job = run_job(client, {"source": {"key": slot["key"]}, "outputs": [{"name": "a", "format": "png"}]})
    assert job["status"] == "failed" and job["error"]["code"] == "unsupported_format"
    assert "text/html" in job["error"]["message"]
    assert "fetch" not in job["steps"], job["steps"]  # the chain's first step failed it
