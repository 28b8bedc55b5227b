"""Webhook secrets of a tenant, managed by the client through the API.

A secret is "whsec_" + base64 of 32 random bytes, shown once when it is
made. Every live secret of the job's tenant signs each webhook (one v1
signature each, core/webhooks.py), so a client rotates without a gap: make
a new one, switch the receiver to it, delete the old one. A tenant with
none is signed with the operator's PIXELFLOW_WEBHOOK_SECRETS. The signing
needs the secret itself, so it is stored as is (unlike API keys).
"""

from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from core.db import Database
from core.errors import TooManyWebhookSecrets
from core.ids import new_id

MAX_PER_TENANT = 5


@dataclass(frozen=True)
class WebhookSecret:
    id: uuid.UUID
    prefix: str
    created_at: datetime


class WebhookSecrets:
    def __init__(self, db: Database) -> None:
        self.db = db  # the process's pool, shared with the other stores

    def create(self, tenant: str) -> tuple[WebhookSecret, str]:
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        with self.db.tx() as cur:
            # One tenant's creations in turn, so that the limit holds under concurrent requests.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('webhook_secrets:' || %s))", (tenant,))
            cur.execute("SELECT count(*) AS n FROM webhook_secrets WHERE tenant = %s", (tenant,))
            row = cur.fetchone()
            if row is not None and row["n"] >= MAX_PER_TENANT:
                raise TooManyWebhookSecrets(f"a tenant has at most {MAX_PER_TENANT} webhook secrets: delete one first")
            cur.execute(
                "INSERT INTO webhook_secrets (id, tenant, secret) VALUES (%s, %s, %s) RETURNING id, created_at",
                (new_id(), tenant, secret),
            )
            made = cur.fetchone()
        assert made is not None
        return WebhookSecret(made["id"], _prefix(secret), made["created_at"]), secret

    def for_tenant(self, tenant: str) -> list[WebhookSecret]:
        with self.db.tx() as cur:
            cur.execute(
                "SELECT id, secret, created_at FROM webhook_secrets WHERE tenant = %s ORDER BY created_at", (tenant,)
            )
            return [WebhookSecret(r["id"], _prefix(r["secret"]), r["created_at"]) for r in cur.fetchall()]

    def delete(self, tenant: str, secret_id: uuid.UUID) -> bool:
        with self.db.tx() as cur:
            cur.execute("DELETE FROM webhook_secrets WHERE id = %s AND tenant = %s", (secret_id, tenant))
            return cur.rowcount == 1

    def signing(self, tenant: str) -> list[str]:
        """The secrets that sign this tenant's webhooks, oldest first."""
        with self.db.tx() as cur:
            cur.execute("SELECT secret FROM webhook_secrets WHERE tenant = %s ORDER BY created_at", (tenant,))
            return [r["secret"] for r in cur.fetchall()]


def _prefix(secret: str) -> str:
    """Enough to tell secrets apart in a listing, too little to sign with."""
    return secret[:12]
