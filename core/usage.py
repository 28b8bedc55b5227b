"""Usage in PostgreSQL (the Usage port): one row per succeeded job, written by the statement that made it succeed."""

from __future__ import annotations

from datetime import datetime

from core.db import Database


class PgUsage(Database):
    def usage(self, tenant: str, since: datetime, until: datetime) -> dict[str, int]:
        """Sums over the tenant's succeeded jobs in [since, until)."""
        with self.tx() as cur:
            cur.execute(
                "SELECT count(*) AS jobs, COALESCE(sum(pixels), 0) AS pixels, COALESCE(sum(bytes_in), 0) AS bytes_in,"
                " COALESCE(sum(bytes_out), 0) AS bytes_out, COALESCE(sum(bytes_saved), 0) AS bytes_saved,"
                " COALESCE(sum(compute_ms), 0) AS compute_ms FROM usage"
                " WHERE tenant = %s AND created_at >= %s AND created_at < %s",
                (tenant, since, until),
            )
            row = cur.fetchone()
        assert row is not None
        return {k: int(v) for k, v in row.items()}
