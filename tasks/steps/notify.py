"""notify: tell the client that the job has ended.

With a webhook URL the final job document is POSTed to it, signed the
Standard Webhooks way (core/webhooks.py); every attempt is recorded and
listed at GET /v1/jobs/{id}/deliveries. Timeouts, 5xx, 408 and 429 are
retried with backoff for hours (the notify task's own retry schedule); 410
disables the endpoint; other 4xx end the delivery. Without a webhook URL,
only the fact that the job finished is recorded.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta

import httpx

from core import webhooks
from core.document import job_document
from core.errors import WebhookRejected, WebhookUnavailable
from core.ports import Services
from core.urlguard import check_url, guarded_client
from tasks.steps.common import already_done


def notify(svc: Services, job_id: uuid.UUID) -> bool:
    job = svc.jobs.get(job_id)
    if job is None or not job.terminal:
        return False
    if already_done(job, "notify"):
        return True
    if not job.webhook_url:
        svc.jobs.record_notification(job_id, None, None)
        return True
    url = job.webhook_url
    msg_id = webhooks.message_id(job_id, job.finished_at)
    attempt = svc.jobs.delivery_attempts(job_id, msg_id) + 1
    if svc.jobs.endpoint_disabled(url):
        svc.jobs.record_delivery(job_id, msg_id, url, attempt, None, "endpoint disabled (it answered 410)", 0)
        svc.jobs.record_notification(job_id, None, "endpoint disabled")
        return True
    check_url(url, svc.settings.fetch_allow)
    body = json.dumps(
        {
            "type": f"job.{job.status}",
            "timestamp": (job.finished_at or job.created_at).isoformat(),
            "data": job_document(job, svc.store, timedelta(seconds=svc.settings.result_url_ttl)),
        },
        separators=(",", ":"),
    ).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "PixelFlow",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
    }
    # The tenant's own secrets (rotated through the API), else the operator's.
    secrets = svc.secrets.signing(job.tenant) or svc.settings.webhook_secrets
    if secrets:
        headers["webhook-signature"] = webhooks.sign(secrets, msg_id, timestamp, body)
    started = time.monotonic()
    try:
        with guarded_client(svc.settings.fetch_allow, svc.settings.webhook_timeout) as client:
            response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        elapsed = round((time.monotonic() - started) * 1000)
        svc.jobs.record_delivery(job_id, msg_id, url, attempt, None, f"{type(exc).__name__}: {exc}", elapsed)
        raise WebhookUnavailable(f"webhook {url} unreachable: {exc}") from None
    elapsed = round((time.monotonic() - started) * 1000)
    status = response.status_code
    svc.jobs.record_delivery(job_id, msg_id, url, attempt, status, None, elapsed)
    if status >= 500 or status in (408, 429):
        raise WebhookUnavailable(f"webhook {url} answered {status}")
    if status == 410:
        svc.jobs.disable_endpoint(url, f"answered 410 to job {job_id}")
    if status >= 400:
        svc.jobs.record_notification(job_id, status, f"answered {status}")
        raise WebhookRejected(f"webhook {url} answered {status}")
    svc.jobs.record_notification(job_id, status, None)
    return True
