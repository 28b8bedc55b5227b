"""Webhooks the Standard Webhooks way, against a real local receiver and real workers."""

import base64
import json
import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from core import webhooks
from tests.conftest import WEBHOOK_SECRET
from tests.integration.conftest import RecordingServer, Worker, wait_until
from tests.support.api import job_with_hook, posts


def test_a_webhook_is_signed_and_verifiable_by_the_receiver(
    client: FlaskClient, worker: Worker, http_peer: RecordingServer
) -> None:
    job = job_with_hook(client, f"{http_peer.url}/signed")
    [(_, _, headers, body)] = wait_until(lambda: posts(http_peer, "/signed"), 20, "the webhook")
    msg_id, timestamp = headers["webhook-id"], int(headers["webhook-timestamp"])
    assert msg_id.startswith("msg_")
    assert webhooks.verify(WEBHOOK_SECRET, msg_id, timestamp, body, headers["webhook-signature"])
    assert not webhooks.verify(WEBHOOK_SECRET, msg_id, timestamp, body + b" ", headers["webhook-signature"])
    assert json.loads(body)["data"]["id"] == job["id"]


def test_receivers_verify_deliveries_with_the_standard_webhooks_and_svix_libraries(
    client: FlaskClient, worker: Worker, http_peer: RecordingServer
) -> None:
    # Receivers use these libraries, not PixelFlow's verifier: each must accept what notify signs, and refuse it
    # altered or signed with another secret.
    import standardwebhooks
    import svix.webhooks

    job = job_with_hook(client, f"{http_peer.url}/libraries")
    [(_, _, headers, body)] = wait_until(lambda: posts(http_peer, "/libraries"), 20, "the webhook")
    wanted = {k.lower(): v for k, v in headers.items() if k.lower().startswith("webhook-")}
    assert standardwebhooks.Webhook(WEBHOOK_SECRET).verify(body, wanted)["data"]["id"] == job["id"]
    svix.webhooks.Webhook(WEBHOOK_SECRET).verify(body, wanted)  # raises WebhookVerificationError if not
    other = "whsec_" + base64.b64encode(b"some-other-secret-of-enough-bytes").decode()
    for verifier, error in (
        (standardwebhooks.Webhook, standardwebhooks.WebhookVerificationError),
        (svix.webhooks.Webhook, svix.webhooks.WebhookVerificationError),
    ):
        with pytest.raises(error):
            verifier(WEBHOOK_SECRET).verify(body + b" ", wanted)
        with pytest.raises(error):
            verifier(other).verify(body, wanted)


def test_failed_deliveries_are_retried_with_the_same_id_and_every_attempt_is_listed(
    client: FlaskClient, worker: Worker, http_peer: RecordingServer
) -> None:
    http_peer.post_status["/flaky"] = [503, 429, 200]
    job = job_with_hook(client, f"{http_peer.url}/flaky")
    attempts = wait_until(
        lambda: len(posts(http_peer, "/flaky")) >= 3 and posts(http_peer, "/flaky"), 60, "three attempts"
    )
    assert len({h["webhook-id"] for _, _, h, _ in attempts}) == 1
    listed = wait_until(
        lambda: len(items := client.get(f"/v1/jobs/{job['id']}/deliveries").json["items"]) >= 3 and items,
        20,
        "the attempts recorded",
    )
    assert [(d["attempt"], d["status_code"]) for d in listed] == [(1, 503), (2, 429), (3, 200)]
    assert all(d["message_id"] == attempts[0][2]["webhook-id"] for d in listed)


def test_a_410_disables_the_endpoint_for_later_jobs(
    client: FlaskClient, worker: Worker, http_peer: RecordingServer
) -> None:
    http_peer.post_status["/gone"] = 410
    first = job_with_hook(client, f"{http_peer.url}/gone")
    wait_until(lambda: posts(http_peer, "/gone"), 20, "the first webhook")
    second = job_with_hook(client, f"{http_peer.url}/gone")
    record = wait_until(
        lambda: client.get(f"/v1/jobs/{second['id']}/deliveries").json["items"], 20, "the second job's record"
    )
    assert record[0]["error"].startswith("endpoint disabled")
    assert len(posts(http_peer, "/gone")) == 1
    assert client.get(f"/v1/jobs/{first['id']}/deliveries").json["items"][0]["status_code"] == 410


def test_an_endpoint_that_refuses_keeps_its_status_on_the_job(
    client: FlaskClient, worker: Worker, http_peer: RecordingServer, app: Any
) -> None:
    # notify records the 4xx answer, then fails the delivery for good: its give-up must not overwrite the record.
    import uuid

    http_peer.post_status["/refuses"] = 400
    job = job_with_hook(client, f"{http_peer.url}/refuses")
    wait_until(lambda: posts(http_peer, "/refuses"), 20, "the webhook")
    stored = wait_until(
        lambda: (j := app.extensions["pixelflow"].jobs.get(uuid.UUID(job["id"]))) and j.notified_at and j,
        20,
        "the delivery recorded",
    )
    time.sleep(1)  # the step's failure is handled after its record
    stored = app.extensions["pixelflow"].jobs.get(uuid.UUID(job["id"]))
    assert (stored.webhook_status, stored.webhook_error) == (400, "answered 400")
    assert len(posts(http_peer, "/refuses")) == 1  # a refusal is not retried
