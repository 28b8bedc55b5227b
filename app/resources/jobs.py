"""Jobs: create, read, list."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import RAISE
from werkzeug.exceptions import NotFound

from app.auth import tenant
from app.metrics import JOBS_ACCEPTED, JOBS_CANCELED
from app.ratelimit import job_limit, limiter
from app.schemas import (
    DeliveryListSchema,
    ErrorSchema,
    JobListQuerySchema,
    JobListSchema,
    JobRequestSchema,
    JobSchema,
)
from app.services import ApiServices, services
from core.document import job_document
from core.ids import new_id
from core.purge import purge_job
from core.spec import OutputSpec
from core.submission import JobRequest, submit_job

blp = Blueprint("jobs", __name__, url_prefix="/v1/jobs", description="Image jobs")

IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "maxLength": 255},
    "description": "a repeat with the same key and body returns the first job (header Idempotent-Replayed); "
    "the same key with another body is refused (422); a concurrent repeat gets 409",
}


def idempotency() -> tuple[str, str] | None:
    """(key, SHA-256 of the canonical JSON body) from the Idempotency-Key header, if any."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= 255:
        abort(422, message="Idempotency-Key must be 1 to 255 characters", errors={"Idempotency-Key": [key[:50]]})
    canonical = json.dumps(request.get_json(silent=True), sort_keys=True, separators=(",", ":"))
    return key, hashlib.sha256(canonical.encode()).hexdigest()


@blp.route("")
class Jobs(MethodView):
    @limiter.limit(job_limit)
    @blp.arguments(JobRequestSchema())
    @blp.response(202, JobSchema())
    @blp.alt_response(409, schema=ErrorSchema, description="a request with this Idempotency-Key is in progress")
    @blp.doc(parameters=[IDEMPOTENCY_KEY])
    def post(self, body: dict[str, Any]) -> Any:
        """Create a job: render the outputs of one source image"""
        svc = services()
        source = body["source"]
        job_request = JobRequest(
            outputs=[OutputSpec.from_fields(o) for o in body["outputs"]],
            presets=body["presets"],
            source_key=source.get("key"),
            source_url=source.get("url"),
            webhook_url=body.get("webhook_url"),
            placeholder=body["placeholder"],
            idempotency=idempotency(),
        )
        job = submit_job(tenant(), job_request, svc.settings, svc.presets, svc.jobs, new_id())
        if job.replayed:
            return job_document(job, svc.store, svc.result_url_ttl), 202, {"Idempotent-Replayed": "true"}
        JOBS_ACCEPTED.labels("new").inc()
        return job_document(job, svc.store, svc.result_url_ttl)

    @blp.arguments(JobListQuerySchema(), location="query", unknown=RAISE)
    @blp.response(200, JobListSchema())
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """List jobs, newest first"""
        svc = services()
        limit = query["limit"]
        jobs = svc.jobs.list_recent(query.get("status"), limit + 1, query.get("cursor"), tenant=tenant())
        page = jobs[:limit]
        return {
            "items": [job_document(j, svc.store, svc.result_url_ttl) for j in page],
            "next_cursor": str(page[-1].id) if len(jobs) > limit else None,
        }


@blp.route("/<uuid:job_id>")
class JobById(MethodView):
    @blp.response(200, JobSchema())
    def get(self, job_id: uuid.UUID) -> dict[str, Any]:
        """Read a job: its status, outputs and error"""
        return _document(services(), job_id)

    @blp.response(200, JobSchema())
    @blp.alt_response(409, schema=ErrorSchema, description="the job is queued or processing: cancel it first")
    def delete(self, job_id: uuid.UUID) -> dict[str, Any]:
        """Delete the job's images: its outputs, and its upload unless another job uses it; the record stays,
        with purged_at. Repeating it changes nothing."""
        svc = services()
        job = svc.jobs.get(job_id, tenant())
        if job is None:
            raise NotFound(f"no job {job_id}")
        return job_document(purge_job(job, svc.jobs, svc.store), svc.store, svc.result_url_ttl)


@blp.route("/<uuid:job_id>/deliveries")
class JobDeliveries(MethodView):
    @blp.response(200, DeliveryListSchema())
    def get(self, job_id: uuid.UUID) -> dict[str, Any]:
        """Every webhook delivery attempt for the job, oldest first"""
        svc = services()
        _document(svc, job_id)  # 404 unless it is this tenant's
        return {"items": svc.jobs.deliveries(job_id)}


@blp.route("/<uuid:job_id>/retry")
class JobRetry(MethodView):
    @blp.response(202, JobSchema())
    @blp.alt_response(409, schema=ErrorSchema, description="the job has not failed or been canceled")
    def post(self, job_id: uuid.UUID) -> dict[str, Any]:
        """Run a failed or canceled job again, from the start"""
        svc = services()
        _document(svc, job_id)
        if not svc.jobs.retry(job_id):
            _conflict(svc, job_id, "only a failed or canceled job whose images were not deleted can be retried")
        JOBS_ACCEPTED.labels("retry").inc()
        return _document(svc, job_id)


@blp.route("/<uuid:job_id>/cancel")
class JobCancel(MethodView):
    @blp.response(200, JobSchema())
    @blp.alt_response(409, schema=ErrorSchema, description="the job has already ended")
    def post(self, job_id: uuid.UUID) -> dict[str, Any]:
        """Cancel a queued or running job (a step already running finishes; nothing after it runs)"""
        svc = services()
        _document(svc, job_id)
        if not svc.jobs.cancel(job_id):
            _conflict(svc, job_id, "the job has already ended")
        JOBS_CANCELED.inc()
        return _document(svc, job_id)


def _conflict(svc: ApiServices, job_id: uuid.UUID, message: str) -> None:
    job = svc.jobs.get(job_id, tenant())
    if job is None:
        raise NotFound(f"no job {job_id}")
    abort(409, message=f"{message} (it is {job.status})")


def _document(svc: ApiServices, job_id: uuid.UUID) -> dict[str, Any]:
    """The tenant's job as JSON; 404 for a job that is not there or not the tenant's."""
    job = svc.jobs.get(job_id, tenant())
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job_document(job, svc.store, svc.result_url_ttl)
