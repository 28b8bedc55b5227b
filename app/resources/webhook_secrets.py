"""Webhook secrets the client rotates: every live one signs each webhook of its tenant."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint, abort

from app.auth import require_admin, tenant
from app.schemas import ErrorSchema, NewWebhookSecretSchema, WebhookSecretListSchema
from app.services import services
from core.webhooksecrets import WebhookSecrets

blp = Blueprint(
    "webhook_secrets",
    __name__,
    url_prefix="/v1/webhook-secrets",
    description="Webhook signing secrets: make a new one, move the receiver to it, delete the old one",
)


def store() -> WebhookSecrets:
    return WebhookSecrets(services().jobs)


@blp.route("")
class Secrets(MethodView):
    @blp.response(200, WebhookSecretListSchema())
    def get(self) -> dict[str, Any]:
        """List the tenant's webhook secrets (never the secrets themselves)"""
        return {"items": store().for_tenant(tenant())}

    @blp.response(201, NewWebhookSecretSchema())
    @blp.alt_response(403, schema=ErrorSchema, description="not an admin key")
    @blp.alt_response(409, schema=ErrorSchema, description="the tenant already has the most secrets allowed")
    def post(self) -> dict[str, Any]:
        """Make a webhook secret; from now on it signs every webhook, beside the ones already there"""
        require_admin()
        made, secret = store().create(tenant())  # TooManyWebhookSecrets: 409 too_many_webhook_secrets
        return {"id": made.id, "prefix": made.prefix, "created_at": made.created_at, "secret": secret}


@blp.route("/<uuid:secret_id>")
class Secret(MethodView):
    @blp.response(204)
    @blp.alt_response(403, schema=ErrorSchema, description="not an admin key")
    @blp.alt_response(404, schema=ErrorSchema, description="no such secret")
    def delete(self, secret_id: uuid.UUID) -> None:
        """Delete a webhook secret: it signs nothing from now on"""
        require_admin()
        if not store().delete(tenant(), secret_id):
            abort(404, message=f"no webhook secret {secret_id}")
