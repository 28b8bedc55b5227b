"""fetch: bring the source into the pipeline.

An uploaded key is checked (it exists, its size is within the limit, it was
stored with an image content type: what a presigned PUT cannot make every
storage enforce); the API accepted the job without asking storage. A URL
is downloaded into staging through the address guard (core/urlguard.py: the
connection goes to the address that was checked, every redirect too), with a
timeout and a byte limit enforced while streaming.
"""

from __future__ import annotations

import uuid
from urllib.parse import urljoin

import httpx

from core.errors import (
    SourceForbidden,
    SourceNotFound,
    SourceTooLarge,
    SourceUnavailable,
    TooManyRedirects,
    UnsupportedFormat,
)
from core.ports import Services
from core.spec import UPLOAD_CONTENT_TYPES, staged_source_key, upload_prefix
from core.urlguard import check_url, guarded_client
from tasks.steps.common import already_done, hold, holds_sources, processing_job

MAX_REDIRECTS = 5
_LOCATION = "pixelflow.location"


def _hold_location(response: httpx.Response) -> None:
    """A redirect's Location is judged by download(), not parsed by httpx: httpx builds the next request of every
    redirect itself, and one it cannot parse would fail the whole response with a protocol error."""
    if response.status_code in (301, 302, 303, 307, 308) and "location" in response.headers:
        response.extensions[_LOCATION] = response.headers.pop("location")


def fetch(svc: Services, job_id: uuid.UUID) -> bool:
    job = processing_job(svc, job_id, "fetch", begin=True)
    if job is None:
        return False
    if already_done(job, "fetch"):
        return True
    limit = svc.settings.max_source_bytes
    if job.source_key:
        # Only the job's own tenant's uploads, whatever the job's row says: the API refuses another's key, and a
        # batch item that names one fails at once, but a retried job must not read it either.
        if not job.source_key.startswith(upload_prefix(job.tenant)):
            raise SourceNotFound(f"nothing was uploaded at {job.source_key!r}")
        data: bytes | None = None
        try:
            if holds_sources():  # validate and transform run in this message: one GET serves the three steps
                stored, data = svc.store.read(job.source_key, limit)
            else:
                stored = svc.store.head(job.source_key)
        except FileNotFoundError:
            raise SourceNotFound(f"nothing was uploaded at {job.source_key!r}") from None
        size = stored.size
        content_type = stored.content_type.split(";")[0].strip().lower()
        if content_type not in UPLOAD_CONTENT_TYPES:
            raise UnsupportedFormat(
                f"the upload was stored as {content_type or 'no content type'!r}; send it with the image"
                " content type its upload slot declared"
            )
        key = job.source_key
    else:
        assert job.source_url is not None
        data = download(job.source_url, limit, svc.settings.fetch_timeout, svc.settings.fetch_allow)
        key = staged_source_key(job_id)
        svc.store.put(key, data, "application/octet-stream")
        size = len(data)
    if size > limit:
        raise SourceTooLarge(f"the source is {size} bytes; the limit is {limit}")
    svc.jobs.set_source(job_id, size)
    if data is not None:
        hold(key, data)
    return True


def download(url: str, limit: int, timeout: float, allow: list[str], client: httpx.Client | None = None) -> bytes:
    """GET url through the address guard, following at most MAX_REDIRECTS redirects, each checked again."""
    with client or guarded_client(allow, timeout) as client:
        if _hold_location not in client.event_hooks["response"]:  # a client given twice keeps one
            client.event_hooks = {**client.event_hooks, "response": [*client.event_hooks["response"], _hold_location]}
        for _ in range(MAX_REDIRECTS + 1):
            check_url(url, allow)
            try:
                with client.stream("GET", url) as response:
                    location = response.extensions.get(_LOCATION)
                    if location is not None:
                        url = _redirected(url, location)
                        continue
                    _check_status(url, response.status_code)
                    return _read_limited(response, limit)
            except httpx.InvalidURL as exc:  # a URL (a redirect's, say: http://0177.0.0.1/) httpx cannot parse
                raise SourceForbidden(f"{url} is not a URL that can be fetched: {exc}") from None
            except httpx.HTTPError as exc:
                raise SourceUnavailable(f"fetching {url} failed: {exc}") from None
    raise TooManyRedirects(f"more than {MAX_REDIRECTS} redirects from {url}")


def _redirected(url: str, location: str) -> str:
    try:
        return urljoin(url, location)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise SourceForbidden(f"{url} redirects to {location!r}, which is not a URL: {exc}") from None


def _check_status(url: str, status: int) -> None:
    if status >= 500 or status in (408, 429):
        raise SourceUnavailable(f"{url} answered {status}")
    if status >= 400:
        raise SourceNotFound(f"{url} answered {status}")


def _read_limited(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise SourceTooLarge(f"the source declares {declared} bytes; the limit is {limit}")
    chunks, total = [], 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > limit:
            raise SourceTooLarge(f"the source is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
