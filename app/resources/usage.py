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
        since, until = query.get("from"), query.get("to")
        if until is None:  # now, or the start if that is later: an empty window, not an inverted one
            until = max(datetime.now(UTC), since) if since else datetime.now(UTC)
        if since is None:
            since = until - timedelta(days=30)
        # An empty window (from = to) is a question with an answer: nothing happened in it. A window that ends
        # before it starts is a mistake in the request.
        if since > until:
            abort(422, message="'from' must not be after 'to'", errors={"from": ["after 'to'"]})
        totals = services().jobs.usage(tenant(), since, until)
        return {"tenant": tenant(), "from": since, "to": until, **totals}
