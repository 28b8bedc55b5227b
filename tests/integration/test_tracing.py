"""One job, one trace: the API, the relay and a worker export OTLP/HTTP to a receiver that decodes the protobuf.

The job's URL source answers 503 once (fetch is retried) and the worker's pool
child is killed on validate's first delivery (validate is redelivered): both
stay in the one trace, each run under the publish that sent it.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests import images
from tests.integration import faultkit
from tests.integration.conftest import RecordingServer
from tests.support.otlp import Receiver, Span
from tests.support.stack import Api, free_port, wait_until

OUTPUTS = [{"name": "small", "format": "webp", "width": 64}, {"name": "big", "format": "jpeg", "width": 160}]
STEPS = ("fetch", "validate", "transform", "upload", "notify")


def runs(spans: list[Span], step: str) -> list[Span]:
    return [s for s in spans if s.name == f"run/pixelflow.{step}"]


def test_one_job_is_one_trace_from_the_post_through_the_relay_to_every_step(
    stack: faultkit.FaultStack, http_peer: RecordingServer, api_key: str, tenant: str, tmp_path: Path
) -> None:
    with Receiver() as otlp:
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "200",  # ms: export soon after a span ends
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "1",
        }
        stack.env.update(env)
        api = Api(f"127.0.0.1:{free_port()}", tmp_path / "api.log", env, workers=1)
        api.start()
        try:
            stack.relay()
            worker = stack.worker(["validate:kill:first"], concurrency=1)
            http_peer.routes["/cat.jpg"] = [
                (503, {}, b""),
                (200, {"Content-Type": "image/jpeg"}, images.jpeg(320, 240)),
            ]
            hook = f"{http_peer.url}/hook?token=client-secret-token"
            body = {"source": {"url": f"{http_peer.url}/cat.jpg"}, "outputs": OUTPUTS, "webhook_url": hook}
            headers = {"Authorization": f"Bearer {api_key}"}
            created = httpx.post(f"http://{api.bind}/v1/jobs", json=body, headers=headers, timeout=10)
            assert created.status_code == 202, created.text
            job_id = created.json()["id"]

            def traced() -> list[Span] | None:
                spans = otlp.trace_of("pixelflow.job_id", job_id)
                return spans if all(runs(spans, step) for step in STEPS) and len(runs(spans, "fetch")) == 2 else None

            try:
                spans = wait_until(traced, 90, "every step's span")
            except TimeoutError:
                seen = sorted({(s.service, s.name) for s in otlp.spans})
                raise AssertionError(f"spans received: {seen}\nworker: {worker.output()[-3000:]}") from None
            job = httpx.get(f"http://{api.bind}/v1/jobs/{job_id}", headers=headers, timeout=10).json()
        finally:
            api.stop()
        time.sleep(1)  # the last batches (a step's statements end after its run span)
        spans = otlp.trace_of("pixelflow.job_id", job_id)

    assert job["status"] == "succeeded", job
    assert len({s.trace_id for s in spans}) == 1, "one job, one trace"
    by_id = {s.span_id: s for s in spans}
    [root] = [s for s in spans if not s.parent_id]
    assert (root.name, root.service) == ("POST /v1/jobs", "pixelflow-api")
    # The killed child's run of fetch's task never ended (the kill came in validate, run inline in it), so its
    # span is not there; what it had done before is: fetch's statements, the download and the staging PUT.
    orphans = [s for s in spans if s.parent_id and s.parent_id not in by_id]
    assert len({s.parent_id for s in orphans}) == 1, [s.name for s in orphans]
    assert {s.name for s in orphans} <= {"UPDATE", "SELECT", "WITH", "GET", "PUT"}, [s.name for s in orphans]

    def parent(span: Span) -> Span:
        return by_id[span.parent_id]

    [relay] = [s for s in spans if s.name == "pixelflow.relay publish"]
    assert relay.service == "pixelflow-relay" and parent(relay) is root
    first_fetch, second_fetch = sorted(runs(spans, "fetch"), key=lambda s: s.attributes["pixelflow.retries"])
    assert parent(parent(first_fetch)) is relay  # run ← apply_async ← the relay's publish
    assert parent(second_fetch).name == "apply_async/pixelflow.fetch" and parent(parent(second_fetch)) is first_fetch
    # The worker takes both queues, so the later steps run inline in fetch's task (StepTask.inline_next): each
    # is a span of its own under that run. The killed child's run never ended: only the redelivery's is there.
    [validate] = runs(spans, "validate")
    assert validate.attributes["pixelflow.redelivered"] is True
    for later in STEPS[1:]:
        [run] = runs(spans, later)
        assert parent(run) is second_fetch, later
    assert validate.attributes["pixelflow.source_pixels"] == 320 * 240
    [transform] = runs(spans, "transform")
    assert transform.attributes["pixelflow.outputs"] == 2 and transform.attributes["pixelflow.bytes_out"] > 0
    assert {s.attributes["pixelflow.tenant"] for s in spans if "pixelflow.tenant" in s.attributes} == {tenant}

    # What the steps did is in the trace too: statements, storage calls, the fetch and the webhook.
    kinds = {s.attributes.get("db.system") or s.attributes.get("db.system.name") for s in spans}
    assert "postgresql" in kinds
    calls = [str(s.attributes.get("url.full") or s.attributes.get("http.url") or "") for s in spans]
    assert any(c.endswith("/cat.jpg") for c in calls) and any(c.endswith("/hook") for c in calls)
    assert any("/results/" in c for c in calls)  # an output written to storage
    # Never a secret: no query string (the webhook's token, a signature), no API key.
    values = " ".join(str(v) for s in spans for v in s.attributes.values())
    assert "client-secret-token" not in values and "X-Amz-Signature" not in values and api_key not in values
    # Log lines carry the trace.
    assert f"trace={root.trace_id}" in worker.output()
