"""Usage per tenant: the seed of billing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import RAISE

from app.auth import tenant
from app.schemas import UsageQuerySchema, UsageSchema
from app.services import services

blp = Blueprint("usage", __name__, url_prefix="/v1/usage", description="Usage")


@blp.route("")
class Usage(MethodView):
    @blp.arguments(UsageQuerySchema(), location="query", unknown=RAISE)
    @blp.response(200, UsageSchema())
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Sum the tenant's usage over [from, to): jobs, pixels, bytes in, out and saved, compute time"""
        until = query.get("to") or datetime.now(UTC)
        since = query.get("from") or until - timedelta(days=30)
        if since >= until:
            abort(422, message="'from' must be before 'to'", errors={"from": ["not before 'to'"]})
        totals = services().jobs.usage(tenant(), since, until)
        return {"tenant": tenant(), "from": since, "to": until, **totals}
