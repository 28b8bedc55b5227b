"""What the API tests do as a client: upload, create a job and wait for its end, check an error's shape."""

from __future__ import annotations

from typing import Any

import httpx
import standardwebhooks
from flask.testing import FlaskClient

from tests import images
from tests.support.stack import wait_until

# A request the test's HTTP peer received: (method, path, headers, body).
Request = tuple[str, str, dict[str, str], bytes]


def upload(client: FlaskClient, data: bytes, content_type: str = "image/jpeg", name: str = "a.jpg") -> str:
    slot = client.post("/v1/uploads", json={"content_type": content_type, "file_name": name})
    assert slot.status_code == 201, slot.json
    body = slot.json
    assert body is not None
    response = httpx.put(body["url"], content=data, headers=body["headers"])
    assert response.status_code == 200
    return str(body["key"])


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.json
    body = response.json
    assert body["code"] == code and body["status"] == status and body["message"]
    return body  # type: ignore[no-any-return]


def run_job(client: FlaskClient, spec: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    created = client.post("/v1/jobs", json=spec)
    assert created.status_code == 202, created.json
    job_id = created.json["id"]

    def ended() -> dict[str, Any] | None:
        job = client.get(f"/v1/jobs/{job_id}").json
        return job if job["status"] in ("succeeded", "failed") else None

    return wait_until(ended, timeout, f"job {job_id} to end", interval=0.2)


def posts(peer: Any, path: str) -> list[Request]:
    return [r for r in peer.requests if r[0] == "POST" and r[1] == path]


def job_with_hook(client: FlaskClient, url: str) -> dict[str, Any]:
    key = upload(client, images.jpeg(120, 80))
    return run_job(client, {"source": {"key": key}, "outputs": [{"name": "a", "format": "png"}], "webhook_url": url})


def batch_events(peer: Any, path: str, secret: str, n: int = 1, timeout: float = 60) -> list[dict[str, Any]]:
    """The first ``n`` events POSTed to ``path``, verified as a receiver would (Standard Webhooks), each with its
    webhook-id as ``id``."""

    def got() -> list[Request] | None:
        found = posts(peer, path)
        return found if len(found) >= n else None

    events = []
    for _, _, headers, body in wait_until(got, timeout, f"{n} events at {path}"):
        wanted = {k.lower(): v for k, v in headers.items() if k.lower().startswith("webhook-")}
        event = standardwebhooks.Webhook(secret).verify(body, wanted)
        events.append({**event, "id": wanted["webhook-id"]})
    return events
