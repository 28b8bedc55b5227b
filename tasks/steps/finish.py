"""finish: a batch whose items have all ended gets its manifest and its batch.completed webhook.

The relay hands each such batch to this step (``Batches.relay_batches``),
again if its ending is still not told after a while. Each part is guarded,
so a step run twice does each once:
1. the manifest (core/manifest.py) is written to its fixed key, then the
   batch is marked finished with it: a second run finds it finished; a run
   that finds an item running again (the batch was retried) stops;
2. the webhook, if the batch has one, is delivered as a job's is
   (tasks/steps/notify.py ``deliver``), with the batch's document; its
   webhook-id names the batch's ending, so a retry of the batch that ends
   again is a new event. Without a webhook the ending is recorded as told.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from core import manifest
from core.document import batch_document
from core.ports import Services
from core.spec import manifest_key
from tasks.steps.notify import Event, deliver


def finish(svc: Services, batch_id: uuid.UUID) -> bool:
    """True when the batch's ending has been told (now or before); False when it is not over."""
    batch = svc.jobs.get_batch(batch_id)
    if batch is None:
        return False
    if batch.notified_at is not None:
        return True
    if batch.finished_at is None:
        if batch.ended < batch.items:
            return False  # retried meanwhile: handed on again when it ends
        key = manifest_key(batch.tenant, batch.id)
        svc.store.put(key, manifest.manifest(svc.jobs, batch), manifest.CONTENT_TYPE)
        svc.jobs.finish_batch(batch.id, key)  # False: another run did, or an item runs again
        batch = svc.jobs.get_batch(batch_id)
        if batch is None or batch.finished_at is None:
            return False
    if not batch.webhook_url:
        svc.jobs.record_batch_notification(batch_id, None, None)
        return True
    ttl = timedelta(seconds=svc.settings.result_url_ttl)
    ended = batch
    event = Event(
        batch_id,
        "batch.completed",
        ended.finished_at or ended.created_at,
        ended.tenant,
        lambda: batch_document(ended, svc.store, ttl),
        batch=True,
    )
    deliver(
        svc, event, batch.webhook_url, lambda status, error: svc.jobs.record_batch_notification(batch_id, status, error)
    )
    return True
