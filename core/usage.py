"""Usage in PostgreSQL (the Usage port): one row per succeeded job, written by the statement that made it
succeed, and one per purge (table purges), written by the statement that marked the job purged."""

from __future__ import annotations

from datetime import datetime

from core.db import Database


class PgUsage(Database):
    def usage(self, tenant: str, since: datetime, until: datetime) -> dict[str, int]:
        """Sums over the tenant's succeeded jobs and purges in [since, until): one statement."""
        with self.statement() as cur:
            cur.execute(
                "SELECT u.*, p.* FROM"
                " (SELECT count(*) AS jobs, COALESCE(sum(pixels), 0) AS pixels, COALESCE(sum(bytes_in), 0) AS bytes_in,"
                " COALESCE(sum(bytes_out), 0) AS bytes_out, COALESCE(sum(bytes_saved), 0) AS bytes_saved,"
                " COALESCE(sum(compute_ms), 0) AS compute_ms FROM usage"
                " WHERE tenant = %(tenant)s AND created_at >= %(since)s AND created_at < %(until)s) u,"
                " (SELECT count(*) AS jobs_purged, COALESCE(sum(bytes), 0) AS bytes_purged FROM purges"
                " WHERE tenant = %(tenant)s AND created_at >= %(since)s AND created_at < %(until)s) p",
                {"tenant": tenant, "since": since, "until": until},
            )
            row = cur.fetchone()
        assert row is not None
        return {k: int(v) for k, v in row.items()}
