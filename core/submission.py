"""The rules a new job must meet, apart from HTTP: presets, limits, addresses, ownership, the upload itself.

The API's view parses the body (its schema checks each field's shape) and
hands the request here; what is refused is a PixelFlowError with a stable
code, which the view answers as it answers every other.

Round trips: one HEAD per uploaded object the job names (its source, each
image watermark), then the job's one INSERT. A URL is judged by its address
here and by its resolved addresses when a worker fetches it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from config import Settings
from core.errors import (
    InvalidRequest,
    SourceForbidden,
    SourceNotFound,
    SourceTooLarge,
    UnsupportedFormat,
    WatermarkNotFound,
)
from core.model import Job
from core.ports import Jobs, ObjectStore
from core.spec import UPLOAD_CONTENT_TYPES, OutputSpec, upload_prefix
from core.urlguard import check_url


@dataclass(frozen=True)
class JobRequest:
    """What a client asked for, its fields' shapes already checked."""

    outputs: Sequence[OutputSpec] = ()
    presets: Sequence[str] = ()
    source_key: str | None = None
    source_url: str | None = None
    webhook_url: str | None = None
    placeholder: bool = False
    idempotency: tuple[str, str] | None = field(default=None)
    """(Idempotency-Key, hash of the request)."""


def submit_job(
    tenant: str,
    request: JobRequest,
    settings: Settings,
    presets: Mapping[str, Sequence[OutputSpec]],
    jobs: Jobs,
    store: ObjectStore,
    job_id: uuid.UUID,
) -> Job:
    """Check the request against the deployment's rules and the tenant's uploads, then create the job.

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
    owned = upload_prefix(tenant)
    if request.source_key is not None:
        _check_upload(request.source_key, owned, settings, store)
    for key in sorted({s.watermark.image_key for s in outputs if s.watermark and s.watermark.image_key}):
        if not key.startswith(owned):
            raise WatermarkNotFound(f"no watermark image was uploaded at {key!r}")
        try:
            store.head(key)
        except FileNotFoundError:
            raise WatermarkNotFound(f"no watermark image was uploaded at {key!r}") from None
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


def _check_upload(key: str, owned: str, settings: Settings, store: ObjectStore) -> None:
    """The source is the tenant's own upload, there, of an image content type and within the size limit."""
    if not key.startswith(owned):
        raise SourceNotFound(f"nothing was uploaded at {key!r}")
    try:
        stored = store.head(key)
    except FileNotFoundError:
        raise SourceNotFound(f"nothing was uploaded at {key!r}") from None
    # What the upload slot bound but the storage did not enforce: the size and an image content type.
    if stored.size > settings.max_source_bytes:
        raise SourceTooLarge(f"the source is {stored.size} bytes; the limit is {settings.max_source_bytes}")
    content_type = stored.content_type.split(";")[0].strip().lower()
    if content_type not in UPLOAD_CONTENT_TYPES:
        raise UnsupportedFormat(
            f"the upload was stored as {content_type or 'no content type'!r}; send it with the image"
            " content type its upload slot declared"
        )
