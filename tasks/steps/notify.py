"""notify: tell the client that the job has ended.

With a webhook URL the final job document is POSTed to it; without one,
only the fact that the job finished is recorded.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx

from core.document import job_document
from core.errors import WebhookRejected, WebhookUnavailable
from core.urlguard import check_url
from tasks.services import Services


def notify(svc: Services, job_id: uuid.UUID) -> bool:
    job = svc.jobs.get(job_id)
    if job is None or not job.terminal:
        return False
    if not job.webhook_url:
        svc.jobs.record_notification(job_id, None, None)
        return True
    check_url(job.webhook_url, svc.settings.fetch_allow)
    document = job_document(job, svc.store, timedelta(seconds=svc.settings.result_url_ttl))
    try:
        response = httpx.post(
            job.webhook_url,
            json=document,
            timeout=svc.settings.webhook_timeout,
            headers={"User-Agent": "PixelFlow", "webhook-id": str(job_id)},
        )
    except httpx.HTTPError as exc:
        raise WebhookUnavailable(f"webhook {job.webhook_url} unreachable: {exc}") from None
    status = response.status_code
    if status >= 500 or status in (408, 429):
        raise WebhookUnavailable(f"webhook {job.webhook_url} answered {status}")
    if status >= 400:
        svc.jobs.record_notification(job_id, status, f"answered {status}")
        raise WebhookRejected(f"webhook {job.webhook_url} answered {status}")
    svc.jobs.record_notification(job_id, status, None)
    return True
