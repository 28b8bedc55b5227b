"""Dead letters of the tenant's jobs, for its admin keys: what an operator is asked to act on (celery -A tasks dlq)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import require_admin, tenant
from app.schemas import DeadLetterListSchema, ErrorSchema
from app.services import services

blp = Blueprint(
    "dead_letters",
    __name__,
    url_prefix="/v1/dead-letters",
    description="Steps of the tenant's jobs waiting in the dead-letter queue (admin keys)",
)


@blp.route("")
class DeadLetters(MethodView):
    @blp.response(200, DeadLetterListSchema())
    @blp.alt_response(403, schema=ErrorSchema, description="not an admin key")
    def get(self) -> dict[str, Any]:
        """List the dead letters of the tenant's jobs that wait for an operator, newest first"""
        require_admin()
        return {"items": services().jobs.dead_letters(100, tenant=tenant())}
