"""API keys on everything under /v1: ``Authorization: Bearer <key>``.

/healthz, /readyz, /metrics, /openapi.json and /docs stay open. The event streams
(GET …/events) also take the key from the ``pixelflow_key`` cookie: a browser's
EventSource cannot send the header (the dashboard sets the cookie, SameSite=Strict). A read key may only
GET; write and admin keys may create; only admin keys manage webhook secrets.
Whatever a key sees is its tenant's: another tenant's job answers 404, never 403.

A key found live is kept in the process for PIXELFLOW_API_KEY_CACHE_SECONDS
(by its SHA-256, at most 10,000 keys), so a request costs no PostgreSQL
round trip to authenticate; a revoked key is refused within that time. A key
not found is looked up again on its next request (an unknown key is not
kept: random guesses would only push live keys out).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from cachetools import TTLCache
from flask import Flask, g, request
from werkzeug.exceptions import Forbidden, Unauthorized

from core.keystore import ApiKey, KeyStore

_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
EVENTS_COOKIE = "pixelflow_key"
CACHED_KEYS = 10_000


class KeyCache:
    """A key lookup (KeyStore.authenticate), with the live keys it finds kept for ``seconds`` (0: not kept)."""

    def __init__(
        self,
        lookup: Callable[[str], ApiKey | None],
        seconds: float,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lookup = lookup
        self.live: TTLCache[bytes, ApiKey] | None = TTLCache(CACHED_KEYS, seconds, timer) if seconds > 0 else None
        self.lock = threading.Lock()  # TTLCache is not thread-safe (gevent patches the lock to a greenlet one)

    def authenticate(self, token: str) -> ApiKey | None:
        if self.live is None:
            return self.lookup(token)
        digest = hashlib.sha256(token.encode()).digest()
        with self.lock:
            key = self.live.get(digest)
        if key is None:
            key = self.lookup(token)
            if key is not None:
                with self.lock:
                    self.live[digest] = key
        return key


def init_auth(app: Flask, keys: KeyStore, cache_seconds: float) -> None:
    cache = KeyCache(keys.authenticate, cache_seconds)

    @app.before_request
    def authenticate() -> None:
        if not request.path.startswith("/v1/"):
            return
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if not scheme and request.method == "GET" and request.path.endswith("/events"):
            # A browser's EventSource sends no headers of its own: the dashboard puts its key in a cookie
            # (SameSite=Strict, so no other site's page sends it), taken on the event streams only.
            scheme, token = "bearer", request.cookies.get(EVENTS_COOKIE, "")
        key = cache.authenticate(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if key is None:
            raise Unauthorized("send a valid API key as 'Authorization: Bearer <key>'")
        if key.scope == "read" and request.method not in _SAFE_METHODS:
            raise Forbidden("this API key is read-only")
        g.api_key = key


def current_key() -> ApiKey:
    key: ApiKey = g.api_key
    return key


def tenant() -> str:
    return current_key().tenant


def require_admin() -> None:
    if current_key().scope != "admin":
        raise Forbidden("this needs an admin API key")
