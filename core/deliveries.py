"""Webhook deliveries in PostgreSQL (the Deliveries port): every attempt, and endpoints disabled by a 410."""

from __future__ import annotations

import uuid
from typing import Any

from core import redact
from core.db import Database


class PgDeliveries(Database):
    def record_delivery(
        self,
        job_id: uuid.UUID | None,
        message_id: str,
        url: str,
        attempt: int,
        status: int | None,
        error: str | None,
        duration_ms: int,
        batch_id: uuid.UUID | None = None,
    ) -> None:
        with self.statement() as cur:
            cur.execute(
                "INSERT INTO webhook_deliveries (job_id, batch_id, message_id, url, attempt, status_code, error,"
                " duration_ms) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (job_id, batch_id, message_id, url, attempt, status, error and redact.scrub(error), duration_ms),
            )

    def delivery_attempts(self, message_id: str) -> int:
        with self.statement() as cur:
            cur.execute("SELECT count(*) AS n FROM webhook_deliveries WHERE message_id = %s", (message_id,))
            row = cur.fetchone()
        return int(row["n"]) if row else 0

    def deliveries(self, job_id: uuid.UUID | None = None, batch_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
        column, subject = ("batch_id", batch_id) if job_id is None else ("job_id", job_id)
        with self.statement() as cur:
            cur.execute(
                "SELECT id, message_id, url, attempt, status_code, error, duration_ms, created_at"  # noqa: S608
                f" FROM webhook_deliveries WHERE {column} = %s ORDER BY id",
                (subject,),
            )
            return cur.fetchall()

    def disable_endpoint(self, url: str, reason: str) -> None:
        with self.tx() as cur:
            cur.execute(
                "INSERT INTO webhook_endpoints_disabled (url, reason) VALUES (%s, %s) ON CONFLICT (url) DO NOTHING",
                (url, reason),
            )

    def endpoint_disabled(self, url: str) -> bool:
        with self.tx() as cur:
            cur.execute("SELECT 1 FROM webhook_endpoints_disabled WHERE url = %s", (url,))
            return cur.fetchone() is not None
