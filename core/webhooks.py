"""Standard Webhooks (standardwebhooks.com): message ids and signatures.

    webhook-id         stable for one event, across every retry of its delivery
    webhook-timestamp  seconds since the epoch, at this attempt
    webhook-signature  "v1,<base64 HMAC-SHA256 of '{id}.{timestamp}.{body}'>", one per secret,
                       space-separated, so that a receiver keeps verifying while secrets rotate

Secrets are "whsec_" + base64 of the key bytes: a tenant's own (core/webhooksecrets.py), else
the operator's PIXELFLOW_WEBHOOK_SECRETS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import datetime

_NAMESPACE = uuid.UUID("6f1e0c8a-2b4d-4c1e-9a7b-5d3c2e1f0a9b")


def message_id(job_id: uuid.UUID, finished_at: datetime | None) -> str:
    """One id per (job, end): a job retried later ends again and is a new event."""
    ended = finished_at.isoformat() if finished_at else "-"
    return "msg_" + uuid.uuid5(_NAMESPACE, f"{job_id}:{ended}").hex


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(_key(s), signed, hashlib.sha256).digest()).decode() for s in secrets
    )


def verify(secret: str, msg_id: str, timestamp: int, body: bytes, header: str) -> bool:
    """What a receiver does: any of the header's v1 signatures matches this secret."""
    expected = sign([secret], msg_id, timestamp, body).split(",", 1)[1]
    return any(part.startswith("v1,") and hmac.compare_digest(part[3:], expected) for part in header.split(" "))
