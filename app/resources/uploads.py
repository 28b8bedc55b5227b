"""Presigned uploads: the client sends image bytes straight to storage."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import tenant
from app.ratelimit import limiter, upload_limit
from app.schemas import UploadRequestSchema, UploadSchema
from app.services import services
from core.ids import new_id
from core.spec import upload_prefix

blp = Blueprint("uploads", __name__, url_prefix="/v1/uploads", description="Presigned uploads")

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_file_name(name: str) -> str:
    """Keep a readable, harmless last path segment of the client's file name."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("-", base).strip(".-")
    return cleaned[:100] or "upload"


@blp.route("")
class Uploads(MethodView):
    @limiter.limit(upload_limit)
    @blp.arguments(UploadRequestSchema())
    @blp.response(201, UploadSchema())
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Get a presigned URL to PUT one image to"""
        svc = services()
        key = f"{upload_prefix(tenant())}{new_id()}/{safe_file_name(body['file_name'])}"
        ttl = timedelta(seconds=svc.settings.upload_url_ttl)
        return {
            "key": key,
            "url": svc.store.presign_put(key, ttl),
            "method": "PUT",
            "headers": {"Content-Type": body["content_type"]},
            "expires_at": datetime.now(UTC) + ttl,
        }
