"""The outbox in PostgreSQL: jobs committed and waiting to be sent to the workers (the Outbox port).

A job's outbox row is written with the job (core/jobstore.py); the relay
(tasks/relay.py) publishes what is unsent after the commit, so the API never
blocks on the broker and a job accepted while RabbitMQ is down is not lost.
"""

from __future__ import annotations

from core.db import Database
from core.ports import Publish

OUTBOX_CHANNEL = "pixelflow_outbox"
"""NOTIFY channel: a new row wakes the relay at once."""


class PgOutbox(Database):
    def relay(self, publish: Publish, limit: int = 200) -> int:
        """Publish up to ``limit`` unsent outbox rows, taking the tenants in turn (each tenant's oldest first,
        then each one's second…), and mark them sent.

        The turn is what keeps one tenant's 10,000-item batch from holding another's single job behind it,
        with the relay feeding the queues only as fast as the workers take (tasks/relay.py).
        Rows are locked with SKIP LOCKED, so several relays can run side by side.
        If ``publish`` raises, the transaction rolls back and the rows stay unsent.
        A crash after a publish and before the commit publishes that job again:
        delivery is at least once, and the steps are idempotent.
        """
        with self.tx() as cur:
            cur.execute(
                "SELECT o.id, o.job_id, o.traceparent FROM outbox o WHERE o.id IN ("
                " SELECT id FROM (SELECT w.id, row_number() OVER (PARTITION BY j.tenant ORDER BY w.id) AS turn"
                "  FROM outbox w JOIN jobs j ON j.id = w.job_id WHERE w.sent_at IS NULL) t"
                " ORDER BY turn, id LIMIT %s)"
                " FOR UPDATE SKIP LOCKED",
                (limit,),
            )
            rows = cur.fetchall()
            for row in rows:
                publish(row["job_id"], row["traceparent"])
            if rows:
                cur.execute("UPDATE outbox SET sent_at = now() WHERE id = ANY(%s)", ([r["id"] for r in rows],))
        return len(rows)

    def unsent(self) -> int:
        """Outbox rows the relay has not published yet."""
        with self.tx() as cur:
            cur.execute("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL")
            row = cur.fetchone()
        return int(row["n"]) if row else 0
