"""API keys and tenants: nothing under /v1 without a key, and no tenant sees another's jobs or uploads."""

import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.keystore import KeyStore
from tests import images
from tests.integration.conftest import authed, wait_until
from tests.support.api import assert_error, upload
from tests.support.stack import cli


@pytest.fixture()
def keys(app: Flask) -> KeyStore:
    return KeyStore(app.extensions["pixelflow"].jobs)


@pytest.fixture()
def other(app: Flask, keys: KeyStore) -> FlaskClient:
    return authed(app, keys.create(f"other-{secrets.token_hex(4)}", "other")[1])


def test_everything_under_v1_needs_a_key_and_the_rest_stays_open(app: Flask) -> None:
    anonymous = app.test_client()
    for method, path in (
        ("get", "/v1/jobs"),
        ("post", "/v1/jobs"),
        ("post", "/v1/uploads"),
        ("get", f"/v1/jobs/{uuid.uuid4()}"),
    ):
        response = getattr(anonymous, method)(path, json={})
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert_error(authed(app, "pf_not-a-key").get("/v1/jobs"), 401, "unauthorized")
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        assert anonymous.get(path).status_code == 200, path
    assert app.test_client().get("/openapi.json").json["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def refused_within(app: Flask, request: Callable[[], Any]) -> None:
    """A revoked key is refused within PIXELFLOW_API_KEY_CACHE_SECONDS (app/auth.py), not at once: an API process
    keeps a live key that long."""
    period = app.extensions["pixelflow"].settings.api_key_cache_seconds
    revoked = time.monotonic()
    wait_until(lambda: request().status_code == 401, period + 2, "the revoked key to be refused", interval=0.1)
    assert_error(request(), 401, "unauthorized")
    assert time.monotonic() - revoked <= period + 1


def test_a_read_key_reads_but_cannot_create_and_a_revoked_key_is_refused(
    app: Flask, keys: KeyStore, tenant: str
) -> None:
    record, secret = keys.create(tenant, "dashboard", "read")
    reader = authed(app, secret)
    assert reader.get("/v1/jobs").status_code == 200
    assert_error(reader.post("/v1/uploads", json={"content_type": "image/png", "file_name": "a.png"}), 403, "forbidden")
    assert keys.revoke(record.id)
    refused_within(app, lambda: reader.get("/v1/jobs"))


def test_another_tenants_job_is_not_found_anywhere(client: FlaskClient, other: FlaskClient) -> None:
    key = upload(client, images.jpeg(64, 64))
    job_id = client.post("/v1/jobs", json={"source": {"key": key}, "outputs": [{"name": "a", "format": "png"}]}).json[
        "id"
    ]
    for method, path in (
        ("get", f"/v1/jobs/{job_id}"),
        ("get", f"/v1/jobs/{job_id}/deliveries"),
        ("post", f"/v1/jobs/{job_id}/cancel"),
        ("post", f"/v1/jobs/{job_id}/retry"),
    ):
        assert_error(getattr(other, method)(path), 404, "not_found")
    assert job_id not in {j["id"] for j in other.get("/v1/jobs?limit=100").json["items"]}
    assert job_id in {j["id"] for j in client.get("/v1/jobs?limit=100").json["items"]}
    assert client.get(f"/v1/jobs/{job_id}").json["status"] != "canceled"  # the other tenant's cancel did nothing


def test_uploads_are_namespaced_and_another_tenants_upload_is_not_a_source(
    client: FlaskClient, other: FlaskClient, tenant: str
) -> None:
    key = upload(client, images.jpeg(64, 64))
    assert key.startswith(f"uploads/{tenant}/")
    body: dict[str, Any] = {"source": {"key": key}, "outputs": [{"name": "a", "format": "png"}]}
    assert_error(other.post("/v1/jobs", json=body), 422, "source_not_found")
    mark = {"name": "a", "format": "png", "watermark": {"image": {"key": key}}}
    own = upload(other, images.jpeg(64, 64))
    assert_error(other.post("/v1/jobs", json={"source": {"key": own}, "outputs": [mark]}), 422, "watermark_not_found")


def test_idempotency_keys_belong_to_their_tenant(client: FlaskClient, other: FlaskClient) -> None:
    headers = {"Idempotency-Key": f"shared-{uuid.uuid4()}"}
    mine = client.post(
        "/v1/jobs",
        headers=headers,
        json={"source": {"key": upload(client, images.jpeg(32, 32))}, "outputs": [{"name": "a", "format": "png"}]},
    )
    theirs = other.post(
        "/v1/jobs",
        headers=headers,
        json={"source": {"key": upload(other, images.jpeg(32, 32))}, "outputs": [{"name": "a", "format": "png"}]},
    )
    assert mine.status_code == theirs.status_code == 202
    assert mine.json["id"] != theirs.json["id"]


def test_operators_create_list_and_revoke_keys_from_the_flask_cli(app: Flask) -> None:
    def flask(*args: str) -> str:
        return cli("flask", "--app", "app", "keys", *args)

    secret = flask("create", "--name", "Acme", "--tenant", "acme", "--scope", "read", "--quiet").strip()
    assert secret.startswith("pf_") and len(secret) > 40
    listed = flask("list", "--tenant", "acme")
    assert secret[:10] in listed and secret not in listed and "read" in listed
    assert authed(app, secret).get("/v1/jobs").status_code == 200
    key_id = listed.split()[0]
    assert flask("revoke", key_id).strip() == f"revoked {key_id} (running API processes refuse it within 5 s)"
    refused_within(app, lambda: authed(app, secret).get("/v1/jobs"))


def test_an_admin_key_lists_the_dead_letters_of_its_tenants_jobs_only(
    app: Flask, keys: KeyStore, client: FlaskClient, other: FlaskClient, tenant: str
) -> None:
    key = upload(client, images.jpeg(64, 64))
    job_id = client.post("/v1/jobs", json={"source": {"key": key}, "outputs": [{"name": "a", "format": "png"}]}).json[
        "id"
    ]
    store = app.extensions["pixelflow"].jobs
    store.record_dead_letter(uuid.UUID(job_id), "pixelflow.upload", "rejected", 1, {"body": "…"})
    admin = authed(app, keys.create(tenant, "ops", "admin")[1])
    letters = admin.get("/v1/dead-letters")
    assert letters.status_code == 200, letters.json
    assert [(x["job_id"], x["task"], x["reason"]) for x in letters.json["items"]] == [
        (job_id, "pixelflow.upload", "rejected")
    ]
    assert_error(client.get("/v1/dead-letters"), 403, "forbidden")  # a write key
    other_admin = authed(app, keys.create(f"other-{secrets.token_hex(4)}", "ops", "admin")[1])
    assert other_admin.get("/v1/dead-letters").json["items"] == []
