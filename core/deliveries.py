"""Webhook deliveries in PostgreSQL (the Deliveries port): every attempt, and endpoints disabled by a 410."""

from __future__ import annotations

import uuid
from typing import Any

from core import redact
from core.db import Database


class PgDeliveries(Database):
    def record_delivery(
        self,
        job_id: uuid.UUID,
        message_id: str,
        url: str,
        attempt: int,
        status: int | None,
        error: str | None,
        duration_ms: int,
    ) -> None:
        with self.tx() as cur:
            cur.execute(
                "INSERT INTO webhook_deliveries (job_id, message_id, url, attempt, status_code, error, duration_ms)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (job_id, message_id, url, attempt, status, error and redact.scrub(error), duration_ms),
            )

    def delivery_attempts(self, job_id: uuid.UUID, message_id: str) -> int:
        with self.tx() as cur:
            cur.execute(
                "SELECT count(*) AS n FROM webhook_deliveries WHERE job_id = %s AND message_id = %s",
                (job_id, message_id),
            )
            row = cur.fetchone()
        return int(row["n"]) if row else 0

    def deliveries(self, job_id: uuid.UUID) -> list[dict[str, Any]]:
        with self.tx() as cur:
            cur.execute(
                "SELECT id, message_id, url, attempt, status_code, error, duration_ms, created_at"
                " FROM webhook_deliveries WHERE job_id = %s ORDER BY id",
                (job_id,),
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
