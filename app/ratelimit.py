"""Per-tenant rate limits on creating jobs and uploads (Flask-Limiter, counters in Redis).

Over the limit: 429 ``rate_limited`` with Retry-After and X-RateLimit-*
headers; other answers of a limited route carry X-RateLimit-* only
(Retry-After means "come back later", RFC 9110 §10.2.3). If Redis is
unreachable, each API process falls back to counting in its own memory
(the same limits per process) rather than refusing work or letting it
through unlimited.

The strategy is limits' sliding window counter: the current window's count
plus the previous window's, weighted by how much of it still overlaps, so a
tenant cannot spend two windows' worth in the seconds around a boundary. It
costs two Redis round trips a request (the hit and the headers' window),
where a fixed window costs three (the hit, the count, the expiry).
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter

from app.auth import tenant
from config import Settings

limiter = Limiter(key_func=tenant, headers_enabled=True, swallow_errors=True, in_memory_fallback_enabled=True)


def job_limit() -> str:
    return str(current_app.config["PIXELFLOW_RATE_LIMIT_JOBS"])


def batch_limit() -> str:
    return str(current_app.config["PIXELFLOW_RATE_LIMIT_BATCH_ITEMS"])


def batch_items() -> int:
    """A batch counts against its limit by its items; one over the size limit counts as the largest (it is then
    refused with 422 naming that limit, not 429, which would tell its client to send it again later)."""
    body = request.get_json(silent=True)
    items = body.get("items") if isinstance(body, dict) else None
    largest = int(current_app.config["PIXELFLOW_BATCH_MAX_ITEMS"])
    return min(max(len(items), 1), largest) if isinstance(items, list) else 1


def upload_limit() -> str:
    return str(current_app.config["PIXELFLOW_RATE_LIMIT_UPLOADS"])


def init_rate_limits(app: Flask, settings: Settings) -> None:
    app.config.update(
        RATELIMIT_STORAGE_URI=settings.redis_url,
        RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        RATELIMIT_STRATEGY="sliding-window-counter",
        RATELIMIT_KEY_PREFIX=f"pixelflow-{settings.queue}",
        PIXELFLOW_RATE_LIMIT_JOBS=settings.rate_limit_jobs,
        PIXELFLOW_RATE_LIMIT_UPLOADS=settings.rate_limit_uploads,
        PIXELFLOW_RATE_LIMIT_BATCH_ITEMS=settings.rate_limit_batch_items,
        PIXELFLOW_BATCH_MAX_ITEMS=settings.batch_max_items,
    )
    # Registered before the limiter's own after_request, so it runs after it (Flask runs them in reverse).
    app.after_request(_retry_after_only_when_refused)
    limiter.init_app(app)


def _retry_after_only_when_refused(response: Response) -> Response:
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response
