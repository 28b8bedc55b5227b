"""Webhook secrets a client rotates through the API, checked on real deliveries."""

from __future__ import annotations

import uuid

from flask import Flask
from flask.testing import FlaskClient

from core import webhooks
from core.keystore import KeyStore
from core.webhooksecrets import MAX_PER_TENANT
from tests.conftest import WEBHOOK_SECRET
from tests.integration.conftest import RecordingServer, Worker, authed, wait_until
from tests.support.api import assert_error, job_with_hook, posts


def tenant_client(app: Flask, tenant: str | None = None, scope: str = "admin") -> FlaskClient:
    """A client with a key of this scope, of the tenant named or a new one."""
    keys = KeyStore(app.extensions["pixelflow"].jobs)
    return authed(app, keys.create(tenant or f"hooks-{uuid.uuid4().hex[:8]}", "t", scope)[1])


def test_secrets_are_shown_once_managed_by_admin_keys_and_kept_to_their_tenant(app: Flask) -> None:
    tenant = f"hooks-{uuid.uuid4().hex[:8]}"
    admin = tenant_client(app, tenant)
    made = admin.post("/v1/webhook-secrets")
    assert made.status_code == 201, made.json
    secret = made.json["secret"]
    assert secret.startswith("whsec_") and len(webhooks._key(secret)) == 32
    assert made.json["prefix"] == secret[:12]
    listed = admin.get("/v1/webhook-secrets").json["items"]
    assert listed == [{"id": made.json["id"], "prefix": secret[:12], "created_at": made.json["created_at"]}]

    # A write key of the same tenant may read the list, not change it; another tenant sees nothing of it.
    writer = tenant_client(app, tenant, "write")
    assert len(writer.get("/v1/webhook-secrets").json["items"]) == 1
    assert_error(writer.post("/v1/webhook-secrets"), 403, "forbidden")
    assert_error(writer.delete(f"/v1/webhook-secrets/{made.json['id']}"), 403, "forbidden")
    other = tenant_client(app)
    assert other.get("/v1/webhook-secrets").json["items"] == []
    assert_error(other.delete(f"/v1/webhook-secrets/{made.json['id']}"), 404, "not_found")

    for _ in range(MAX_PER_TENANT - 1):
        assert admin.post("/v1/webhook-secrets").status_code == 201
    assert_error(admin.post("/v1/webhook-secrets"), 409, "too_many_webhook_secrets")
    assert admin.delete(f"/v1/webhook-secrets/{made.json['id']}").status_code == 204
    assert len(admin.get("/v1/webhook-secrets").json["items"]) == MAX_PER_TENANT - 1


def test_a_client_rotates_its_secret_without_a_gap(app: Flask, worker: Worker, http_peer: RecordingServer) -> None:
    client = tenant_client(app)
    old = client.post("/v1/webhook-secrets").json

    def delivered(path: str) -> tuple[str, int, bytes, str]:
        job_with_hook(client, f"{http_peer.url}/{path}")
        [(_, _, headers, body)] = wait_until(lambda: posts(http_peer, f"/{path}"), 30, "the webhook")
        return headers["webhook-id"], int(headers["webhook-timestamp"]), body, headers["webhook-signature"]

    # The tenant's own secret signs, not the operator's.
    first = delivered("one")
    assert webhooks.verify(old["secret"], *first)
    assert not webhooks.verify(WEBHOOK_SECRET, *first)
    # A new secret: both sign while the receiver moves over.
    new = client.post("/v1/webhook-secrets").json
    second = delivered("two")
    assert webhooks.verify(old["secret"], *second) and webhooks.verify(new["secret"], *second)
    assert len(second[3].split(" ")) == 2
    # The old one deleted: only the new one signs.
    assert client.delete(f"/v1/webhook-secrets/{old['id']}").status_code == 204
    third = delivered("three")
    assert webhooks.verify(new["secret"], *third) and not webhooks.verify(old["secret"], *third)
