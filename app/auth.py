"""API keys on everything under /v1: ``Authorization: Bearer <key>``.

/healthz, /readyz, /metrics, /openapi.json and /docs stay open. A read key may only
GET; write and admin keys may create; only admin keys manage webhook secrets.
Whatever a key sees is its tenant's: another tenant's job answers 404, never 403.
"""

from __future__ import annotations

from flask import Flask, g, request
from werkzeug.exceptions import Forbidden, Unauthorized

from core.keystore import ApiKey, KeyStore

_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def init_auth(app: Flask, keys: KeyStore) -> None:
    @app.before_request
    def authenticate() -> None:
        if not request.path.startswith("/v1/"):
            return
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        key = keys.authenticate(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
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
