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

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from config import Settings
from core.errors import InvalidRequest, SourceForbidden, SourceNotFound, WatermarkNotFound
from core.model import Job
from core.ports import Jobs
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
    placeholder: bool = False
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
