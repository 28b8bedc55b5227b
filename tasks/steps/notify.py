"""notify: tell the client that the job has ended.

With a webhook URL the final job document is POSTed to it, signed the
Standard Webhooks way (core/webhooks.py); every attempt is recorded and
listed at GET /v1/jobs/{id}/deliveries. Timeouts, 5xx, 408 and 429 are
retried with backoff for hours (the notify task's own retry schedule); 410
disables the endpoint; other 4xx end the delivery. Without a webhook URL,
only the fact that the job finished is recorded.

``deliver`` is that delivery for any event: a batch's batch.completed goes
the same way (tasks/steps/finish.py).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from core import webhooks
from core.document import job_document
from core.errors import WebhookRejected, WebhookUnavailable
from core.ports import Services
from core.urlguard import check_url, guarded_client
from tasks.steps.common import already_done


@dataclass(frozen=True)
class Event:
    """One event for a client's webhook: a job's or a batch's ending."""

    subject: uuid.UUID
    type: str
    at: datetime
    tenant: str
    data: Callable[[], dict[str, Any]]
    """The event's document, made only when it is sent."""
    batch: bool = False


def deliver(svc: Services, event: Event, url: str, told: Callable[[int | None, str | None], object]) -> None:
    """POST ``event`` to ``url`` once (one attempt, recorded), calling ``told`` when the delivery has ended.
    Raises WebhookUnavailable for an attempt to retry, WebhookRejected for a refusal."""
    msg_id = webhooks.message_id(event.subject, event.at)
    job_id, batch_id = (None, event.subject) if event.batch else (event.subject, None)

    def record(status: int | None, error: str | None, elapsed: int) -> None:
        svc.jobs.record_delivery(job_id, msg_id, url, attempt, status, error, elapsed, batch_id=batch_id)

    attempt = svc.jobs.delivery_attempts(msg_id) + 1
    if svc.jobs.endpoint_disabled(url):
        record(None, "endpoint disabled (it answered 410)", 0)
        told(None, "endpoint disabled")
        return
    check_url(url, svc.settings.fetch_allow)
    body = json.dumps(
        {"type": event.type, "timestamp": event.at.isoformat(), "data": event.data()}, separators=(",", ":")
    ).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "PixelFlow",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
    }
    # The tenant's own secrets (rotated through the API), else the operator's.
    secrets = svc.secrets.signing(event.tenant) or svc.settings.webhook_secrets
    if secrets:
        headers["webhook-signature"] = webhooks.sign(secrets, msg_id, timestamp, body)
    started = time.monotonic()
    try:
        with guarded_client(svc.settings.fetch_allow, svc.settings.webhook_timeout) as client:
            response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        record(None, f"{type(exc).__name__}: {exc}", round((time.monotonic() - started) * 1000))
        raise WebhookUnavailable(f"webhook {url} unreachable: {exc}") from None
    status = response.status_code
    record(status, None, round((time.monotonic() - started) * 1000))
    if status >= 500 or status in (408, 429):
        raise WebhookUnavailable(f"webhook {url} answered {status}")
    if status == 410:
        svc.jobs.disable_endpoint(url, f"answered 410 to {'batch' if event.batch else 'job'} {event.subject}")
    if status >= 400:
        told(status, f"answered {status}")
        raise WebhookRejected(f"webhook {url} answered {status}")
    told(status, None)


def notify(svc: Services, job_id: uuid.UUID) -> bool:
    job = svc.jobs.get(job_id)
    if job is None or not job.terminal:
        return False
    if already_done(job, "notify"):
        return True
    if not job.webhook_url:
        svc.jobs.record_notification(job_id, None, None)
        return True
    ttl = timedelta(seconds=svc.settings.result_url_ttl)
    event = Event(
        job_id,
        f"job.{job.status}",
        job.finished_at or job.created_at,
        job.tenant,
        lambda: job_document(job, svc.store, ttl),
    )
    deliver(svc, event, job.webhook_url, lambda status, error: svc.jobs.record_notification(job_id, status, error))
    return True
