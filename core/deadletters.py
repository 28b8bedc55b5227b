"""Dead letters in PostgreSQL (the DeadLetters port): steps an operator can act on, then replay or dismiss."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.types.json import Jsonb

from core.db import Database

# A dead letter still waiting for an operator (dlq list, the exporter's pixelflow_dead_letters_pending).
PENDING_LETTER = "replayed_at IS NULL AND dismissed_at IS NULL"


class PgDeadLetters(Database):
    def record_dead_letter(
        self, job_id: uuid.UUID | None, task: str, reason: str, delivery_count: int | None, message: dict[str, Any]
    ) -> None:
        with self.tx() as cur:
            cur.execute(
                "INSERT INTO dead_letters (job_id, task, reason, delivery_count, message) VALUES (%s, %s, %s, %s, %s)",
                (job_id, task, reason, delivery_count, Jsonb(message)),
            )

    def dead_letters(
        self, limit: int = 50, include_settled: bool = False, tenant: str | None = None
    ) -> list[dict[str, Any]]:
        """Newest first; only those waiting for an operator unless ``include_settled`` (replayed or dismissed);
        with ``tenant``, only the letters of its jobs."""
        clauses = [] if include_settled else [PENDING_LETTER]
        params: list[object] = []
        if tenant is not None:
            clauses.append("job_id IN (SELECT id FROM jobs WHERE tenant = %s)")
            params.append(tenant)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.statement() as cur:
            cur.execute(f"SELECT * FROM dead_letters {where} ORDER BY id DESC LIMIT %s", (*params, limit))  # noqa: S608
            return cur.fetchall()

    def dead_letter(self, letter_id: int) -> dict[str, Any] | None:
        with self.tx() as cur:
            cur.execute("SELECT * FROM dead_letters WHERE id = %s", (letter_id,))
            return cur.fetchone()

    def mark_replayed(self, letter_id: int) -> None:
        with self.statement() as cur:
            cur.execute("UPDATE dead_letters SET replayed_at = now() WHERE id = %s", (letter_id,))

    def dismiss_dead_letter(self, letter_id: int, why: str) -> bool:
        """Settle a letter without replaying it; False if there is no such letter waiting."""
        with self.statement() as cur:
            cur.execute(
                f"UPDATE dead_letters SET dismissed_at = now(), dismissed_why = %s WHERE id = %s AND {PENDING_LETTER}",  # noqa: S608
                (why, letter_id),
            )
            return cur.rowcount == 1

    def purge_dead_letters(self) -> int:
        with self.tx() as cur:
            cur.execute("DELETE FROM dead_letters")
            return cur.rowcount
