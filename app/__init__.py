"""The HTTP API: ``gunicorn 'app:create_app()'``."""

from __future__ import annotations

import logging

from flask import Flask, Response, request

from app.auth import init_auth
from app.cli import keys
from app.dashboard import dashboard_blueprint
from app.errors import PixelFlowApi
from app.metrics import init_metrics
from app.ratelimit import init_rate_limits
from app.resources import batches, dead_letters, events, health, jobs, uploads, usage, webhook_secrets
from app.schemas import OpenApiExtras, document_limits, load_presets
from app.services import ApiServices
from config import Settings
from core import logs, tracing
from core.errors import StorageUnavailable
from core.keystore import KeyStore


def create_app(settings: Settings | None = None) -> Flask:
    settings = logs.start(settings)  # secrets out of logs and Sentry events
    tracing.start("pixelflow-api")  # before the pool connects: its statements are traced
    app = Flask("pixelflow")
    app.config.update(
        API_TITLE="PixelFlow",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        MAX_CONTENT_LENGTH=1024 * 1024,
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}}},
            "security": [{"apiKey": []}],
        },
    )
    services = ApiServices.create(settings, load_presets(settings))
    try:
        services.store.ensure_bucket()
    except StorageUnavailable as exc:
        logging.getLogger(__name__).warning("bucket not created at start-up: %s", exc.message)
    app.extensions["pixelflow"] = services
    init_metrics(app)  # first: its timer starts before auth and limits run
    tracing.instrument_app(app)
    init_auth(app, KeyStore(services.jobs), settings.api_key_cache_seconds)
    app.before_request(batches.larger_bodies)  # before the limits: a batch's cost is read from its body
    init_rate_limits(app, settings)  # after auth: limits count per tenant
    app.cli.add_command(keys)
    api = PixelFlowApi(app, spec_kwargs={"extra_plugins": [OpenApiExtras()]})
    api.register_blueprint(health.blp)
    api.register_blueprint(uploads.blp)
    api.register_blueprint(jobs.blp)
    api.register_blueprint(batches.blp)
    api.register_blueprint(events.blp)
    api.register_blueprint(usage.blp)
    api.register_blueprint(webhook_secrets.blp)
    api.register_blueprint(dead_letters.blp)
    app.register_blueprint(dashboard_blueprint(settings))
    document_limits(api.spec, settings)
    app.after_request(security_headers)
    return app


# Swagger UI (/docs) loads its script and styles from this CDN; everything else is JSON.
_DOCS_CSP = (
    "default-src 'none'; script-src https://cdn.jsdelivr.net 'unsafe-inline'; "
    "style-src https://cdn.jsdelivr.net 'unsafe-inline'; img-src 'self' data: https://cdn.jsdelivr.net; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
_API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    headers.setdefault("Content-Security-Policy", _DOCS_CSP if request.path == "/docs" else _API_CSP)
    if request.path.startswith("/v1/"):
        headers.setdefault("Cache-Control", "no-store")  # job documents carry presigned URLs
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response
