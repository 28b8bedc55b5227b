"""The HTTP API against the real PostgreSQL, broker and S3 server (no worker here)."""

import time
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient

from config import Settings
from core.keystore import KeyStore
from core.spec import upload_prefix
from tests import images
from tests.integration.conftest import Worker, authed
from tests.support.api import assert_error, upload
from tests.support.stack import free_port, wait_until


def test_an_upload_slot_is_a_presigned_put_under_a_server_chosen_key(client: FlaskClient) -> None:
    response = client.post("/v1/uploads", json={"content_type": "image/png", "file_name": "../../x.png"})
    assert response.status_code == 201
    body = response.json
    assert body["method"] == "PUT"
    assert body["key"].startswith("uploads/") and body["key"].endswith("/x.png")
    assert body["headers"] == {"Content-Type": "image/png"}
    assert "X-Amz-Signature=" in body["url"] and body["expires_at"]


def test_a_job_on_an_uploaded_key_is_accepted_and_readable(client: FlaskClient) -> None:
    key = upload(client, images.jpeg(320, 240))
    response = client.post(
        "/v1/jobs", json={"source": {"key": key}, "outputs": [{"name": "t", "format": "webp", "width": 100}]}
    )
    assert response.status_code == 202, response.json
    job = response.json
    assert job["status"] == "queued"
    assert uuid.UUID(job["id"]).version == 7
    assert job["outputs"] == [
        {"name": "t", "format": "webp", "width": None, "height": None, "bytes": None, "key": None, "url": None}
    ]
    assert job["error"] is None
    again = client.get(f"/v1/jobs/{job['id']}")
    assert again.status_code == 200 and again.json["id"] == job["id"]


def test_a_key_that_was_never_uploaded_is_refused_before_queueing(client: FlaskClient) -> None:
    response = client.post(
        "/v1/jobs", json={"source": {"key": "uploads/none/a.jpg"}, "outputs": [{"name": "t", "format": "png"}]}
    )
    assert_error(response, 422, "source_not_found")


def test_validation_errors_name_the_field(client: FlaskClient) -> None:
    response = client.post(
        "/v1/jobs",
        json={"source": {"key": "k"}, "outputs": [{"name": "t", "format": "tiff"}], "extra": 1},
    )
    body = assert_error(response, 422, "validation_error")
    assert "outputs" in body["errors"] and "extra" in body["errors"]


def test_too_many_outputs_and_too_large_outputs_are_refused(client: FlaskClient, settings: Settings) -> None:
    many = [{"name": f"o{i}", "format": "png"} for i in range(settings.max_outputs + 1)]
    assert_error(client.post("/v1/jobs", json={"source": {"key": "k"}, "outputs": many}), 422, "validation_error")
    huge = [{"name": "o", "format": "png", "width": settings.max_output_dimension + 1}]
    assert_error(client.post("/v1/jobs", json={"source": {"key": "k"}, "outputs": huge}), 422, "validation_error")


def test_jpeg_xl_and_auto_formats_options_are_checked(client: FlaskClient) -> None:
    def refused(output: dict[str, object]) -> object:
        response = client.post("/v1/jobs", json={"source": {"key": "k"}, "outputs": [{"name": "o", **output}]})
        return assert_error(response, 422, "validation_error")["errors"]

    assert "keep_icc" in str(refused({"format": "jxl", "keep_icc": True}))
    assert "keep_metadata" in str(refused({"format": "jxl", "keep_metadata": True}))
    assert "formats" in str(refused({"format": "webp", "formats": ["webp"]}))  # auto only
    assert "formats" in str(refused({"format": "auto", "formats": ["webp", "webp"]}))
    assert "formats" in str(refused({"format": "auto", "formats": ["gif"]}))
    assert "formats" in str(refused({"format": "auto", "formats": []}))


def test_quality_auto_and_its_target_are_checked(client: FlaskClient) -> None:
    def refused(output: dict[str, object]) -> str:
        response = client.post("/v1/jobs", json={"source": {"key": "k"}, "outputs": [{"name": "o", **output}]})
        return str(assert_error(response, 422, "validation_error")["errors"])

    assert "target" in refused({"format": "webp", "quality": "auto", "target": "great"})  # an unknown target
    assert "target" in refused({"format": "webp", "quality": "auto", "target": 20})  # below the range
    assert "target" in refused({"format": "webp", "quality": "auto", "target": True})
    assert "target" in refused({"format": "webp", "quality": 80, "target": 80})  # auto only
    assert "target" in refused({"format": "webp", "target": "high"})
    assert "quality" in refused({"format": "webp", "quality": "best"})
    assert "quality" in refused({"format": "png", "quality": "auto"})
    assert "quality" in refused({"format": "webp", "quality": "auto", "lossless": True})
    accepted = client.post(
        "/v1/jobs",
        json={
            "source": {"key": upload(client, images.jpeg(64, 64))},
            "outputs": [
                {"name": "a", "format": "webp", "quality": "auto"},
                {"name": "b", "format": "auto", "quality": "auto", "target": "high"},
                {"name": "c", "format": "jxl", "quality": "auto", "target": 85.5},
            ],
        },
    )
    assert accepted.status_code == 202, accepted.json


def test_an_unknown_job_is_a_404_in_the_error_shape(client: FlaskClient) -> None:
    assert_error(client.get(f"/v1/jobs/{uuid.uuid4()}"), 404, "not_found")
    assert_error(client.get("/v1/jobs/not-an-id"), 404, "not_found")


def test_a_body_that_is_not_json_is_an_error_in_the_same_shape(client: FlaskClient) -> None:
    response = client.post("/v1/jobs", data="{", content_type="application/json")
    body = assert_error(response, 400, "bad_request")
    assert "JSON" in body["message"]


def test_jobs_are_listed_newest_first_with_a_cursor(client: FlaskClient) -> None:
    key = upload(client, images.jpeg(64, 64))
    spec = {"source": {"key": key}, "outputs": [{"name": "t", "format": "png"}]}
    ids = [client.post("/v1/jobs", json=spec).json["id"] for _ in range(3)]
    first = client.get("/v1/jobs?limit=2").json
    assert [j["id"] for j in first["items"]] == ids[::-1][:2]
    second = client.get(f"/v1/jobs?limit=2&cursor={first['next_cursor']}").json
    assert second["items"][0]["id"] == ids[0]
    assert_error(client.get("/v1/jobs?status=lost"), 422, "validation_error")
    assert_error(client.get("/v1/jobs?limit=0"), 422, "validation_error")


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["checks"] == {"database": "ok", "broker": "ok", "storage": "ok"}


def test_a_job_is_accepted_while_storage_is_down_and_its_fetch_finds_the_upload_missing(
    services_up: None, settings: Settings, worker: Worker, tenant: str
) -> None:
    """Accepting a job asks storage nothing (core/submission.py): with the API's storage unreachable, a job is
    still accepted, and it ends once, failed by fetch (whose storage is up) because nothing was uploaded."""
    from app import create_app

    app = create_app(settings.model_copy(update={"s3_endpoint": f"127.0.0.1:{free_port()}"}))
    try:
        client = authed(app, KeyStore(app.extensions["pixelflow"].jobs).create(tenant, "tests")[1])
        key = f"{upload_prefix(tenant)}{uuid.uuid4()}/never.jpg"
        started = time.monotonic()
        created = client.post("/v1/jobs", json={"source": {"key": key}, "outputs": [{"name": "a", "format": "png"}]})
        took = time.monotonic() - started
        assert created.status_code == 202, created.json
        assert created.json["status"] == "queued" and took < 1  # no storage timeout was waited for
        job = wait_until(
            lambda: (j := client.get(f"/v1/jobs/{created.json['id']}").json)["status"] == "failed" and j,
            60,
            "the job to fail",
        )
    finally:
        app.extensions["pixelflow"].jobs.close()
    assert job["error"]["code"] == "source_not_found" and key in job["error"]["message"]


def test_readiness_reports_what_is_down_and_is_503_only_without_the_database(
    services_up: None, settings: Settings
) -> None:
    from app import create_app

    closed = f"127.0.0.1:{free_port()}"
    # Storage and broker down: reported, but the pod stays in its Service (the outbox holds new jobs).
    down = settings.model_copy(update={"s3_endpoint": closed, "broker_url": f"amqp://guest:guest@{closed}//"})
    app = create_app(down)
    try:
        started = time.monotonic()
        response = app.test_client().get("/readyz")
        took = time.monotonic() - started
    finally:
        app.extensions["pixelflow"].jobs.close()
    assert response.status_code == 200 and response.json["status"] == "degraded"
    assert response.json["checks"]["storage"].startswith("storage_unavailable")
    assert response.json["checks"]["broker"].startswith("broker_unavailable")
    assert response.json["checks"]["database"] == "ok"
    assert took < 1.5
    # Without PostgreSQL it is not ready.
    app = create_app(settings.model_copy(update={"database_url": f"postgresql://postgres@{closed}/x"}))
    try:
        response = app.test_client().get("/readyz")
    finally:
        app.extensions["pixelflow"].jobs.close()
    assert response.status_code == 503 and response.json["status"] == "unavailable"
    assert response.json["checks"]["database"].startswith(("database_unavailable", "timeout"))


def test_the_openapi_document_and_swagger_ui_are_served(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").json
    assert {"/v1/uploads", "/v1/jobs", "/v1/jobs/{job_id}", "/healthz", "/readyz"} <= set(spec["paths"])
    error = spec["components"]["schemas"]["Error"]
    assert error["properties"]["code"]["type"] == "string"
    docs = client.get("/docs")
    assert docs.status_code == 200 and b"swagger" in docs.data.lower()


@pytest.mark.parametrize("method", ["put", "delete"])
def test_a_method_that_is_not_allowed_is_a_405_in_the_error_shape(client: FlaskClient, method: str) -> None:
    response = getattr(client, method)("/v1/jobs")
    assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}  # RFC 9110: what is allowed instead


def test_the_document_states_the_rules_across_fields_and_the_deployments_limits(client: FlaskClient) -> None:
    schemas = client.get("/openapi.json").json["components"]["schemas"]
    source = schemas["Source"]
    assert [b["required"] for b in source["oneOf"]] == [["key"], ["url"]]  # exactly one of them
    url = source["oneOf"][1]["properties"]["url"]
    assert url["format"] == "uri" and url["minLength"] >= 1  # "url" is no JSON Schema format
    job = schemas["JobRequest"]["properties"]
    assert job["webhook_url"]["format"] == "uri"
    assert job["presets"]["items"]["enum"] == ["thumbnails"] and job["outputs"]["maxItems"] == 10
    rules = schemas["OutputRequest"]["allOf"]
    assert {"if": {"required": ["fit"], "properties": {"fit": {"enum": ["cover", "pad"]}}},
            "then": {"required": ["width", "height"]}} in rules  # fmt: skip
    assert (
        "not after 'to'"
        in client.get("/openapi.json").json["paths"]["/v1/usage"]["get"]["parameters"][0]["description"]
    )


@pytest.mark.parametrize("body", [0, 1.5, "job", [], [{}], None, True])
def test_no_request_body_but_an_object_meets_the_document(client: FlaskClient, body: Any) -> None:
    # An outside fuzzer (schemathesis, no project config) takes what the document admits as valid: a number that
    # the document let through was then refused by the API (422 "Invalid input type").
    from jsonschema import Draft202012Validator

    spec = client.get("/openapi.json").json
    bodies = [
        (path, op["requestBody"]["content"]["application/json"]["schema"])
        for path, item in spec["paths"].items()
        for op in item.values()
        if isinstance(op, dict) and "requestBody" in op
    ]
    assert {path for path, _ in bodies} >= {"/v1/jobs", "/v1/uploads"}
    for path, schema in bodies:
        validator = Draft202012Validator({**schema, "components": spec["components"]})
        assert not validator.is_valid(body), path
    job = Draft202012Validator({"$ref": "#/components/schemas/JobRequest", "components": spec["components"]})
    assert job.is_valid({"source": {"key": "uploads/t/a.jpg"}, "outputs": [{"name": "a", "format": "webp"}]})
    assert job.is_valid({"source": {"url": "https://example.com/a.jpg"}, "presets": ["thumbnails"]})
    assert not job.is_valid({"source": {"key": "uploads/t/a.jpg"}})  # nothing to make: the document says so too
    assert not job.is_valid({"source": {"key": "k", "url": "https://example.com/a.jpg"}, "presets": ["thumbnails"]})
    # A component with exactly-one-of groups states its fields in the closed branches only: a generator reading
    # the top level could make no valid source from properties the branches contradict.
    source = spec["components"]["schemas"]["Source"]
    assert source["type"] == "object" and "properties" not in source and "additionalProperties" not in source


def test_presets_expand_into_outputs_beside_explicit_ones(client: FlaskClient) -> None:
    key = upload(client, images.jpeg(64, 64))
    response = client.post(
        "/v1/jobs",
        json={"source": {"key": key}, "presets": ["thumbnails"], "outputs": [{"name": "own", "format": "png"}]},
    )
    assert response.status_code == 202, response.json
    names = [o["name"] for o in response.json["outputs"]]
    assert names == ["own", "thumb-webp", "thumb-jpeg", "large-webp", "large-jpeg"]


def test_an_unknown_preset_or_a_name_clash_is_refused(client: FlaskClient) -> None:
    key = upload(client, images.jpeg(64, 64))
    unknown = client.post("/v1/jobs", json={"source": {"key": key}, "presets": ["posters"]})
    assert "thumbnails" in assert_error(unknown, 422, "validation_error")["message"]
    clash = client.post(
        "/v1/jobs",
        json={"source": {"key": key}, "presets": ["thumbnails"], "outputs": [{"name": "thumb-webp", "format": "png"}]},
    )
    assert assert_error(clash, 422, "validation_error")["errors"] == {"outputs": ["thumb-webp"]}


def test_a_bad_preset_in_the_configuration_stops_the_api(services_up: None, settings: Settings) -> None:
    from app import create_app
    from config import SettingsError

    broken = settings.model_copy(update={"presets": {"bad": [{"name": "x", "format": "tiff"}]}})
    with pytest.raises(SettingsError, match="PIXELFLOW_PRESETS"):
        create_app(broken)


def test_a_queued_job_can_be_canceled_once_and_then_retried(client: FlaskClient) -> None:
    key = upload(client, images.jpeg(64, 64))
    job_id = client.post("/v1/jobs", json={"source": {"key": key}, "outputs": [{"name": "a", "format": "png"}]}).json[
        "id"
    ]
    canceled = client.post(f"/v1/jobs/{job_id}/cancel")
    assert canceled.status_code == 200 and canceled.json["status"] == "canceled"
    assert canceled.json["finished_at"]
    assert_error(client.post(f"/v1/jobs/{job_id}/cancel"), 409, "conflict")
    retried = client.post(f"/v1/jobs/{job_id}/retry")
    assert retried.status_code == 202 and retried.json["status"] == "queued"
    assert retried.json["finished_at"] is None
    assert_error(client.post(f"/v1/jobs/{job_id}/retry"), 409, "conflict")
    assert_error(client.post(f"/v1/jobs/{uuid.uuid4()}/retry"), 404, "not_found")


def test_an_idempotency_key_returns_the_first_job_and_refuses_another_body(client: FlaskClient) -> None:
    key = upload(client, images.jpeg(64, 64))
    body = {"source": {"key": key}, "outputs": [{"name": "a", "format": "png"}]}
    headers = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    first = client.post("/v1/jobs", json=body, headers=headers)
    again = client.post("/v1/jobs", json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json["id"] == first.json["id"]
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    other = {**body, "outputs": [{"name": "b", "format": "png"}]}
    assert_error(client.post("/v1/jobs", json=other, headers=headers), 422, "idempotency_key_reused")


def test_concurrent_repeats_of_one_key_create_one_job(app: Any, api_key: str) -> None:
    import threading

    from core.jobstore import JobStore
    from tests.integration.conftest import authed

    key_secret = api_key
    client = authed(app, key_secret)
    key = upload(client, images.jpeg(64, 64))
    body = {"source": {"key": key}, "outputs": [{"name": "a", "format": "png"}]}
    headers = {"Idempotency-Key": f"burst-{uuid.uuid4()}"}
    responses: list[Any] = []
    barrier = threading.Barrier(8)

    def post() -> None:
        local = authed(app, key_secret)
        barrier.wait()
        responses.append(local.post("/v1/jobs", json=body, headers=headers))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {202, 409}, statuses
    ids = {r.json["id"] for r in responses if r.status_code == 202}
    assert len(ids) == 1
    for r in responses:
        if r.status_code == 409:
            assert r.json["code"] == "idempotency_conflict"
    store: JobStore = app.extensions["pixelflow"].jobs
    with store.pool.connection() as conn:
        count = conn.execute(
            "SELECT count(*) AS n FROM idempotency_keys WHERE key = %s", (headers["Idempotency-Key"],)
        ).fetchone()
    assert count is not None and count["n"] == 1
