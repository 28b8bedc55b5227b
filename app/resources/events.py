"""Event streams (Server-Sent Events): a job's steps as they run, a batch's items as they end (core/events.py).

    GET /v1/jobs/{id}/events      job.started, step.started, step.ended, job.ended (then the stream closes)
    GET /v1/batches/{id}/events   job.ended per item, batch.counts, batch.finished (then the stream closes)

Resumed from the ``Last-Event-ID`` header (an EventSource sends it by itself
when it reconnects); a stream with nothing left to send answers 204, which
tells an EventSource to stop. Held by a greenlet of the gevent worker
(config/gunicorn.py), not a thread, so open streams do not hold up other
requests. A browser's EventSource cannot send an Authorization header: these
two also take the key from the ``pixelflow_key`` cookie (app/auth.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from flask import Response, request, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from werkzeug.exceptions import NotFound

from app.auth import tenant
from app.services import services

blp = Blueprint("events", __name__, url_prefix="/v1", description="Live events (Server-Sent Events)")

LAST_EVENT_ID = {
    "in": "header",
    "name": "Last-Event-ID",
    "required": False,
    "schema": {"type": "string", "maxLength": 200},
    "description": "the id of the last event seen: the stream goes on after it",
}


def stream(events: list[str]) -> dict[str, Any]:
    """A 200 of Server-Sent Events, each event as its schema (what schemathesis checks every event against)."""
    return {
        "200": {
            "description": "text/event-stream: these events, each with its data as one JSON object; a"
            " ': heartbeat' comment between them every PIXELFLOW_EVENTS_HEARTBEAT seconds",
            "content": {
                "text/event-stream": {
                    "schema": {
                        "type": "object",
                        "required": ["event", "data"],
                        "properties": {
                            "event": {"type": "string", "enum": events},
                            "data": {"type": "string", "contentMediaType": "application/json"},
                            "id": {"type": "string", "description": "send it back as Last-Event-ID to resume"},
                            "retry": {"type": "integer"},
                        },
                    }
                }
            },
        },
        **ENDED,
    }


ENDED = {
    "204": {"description": "nothing is left to send after Last-Event-ID (the stream has ended)"},
    "404": {"description": "not found"},
    "422": {"description": "a Last-Event-ID longer than 200 characters"},
}


def _stream(events: Iterator[str]) -> Response:
    return Response(
        stream_with_context(events),
        mimetype="text/event-stream",
        # No proxy may hold the events back (nginx buffers unless told not to).
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _last_event_id() -> str | None:
    value = request.headers.get("Last-Event-ID")
    if value is not None and len(value) > 200:
        abort(422, message="Last-Event-ID must be at most 200 characters", errors={"Last-Event-ID": [value[:50]]})
    return value or None


@blp.route("/jobs/<uuid:job_id>/events")
class JobEvents(MethodView):
    @blp.doc(parameters=[LAST_EVENT_ID], responses=stream(["job.started", "step.started", "step.ended", "job.ended"]))
    def get(self, job_id: uuid.UUID) -> Any:
        """A job's events as they happen: its start, each step's start and end, its end (with its document)"""
        svc = services()
        job = svc.jobs.get(job_id, tenant())
        if job is None:
            raise NotFound(f"no job {job_id}")
        sent = svc.streams.job_position(job, _last_event_id())
        if sent is None:
            return Response(status=204)
        return _stream(svc.streams.job(job_id, sent))


@blp.route("/batches/<uuid:batch_id>/events")
class BatchEvents(MethodView):
    @blp.doc(parameters=[LAST_EVENT_ID], responses=stream(["job.ended", "batch.counts", "batch.finished"]))
    def get(self, batch_id: uuid.UUID) -> Any:
        """A batch's events: each item's end, the counts as they change, the batch's finish (its manifest)"""
        svc = services()
        if svc.jobs.get_batch(batch_id, tenant()) is None:
            raise NotFound(f"no batch {batch_id}")
        last = _last_event_id()
        if svc.streams.batch_done(batch_id, last):
            return Response(status=204)
        return _stream(svc.streams.batch(batch_id, last))
