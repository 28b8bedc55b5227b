"""API keys: created, listed and revoked by operators; stored only as SHA-256 hashes.

A key is "pf_" and 43 URL-safe characters (256 random bits), shown once at
creation. Its scope is read (GET), write (GET and POST) or admin (all).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from core.db import Database
from core.ids import new_id

SCOPES = ("read", "write", "admin")


@dataclass(frozen=True)
class ApiKey:
    id: uuid.UUID
    tenant: str
    name: str
    prefix: str
    scope: str
    created_at: datetime
    revoked_at: datetime | None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db  # the process's pool, shared with the other stores

    def create(self, tenant: str, name: str, scope: str = "write") -> tuple[ApiKey, str]:
        """The new key's record and the key itself (shown once, never stored)."""
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
        key = "pf_" + secrets.token_urlsafe(32)
        with self.db.tx() as cur:
            cur.execute(
                "INSERT INTO api_keys (id, tenant, name, prefix, key_hash, scope) VALUES (%s, %s, %s, %s, %s, %s)"
                " RETURNING id, tenant, name, prefix, scope, created_at, revoked_at",
                (new_id(), tenant, name, key[:10], _hash(key), scope),
            )
            row = cur.fetchone()
        assert row is not None
        return ApiKey(**row), key

    def authenticate(self, key: str) -> ApiKey | None:
        """The live key this secret belongs to, or None (one statement: it runs on every request)."""
        with self.db.statement() as cur:
            cur.execute(
                "SELECT id, tenant, name, prefix, scope, created_at, revoked_at FROM api_keys"
                " WHERE key_hash = %s AND revoked_at IS NULL",
                (_hash(key),),
            )
            row = cur.fetchone()
        return ApiKey(**row) if row else None

    def list(self, tenant: str | None = None) -> list[ApiKey]:
        with self.db.tx() as cur:
            cur.execute(
                "SELECT id, tenant, name, prefix, scope, created_at, revoked_at FROM api_keys"
                " WHERE %s::text IS NULL OR tenant = %s ORDER BY created_at",
                (tenant, tenant),
            )
            return [ApiKey(**r) for r in cur.fetchall()]

    def revoke(self, key_id: uuid.UUID) -> bool:
        with self.db.tx() as cur:
            cur.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL", (key_id,))
            return cur.rowcount == 1
