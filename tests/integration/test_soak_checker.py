"""The soak's checker (tests/soak/checker.py) against a real run of a few jobs: it finds nothing in what the
service did (other tests' staging aside), and it finds each inconsistency planted after: an output gone from
storage, an object no job wrote, one left in staging, a job ended twice, a webhook-id reused for another
event, a 202 for a job the database lacks."""

from __future__ import annotations

import json
import uuid

from flask.testing import FlaskClient

from config import Settings
from tests import images
from tests.conftest import WEBHOOK_SECRET
from tests.integration.conftest import RecordingServer, Worker, wait_until
from tests.soak import checker
from tests.support.api import upload


def test_the_checker_passes_a_clean_run_and_finds_each_planted_inconsistency(
    client: FlaskClient, settings: Settings, tenant: str, worker: Worker, http_peer: RecordingServer
) -> None:
    history = checker.History()
    key = upload(client, images.jpeg(320, 240))
    for n, source in enumerate([key, key, f"uploads/{tenant}/missing.jpg"]):
        body = {
            "source": {"key": source},
            "webhook_url": f"{http_peer.url}/hook",
            "outputs": [{"name": "a", "format": "webp", "width": 48}],
        }
        response = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": f"checker-{n}"})
        assert response.status_code == 202, response.json
        history.accepted[f"checker-{n}"] = response.json["id"]
    ids = set(history.accepted.values())
    wait_until(lambda: {json.loads(b)["data"]["id"] for b in http_peer.delivered} >= ids, 60, "every job's webhook")
    for _, path, headers, posted in http_peer.requests:
        if path == "/hook":
            lowered = {k.lower(): v for k, v in headers.items()}
            history.deliveries.append(
                checker.Delivery(lowered, posted, 200, checker.verified(WEBHOOK_SECRET, posted, lowered))
            )
    s3 = {
        "endpoint": f"http://{settings.s3_endpoint}",
        "access_key": settings.s3_access_key,
        "secret_key": settings.s3_secret_key,
    }

    def check() -> checker.Report:
        return checker.check(history, settings.database_url, s3, settings.s3_bucket, tenant)

    clean = check()
    assert clean.findings == []
    assert (clean.figures["succeeded"], clean.figures["failed, by code"]) == (2, {"source_not_found": 1})
    assert clean.figures["webhook ids"] == 3

    # Now the inconsistencies, one of each.
    store = checker.storage(s3)
    first, second = (client.get(f"/v1/jobs/{history.accepted[f'checker-{n}']}").json for n in (0, 1))
    gone = first["outputs"][0]["key"]
    store.delete_object(Bucket=settings.s3_bucket, Key=gone)
    stray = f"results/{tenant}/{uuid.uuid4()}/a.webp"
    store.put_object(Bucket=settings.s3_bucket, Key=stray, Body=b"RIFF")
    history.endings += [(second["id"], "succeeded"), (second["id"], "failed")]
    reused = next(d for d in history.deliveries if json.loads(d.body)["data"]["id"] == second["id"])
    forged = json.loads(reused.body)
    forged["data"]["id"] = first["id"]
    history.deliveries.append(checker.Delivery(reused.headers, json.dumps(forged).encode(), 200, True))
    history.accepted["checker-lost"] = str(uuid.uuid4())
    left = f"staging/{first['id']}/source"
    store.put_object(Bucket=settings.s3_bucket, Key=left, Body=b"\xff\xd8")

    findings = "\n".join(check().findings)
    assert f"{gone}: a succeeded job's output, not in storage" in findings
    assert f"{stray}: stored, and no succeeded job's output" in findings
    assert f"{left}: stored, and no succeeded job's output" in findings
    assert f"{second['id']}: ended 2 times (succeeded, failed)" in findings
    assert f"webhook-id {reused.headers['webhook-id']} sent for 2 events" in findings
    assert f"{history.accepted['checker-lost']}: accepted (202) and not in the database" in findings
