"""Per-tenant rate limits on Redis, and what happens when Redis is down."""

import uuid
from collections.abc import Iterator

import pytest
from flask import Flask

from config import Settings
from core.keystore import KeyStore
from tests.integration.conftest import authed
from tests.support.stack import free_port

UPLOAD = {"content_type": "image/png", "file_name": "a.png"}


def limited_app(settings: Settings, **changes: str) -> Flask:
    from app import create_app

    return create_app(settings.model_copy(update={"rate_limit_uploads": "3/minute", **changes}))


@pytest.fixture()
def limited(services_up: None, settings: Settings) -> Iterator[Flask]:
    app = limited_app(settings)
    yield app
    app.extensions["pixelflow"].jobs.close()


def new_tenant_client(app: Flask) -> object:
    return authed(app, KeyStore(app.extensions["pixelflow"].jobs).create(f"t-{uuid.uuid4().hex[:8]}", "rl")[1])


def test_a_tenant_over_its_limit_gets_429_with_retry_after_and_others_do_not(limited: Flask) -> None:
    busy, calm = new_tenant_client(limited), new_tenant_client(limited)
    answers = [busy.post("/v1/uploads", json=UPLOAD) for _ in range(4)]  # type: ignore[attr-defined]
    assert [r.status_code for r in answers] == [201, 201, 201, 429]
    refused = answers[-1]
    assert refused.json["code"] == "rate_limited" and refused.json["status"] == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert answers[0].headers["X-RateLimit-Limit"] == "3"
    # Retry-After only where the request was refused (RFC 9110): not on a 201, nor on a 422.
    assert all("Retry-After" not in r.headers for r in answers[:3])
    invalid = busy.post("/v1/jobs", json={"outputs": []})  # type: ignore[attr-defined]
    assert invalid.status_code == 422 and "X-RateLimit-Limit" in invalid.headers
    assert "Retry-After" not in invalid.headers
    assert calm.post("/v1/uploads", json=UPLOAD).status_code == 201  # type: ignore[attr-defined]


def test_with_redis_down_each_process_keeps_counting_in_memory(services_up: None, settings: Settings) -> None:
    app = limited_app(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    try:
        client = new_tenant_client(app)
        statuses = [client.post("/v1/uploads", json=UPLOAD).status_code for _ in range(4)]  # type: ignore[attr-defined]
    finally:
        app.extensions["pixelflow"].jobs.close()
    assert statuses == [201, 201, 201, 429]
