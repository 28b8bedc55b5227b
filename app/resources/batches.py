"""Batches: many sources in one request, each item a job of its own."""

from __future__ import annotations

import uuid
from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import RAISE
from werkzeug.exceptions import NotFound

from app.auth import tenant
from app.metrics import JOBS_ACCEPTED, JOBS_CANCELED
from app.ratelimit import batch_items, batch_limit, limiter
from app.resources.jobs import IDEMPOTENCY_KEY, idempotency
from app.schemas import (
    BatchListQuerySchema,
    BatchListSchema,
    BatchQuerySchema,
    BatchRequestSchema,
    BatchSchema,
    DeliveryListSchema,
    ErrorSchema,
)
from app.services import ApiServices, services
from core.document import batch_document, job_document
from core.ids import new_id
from core.model import Batch, BatchItem
from core.purge import purge_batch
from core.spec import OutputSpec
from core.submission import BatchRequest, submit_batch

blp = Blueprint("batches", __name__, url_prefix="/v1/batches", description="Batches: many images, one request")


def larger_bodies() -> None:
    """A job's body is bounded at 1 MiB (MAX_CONTENT_LENGTH); a batch of the largest size needs more. An app-wide
    before-request hook, registered before the rate limiter's, whose cost reads the body first."""
    if request.method == "POST" and request.path == blp.url_prefix:
        request.max_content_length = services().settings.batch_max_bytes


@blp.route("")
class Batches(MethodView):
    @limiter.limit(batch_limit, cost=batch_items)
    @blp.arguments(BatchRequestSchema())
    @blp.response(202, BatchSchema())
    @blp.alt_response(409, schema=ErrorSchema, description="a request with this Idempotency-Key is in progress")
    @blp.alt_response(413, schema=ErrorSchema, description="the body is larger than PIXELFLOW_BATCH_MAX_BYTES")
    @blp.doc(parameters=[IDEMPOTENCY_KEY])
    def post(self, body: dict[str, Any]) -> Any:
        """Create a batch: the same outputs for many sources, each item a job of its own"""
        svc = services()
        outputs = [OutputSpec.from_fields(o) for o in body["outputs"]]
        items = [
            BatchItem(
                source_key=item["source"].get("key"),
                source_url=item["source"].get("url"),
                focal=(item["focal"]["x"], item["focal"]["y"]) if "focal" in item else None,
            )
            for item in body["items"]
        ]
        batch_request = BatchRequest(
            items=items,
            outputs=outputs,
            presets=body["presets"],
            webhook_url=body.get("webhook_url"),
            job_webhook_url=body.get("job_webhook_url"),
            placeholder=body["placeholder"],
            idempotency=idempotency(),
        )
        batch = submit_batch(tenant(), batch_request, svc.settings, svc.presets, svc.jobs, new_id())
        if batch.replayed:
            return batch_document(batch, svc.store, svc.result_url_ttl), 202, {"Idempotent-Replayed": "true"}
        JOBS_ACCEPTED.labels("new").inc(batch.items)
        return batch_document(batch, svc.store, svc.result_url_ttl)

    @blp.arguments(BatchListQuerySchema(), location="query", unknown=RAISE)
    @blp.response(200, BatchListSchema())
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """List batches, newest first"""
        svc = services()
        limit = query["limit"]
        found = svc.jobs.list_batches(tenant(), limit + 1, query.get("cursor"))
        page = found[:limit]
        return {
            "items": [batch_document(b, svc.store, svc.result_url_ttl) for b in page],
            "next_cursor": str(page[-1].id) if len(found) > limit else None,
        }


@blp.route("/<uuid:batch_id>")
class BatchById(MethodView):
    @blp.arguments(BatchQuerySchema(), location="query", unknown=RAISE)
    @blp.response(200, BatchSchema())
    def get(self, query: dict[str, Any], batch_id: uuid.UUID) -> dict[str, Any]:
        """Read a batch: its state, its jobs counted by state, and a page of its jobs in item order"""
        svc = services()
        batch = _batch(svc, batch_id)
        limit = query["limit"]
        jobs = svc.jobs.batch_jobs(batch_id, query.get("status"), limit + 1, query.get("cursor"))
        page = jobs[:limit]
        return {
            **batch_document(batch, svc.store, svc.result_url_ttl),
            "jobs": [job_document(j, svc.store, svc.result_url_ttl) for j in page],
            "next_cursor": str(page[-1].id) if len(jobs) > limit else None,
        }

    @blp.response(200, BatchSchema())
    @blp.alt_response(409, schema=ErrorSchema, description="an item is queued or processing: cancel the batch first")
    def delete(self, batch_id: uuid.UUID) -> dict[str, Any]:
        """Delete the images of every item, as DELETE /v1/jobs/{id} does one job's, and the manifest; the records
        stay, with purged_at. Repeating it changes nothing."""
        svc = services()
        batch = purge_batch(_batch(svc, batch_id), svc.jobs, svc.store)
        return batch_document(batch, svc.store, svc.result_url_ttl)


@blp.route("/<uuid:batch_id>/cancel")
class BatchCancel(MethodView):
    @blp.response(200, BatchSchema())
    @blp.alt_response(409, schema=ErrorSchema, description="every item has already ended")
    def post(self, batch_id: uuid.UUID) -> dict[str, Any]:
        """Cancel every item still queued or processing (a step already running finishes)"""
        svc = services()
        _batch(svc, batch_id)
        canceled = svc.jobs.cancel_batch(batch_id)
        if not canceled:
            abort(409, message="every item of the batch has already ended")
        JOBS_CANCELED.inc(canceled)
        return batch_document(_batch(svc, batch_id), svc.store, svc.result_url_ttl)


@blp.route("/<uuid:batch_id>/retry")
class BatchRetry(MethodView):
    @blp.response(202, BatchSchema())
    @blp.alt_response(409, schema=ErrorSchema, description="no item has failed (or their images were deleted)")
    def post(self, batch_id: uuid.UUID) -> dict[str, Any]:
        """Run the failed items again, from the start; the others stay as they are"""
        svc = services()
        _batch(svc, batch_id)
        retried = svc.jobs.retry_batch(batch_id)
        if not retried:
            abort(409, message="no item of the batch has failed with its images kept")
        JOBS_ACCEPTED.labels("retry").inc(retried)
        return batch_document(_batch(svc, batch_id), svc.store, svc.result_url_ttl)


@blp.route("/<uuid:batch_id>/deliveries")
class BatchDeliveries(MethodView):
    @blp.response(200, DeliveryListSchema())
    def get(self, batch_id: uuid.UUID) -> dict[str, Any]:
        """Every delivery attempt of the batch's batch.completed webhook, oldest first"""
        svc = services()
        _batch(svc, batch_id)
        return {"items": svc.jobs.deliveries(batch_id=batch_id)}


def _batch(svc: ApiServices, batch_id: uuid.UUID) -> Batch:
    """The tenant's batch; 404 for one that is not there or not the tenant's."""
    batch = svc.jobs.get_batch(batch_id, tenant())
    if batch is None:
        raise NotFound(f"no batch {batch_id}")
    return batch
