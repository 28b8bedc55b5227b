"""The outbox in PostgreSQL: jobs committed and waiting to be sent to the workers (the Outbox port).

A job's outbox row is written with the job (core/jobstore.py); the relay
(tasks/relay.py) publishes what is unsent after the commit, so the API never
blocks on the broker and a job accepted while RabbitMQ is down is not lost.
"""

from __future__ import annotations

from core.db import Database
from core.ports import Publish
from core.turns import Rotation

OUTBOX_CHANNEL = "pixelflow_outbox"
"""NOTIFY channel: a new row wakes the relay at once."""


class PgOutbox(Database):
    def relay(
        self, publish: Publish, limit: int = 200, rotation: Rotation | None = None, passed_over: float | None = None
    ) -> int:
        """Publish up to ``limit`` unsent outbox rows, taking the tenants in turn (each tenant's oldest first,
        then each one's second…; within a turn, the tenant ``rotation`` served least recently first), and mark
        them sent. With ``passed_over``, only the oldest row of each tenant not served for that many seconds.

        The turn is what keeps one tenant's 10,000-item batch from holding another's single job behind it,
        with the relay feeding the queues only as fast as the workers take (tasks/relay.py).
        Rows are locked with SKIP LOCKED, so several relays can run side by side.
        If ``publish`` raises, the transaction rolls back and the rows stay unsent.
        A crash after a publish and before the commit publishes that job again:
        delivery is at least once, and the steps are idempotent.
        """
        rotation = rotation or Rotation()
        turns, held = (limit, []) if passed_over is None else (1, rotation.recent(passed_over))
        with self.tx() as cur:
            cur.execute(
                "SELECT o.id, o.job_id, o.traceparent, j.tenant FROM outbox o JOIN jobs j ON j.id = o.job_id"
                " WHERE o.id IN (SELECT id FROM ("
                "  SELECT w.id, j.tenant, row_number() OVER (PARTITION BY j.tenant ORDER BY w.id) AS turn"
                "  FROM outbox w JOIN jobs j ON j.id = w.job_id WHERE w.sent_at IS NULL) t"
                " WHERE turn <= %s AND NOT (tenant = ANY(%s::text[]))"
                " ORDER BY turn, array_position(%s::text[], tenant) NULLS FIRST, id LIMIT %s)"
                " FOR UPDATE OF o SKIP LOCKED",
                (turns, held, rotation.order(), limit),
            )
            rows = rotation.rank([(r["id"], r["tenant"], r) for r in cur.fetchall()])
            for row in rows:
                publish(row["job_id"], row["traceparent"])
            if rows:
                cur.execute("UPDATE outbox SET sent_at = now() WHERE id = ANY(%s)", ([r["id"] for r in rows],))
        rotation.served(r["tenant"] for r in rows)
        return len(rows)

    def unsent(self) -> int:
        """Outbox rows the relay has not published yet."""
        with self.tx() as cur:
            cur.execute("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL")
            row = cur.fetchone()
        return int(row["n"]) if row else 0
