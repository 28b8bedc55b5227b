"""The rules a new job must meet, apart from HTTP: presets, limits, addresses, ownership.

The API's view parses the body (its schema checks each field's shape) and
hands the request here; what is refused is a PixelFlowError with a stable
code, which the view answers as it answers every other.

Round trips: the job's one INSERT, nothing else. What only storage can tell
(that an upload is there, its size, its stored content type; that a
watermark image is there) is checked by the worker, which reads the object
anyway: fetch HEADs the source, transform reads each watermark. A job that
names a missing upload is accepted and fails with the same code
(``source_not_found``, ``source_too_large``, ``unsupported_format``,
``watermark_not_found``), like a URL that answers 404. So accepting a job
costs no storage round trip and goes on while storage is down. A URL is
judged by its address here and by its resolved addresses when a worker
fetches it.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from config import Settings
from core.errors import InvalidRequest, SourceForbidden, SourceNotFound, WatermarkNotFound
from core.ids import new_id
from core.model import Batch, BatchItem, Job
from core.ports import Batches, Jobs
from core.spec import OutputSpec, upload_prefix
from core.urlguard import check_url


@dataclass(frozen=True)
class JobRequest:
    """What a client asked for, its fields' shapes already checked."""

    outputs: Sequence[OutputSpec] = ()
    presets: Sequence[str] = ()
    source_key: str | None = None
    source_url: str | None = None
    webhook_url: str | None = None
    placeholder: str | None = None
    idempotency: tuple[str, str] | None = field(default=None)
    """(Idempotency-Key, hash of the request)."""


def submit_job(
    tenant: str,
    request: JobRequest,
    settings: Settings,
    presets: Mapping[str, Sequence[OutputSpec]],
    jobs: Jobs,
    job_id: uuid.UUID,
) -> Job:
    """Check the request against the deployment's rules, then create the job.

    The job and its outbox row commit together; the relay publishes the chain.
    A repeated Idempotency-Key returns the earlier job (``Job.replayed``).
    """
    outputs = _outputs(request, settings, presets)
    # Addresses written into a URL are judged now; names when a worker resolves them.
    for name, url in (("source.url", request.source_url), ("webhook_url", request.webhook_url)):
        if url:
            try:
                check_url(url, settings.fetch_allow)
            except SourceForbidden as exc:
                raise SourceForbidden(f"{name}: {exc.message}") from None
    # A tenant's uploads are under its own prefix: anything else is not its upload, whether or not it exists.
    owned = upload_prefix(tenant)
    if request.source_key is not None and not request.source_key.startswith(owned):
        raise SourceNotFound(f"nothing was uploaded at {request.source_key!r}")
    for key in sorted({s.watermark.image_key for s in outputs if s.watermark and s.watermark.image_key}):
        if not key.startswith(owned):
            raise WatermarkNotFound(f"no watermark image was uploaded at {key!r}")
    return jobs.create(
        job_id,
        outputs,
        source_key=request.source_key,
        source_url=request.source_url,
        webhook_url=request.webhook_url,
        placeholder=request.placeholder,
        idempotency=request.idempotency,
        tenant=tenant,
    )


@dataclass(frozen=True)
class BatchRequest:
    """Many sources, the same outputs for each (an item may bring its own focal point)."""

    items: Sequence[BatchItem]
    outputs: Sequence[OutputSpec] = ()
    presets: Sequence[str] = ()
    webhook_url: str | None = None
    """Told once, batch.completed, when every item has ended."""
    job_webhook_url: str | None = None
    """Told of every item's job, as a job's webhook is."""
    placeholder: str | None = None
    idempotency: tuple[str, str] | None = field(default=None)


def submit_batch(
    tenant: str,
    request: BatchRequest,
    settings: Settings,
    presets: Mapping[str, Sequence[OutputSpec]],
    batches: Batches,
    batch_id: uuid.UUID,
) -> Batch:
    """The batch's rules, then the batch and a job per item, in statements that do not grow with the items.

    A whole-request mistake (no items, too many, unknown preset, a forbidden webhook address) refuses the
    batch. A mistake in one item (a source that is not the tenant's upload, a URL to a forbidden address)
    refuses that item alone: its job is made failed with the code a single job would get, and the rest go on.
    """
    if not request.items:
        raise InvalidRequest("a batch needs at least one item", {"items": ["empty"]})
    if len(request.items) > settings.batch_max_items:
        raise InvalidRequest(
            f"a batch may have at most {settings.batch_max_items} items (PIXELFLOW_BATCH_MAX_ITEMS);"
            f" this one has {len(request.items)}",
            {"items": [f"more than {settings.batch_max_items}"]},
        )
    outputs = _outputs(JobRequest(outputs=request.outputs, presets=request.presets), settings, presets)
    for name, url in (("webhook_url", request.webhook_url), ("job_webhook_url", request.job_webhook_url)):
        if url:
            try:
                check_url(url, settings.fetch_allow)
            except SourceForbidden as exc:
                raise SourceForbidden(f"{name}: {exc.message}") from None
    owned = upload_prefix(tenant)
    for key in sorted({s.watermark.image_key for s in outputs if s.watermark and s.watermark.image_key}):
        if not key.startswith(owned):
            raise WatermarkNotFound(f"no watermark image was uploaded at {key!r}")
    items = [_judged(item, owned, settings) for item in request.items]
    # Ids ascend with the items: a batch's jobs page in item order.
    job_ids = sorted(new_id() for _ in items)
    return batches.create_batch(
        batch_id,
        job_ids,
        items,
        outputs,
        tenant,
        placeholder=request.placeholder,
        webhook_url=request.webhook_url,
        job_webhook_url=request.job_webhook_url,
        idempotency=request.idempotency,
    )


def _judged(item: BatchItem, owned: str, settings: Settings) -> BatchItem:
    """The item, or the item refused with the error a single job would have got."""
    if item.source_key is not None and not item.source_key.startswith(owned):
        return dataclasses.replace(item, error=(SourceNotFound.code, f"nothing was uploaded at {item.source_key!r}"))
    if item.source_url is not None:
        try:
            check_url(item.source_url, settings.fetch_allow)
        except SourceForbidden as exc:
            return dataclasses.replace(item, error=(exc.code, exc.message))
    return item


def _outputs(request: JobRequest, settings: Settings, presets: Mapping[str, Sequence[OutputSpec]]) -> list[OutputSpec]:
    """The request's outputs and its presets', within the deployment's limits."""
    outputs = list(request.outputs)
    for preset in request.presets:
        if preset not in presets:
            known = ", ".join(sorted(presets)) or "none"
            raise InvalidRequest(f"unknown preset {preset!r} (known: {known})", {"presets": [preset]})
        outputs += presets[preset]
    if not outputs:
        raise InvalidRequest("ask for outputs, presets or both", {"outputs": ["nothing to make"]})
    names = [o.name for o in outputs]
    if len(names) != len(set(names)):
        clash = sorted({n for n in names if names.count(n) > 1})
        raise InvalidRequest(f"output names must be unique; repeated: {', '.join(clash)}", {"outputs": clash})
    if len(outputs) > settings.max_outputs:
        raise InvalidRequest(f"a job may ask for at most {settings.max_outputs} outputs")
    for o in outputs:
        if max(o.width or 0, o.height or 0) > settings.max_output_dimension:
            raise InvalidRequest(f"output {o.name!r} is larger than {settings.max_output_dimension} px")
    return outputs
