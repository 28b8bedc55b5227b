"""Batches in PostgreSQL (the Batches port): many jobs made in one request.

Accepting a batch costs a fixed number of statements whatever its size: the
batch's row, then its jobs, their outputs and their outbox rows in one
statement fed by arrays (``unnest``), not a statement per item. Each item is
then a job like any other (its own chain, states, retries, dead letters),
with ``batch_id`` on its row. A batch's state is read off its jobs, counted
by the index ``jobs_batch`` (core/model.py ``Batch.status``); the relay's
relay hands a batch whose items have all ended to a worker
(``relay_batches``), which writes its manifest, marks it finished
(``finish_batch``) and sends its batch.completed webhook
(``record_batch_notification``): tasks/steps/finish.py.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from core import redact, tracing
from core.errors import IdempotencyConflict, IdempotencyKeyReused
from core.jobrows import JobRows
from core.model import Batch, BatchItem, Job
from core.outbox import OUTBOX_CHANNEL
from core.ports import Ending
from core.spec import OutputSpec

_COUNTS = (
    "(SELECT COALESCE(jsonb_object_agg(status, n), '{}') FROM"
    " (SELECT status, count(*) AS n FROM jobs WHERE batch_id = b.id GROUP BY status) c) AS counts"
)
_BATCH_COLUMNS = (
    "b.id, b.tenant, b.items, b.created_at, b.webhook_url, b.canceled_at, b.finished_at, b.manifest_key,"
    f" b.notified_at, b.webhook_status, b.webhook_error, b.purged_at, {_COUNTS}"
)
_RUNNING = "SELECT 1 FROM jobs WHERE batch_id = b.id AND status IN ('queued', 'processing')"


class PgBatches(JobRows):
    def create_batch(
        self,
        batch_id: uuid.UUID,
        job_ids: Sequence[uuid.UUID],
        items: Sequence[BatchItem],
        outputs: Sequence[OutputSpec],
        tenant: str,
        placeholder: str | None = None,
        webhook_url: str | None = None,
        job_webhook_url: str | None = None,
        idempotency: tuple[str, str] | None = None,
    ) -> Batch:
        assert len(job_ids) == len(items) > 0
        key, digest = idempotency or (None, None)
        with self.tx() as cur:
            if key is not None:
                # As for a job (core/jobstore.py): the key's check and its row in one transaction.
                cur.execute("SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0)) AS got", (f"{tenant}:b:{key}",))
                locked = cur.fetchone()
                if not locked or not locked["got"]:
                    raise IdempotencyConflict("a request with this Idempotency-Key is in progress; retry shortly")
                cur.execute(
                    "SELECT id, request_hash FROM batches WHERE tenant = %s AND idempotency_key = %s", (tenant, key)
                )
                seen = cur.fetchone()
                if seen is not None:
                    if seen["request_hash"] != digest:
                        raise IdempotencyKeyReused("this Idempotency-Key was used with a different request")
                    earlier = self._batches("WHERE b.id = %s", (seen["id"],), cur)[0]
                    return dataclasses.replace(earlier, replayed=True)
            cur.execute(
                "INSERT INTO batches (id, tenant, items, webhook_url, idempotency_key, request_hash)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (batch_id, tenant, len(items), webhook_url, key, digest),
            )
            self._insert_items(cur, batch_id, job_ids, items, outputs, tenant, placeholder, job_webhook_url)
            return self._batches("WHERE b.id = %s", (batch_id,), cur)[0]

    @staticmethod
    def _insert_items(
        cur: psycopg.Cursor[dict[str, Any]],
        batch_id: uuid.UUID,
        job_ids: Sequence[uuid.UUID],
        items: Sequence[BatchItem],
        outputs: Sequence[OutputSpec],
        tenant: str,
        placeholder: str | None,
        webhook_url: str | None,
    ) -> None:
        """Every item's job, its outputs (an item's focal point put into those that crop, as
        ``OutputSpec.focused`` does) and its outbox row, in one statement."""
        outputs_json = [
            {
                "position": i,
                "name": o.name,
                "format": o.format,
                "width": o.width,
                "height": o.height,
                "fit": o.fit,
                "quality": o.quality,
                "options": o.options(),
            }
            for i, o in enumerate(outputs)
        ]
        cur.execute(
            """
            WITH item AS (
                SELECT * FROM unnest(%(ids)s::uuid[], %(keys)s::text[], %(urls)s::text[], %(fx)s::float8[],
                                     %(fy)s::float8[], %(codes)s::text[], %(messages)s::text[])
                     WITH ORDINALITY AS i(id, source_key, source_url, fx, fy, code, message, position)
            ), job AS (
                INSERT INTO jobs (id, source_key, source_url, webhook_url, placeholder_requested, placeholder_type,
                                  tenant, batch_id, batch_item, status, finished_at, error_code, error_message)
                SELECT id, source_key, source_url, %(hook)s, %(requested)s, %(placeholder)s, %(tenant)s,
                       %(batch)s, position - 1,
                       CASE WHEN code IS NULL THEN 'queued' ELSE 'failed' END,
                       CASE WHEN code IS NULL THEN NULL ELSE now() END, code, message
                FROM item
            ), outputs AS (
                INSERT INTO job_outputs (job_id, position, name, format, width, height, fit, quality, options)
                SELECT i.id, o.position, o.name, o.format, o.width, o.height, o.fit, o.quality,
                       CASE WHEN i.fx IS NOT NULL AND o.fit IN ('cover', 'pad')
                            THEN o.options || jsonb_build_object('gravity', 'focal', 'focal',
                                                                 jsonb_build_array(i.fx, i.fy))
                            ELSE o.options END
                FROM item i CROSS JOIN jsonb_to_recordset(%(outputs)s) AS o(position integer, name text, format text,
                     width integer, height integer, fit text, quality integer, options jsonb)
            ), queued AS (
                -- A refused item's chain is sent only to tell its webhook (fetch finds it ended: notify).
                INSERT INTO outbox (job_id, traceparent) SELECT id, %(traceparent)s FROM item
                WHERE code IS NULL OR %(hook)s::text IS NOT NULL
            )
            SELECT pg_notify(%(channel)s, '')
            """,
            {
                "ids": list(job_ids),
                "keys": [i.source_key for i in items],
                "urls": [i.source_url for i in items],
                "fx": [i.focal[0] if i.focal else None for i in items],
                "fy": [i.focal[1] if i.focal else None for i in items],
                "codes": [i.error[0] if i.error else None for i in items],
                "messages": [redact.scrub(i.error[1])[:1000] if i.error else None for i in items],
                "hook": webhook_url,
                "requested": placeholder is not None,
                "placeholder": placeholder,
                "tenant": tenant,
                "batch": batch_id,
                "outputs": Jsonb(outputs_json),
                "traceparent": tracing.carrier(),
                "channel": OUTBOX_CHANNEL,
            },
        )

    def get_batch(self, batch_id: uuid.UUID, tenant: str | None = None) -> Batch | None:
        where, params = (
            ("WHERE b.id = %s", (batch_id,))
            if tenant is None
            else (
                "WHERE b.id = %s AND b.tenant = %s",
                (batch_id, tenant),
            )
        )
        found = self._batches(where, params)
        return found[0] if found else None

    def list_batches(self, tenant: str, limit: int = 20, before: uuid.UUID | None = None) -> list[Batch]:
        if before is None:
            return self._batches("WHERE b.tenant = %s ORDER BY b.id DESC LIMIT %s", (tenant, limit))
        return self._batches("WHERE b.tenant = %s AND b.id < %s ORDER BY b.id DESC LIMIT %s", (tenant, before, limit))

    def batch_jobs(
        self, batch_id: uuid.UUID, status: str | None = None, limit: int = 20, after: uuid.UUID | None = None
    ) -> list[Job]:
        clauses: list[str] = ["batch_id = %s"]
        params: list[object] = [batch_id]
        if status:
            clauses.append("status = %s")
            params.append(status)
        if after is not None:
            clauses.append("id > %s")
            params.append(after)
        return self._select(f"WHERE {' AND '.join(clauses)} ORDER BY id LIMIT %s", (*params, limit))

    def batch_endings(
        self, batch_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None = None, limit: int = 1000
    ) -> list[Ending]:
        floor, last = after or (datetime.min.replace(tzinfo=UTC), uuid.UUID(int=0))
        with self.statement() as cur:
            cur.execute(
                "SELECT id, status, error_code, finished_at FROM jobs WHERE batch_id = %s AND finished_at IS NOT NULL"
                " AND (finished_at, id) > (%s, %s) ORDER BY finished_at, id LIMIT %s",
                (batch_id, floor, last, limit),
            )
            return [Ending(r["id"], r["status"], r["error_code"], r["finished_at"]) for r in cur.fetchall()]

    def cancel_batch(self, batch_id: uuid.UUID) -> int:
        with self.statement() as cur:
            # The chains of canceled items still waiting in the outbox are not sent (they would only stop), unless
            # they have a webhook to tell.
            cur.execute(
                """
                WITH canceled AS (
                    UPDATE jobs SET status = 'canceled', finished_at = now()
                    WHERE batch_id = %(id)s AND status IN ('queued', 'processing') RETURNING id, webhook_url
                ), batch AS (
                    UPDATE batches SET canceled_at = COALESCE(canceled_at, now())
                    WHERE id = %(id)s AND EXISTS (SELECT 1 FROM canceled)
                ), unsent AS (
                    UPDATE outbox SET sent_at = now()
                    WHERE sent_at IS NULL AND job_id IN (SELECT id FROM canceled WHERE webhook_url IS NULL)
                )
                SELECT count(*) AS n FROM canceled
                """,
                {"id": batch_id},
            )
            row = cur.fetchone()
        return int(row["n"]) if row else 0

    def retry_batch(self, batch_id: uuid.UUID) -> int:
        with self.statement() as cur:
            # What Jobs.retry does for one job, for every failed item at once.
            cur.execute(
                """
                WITH retried AS (
                    UPDATE jobs SET status = 'queued', started_at = NULL, finished_at = NULL, error_code = NULL,
                        error_message = NULL, notified_at = NULL, webhook_status = NULL, webhook_error = NULL,
                        placeholder = NULL
                    WHERE batch_id = %(id)s AND status = 'failed' AND purged_at IS NULL RETURNING id
                ), outputs AS (
                    UPDATE job_outputs SET staged_key = NULL, key = NULL, result_width = NULL, result_height = NULL,
                        bytes = NULL, result_format = NULL, result_quality = NULL, result_score = NULL
                    WHERE job_id IN (SELECT id FROM retried)
                ), steps AS (
                    DELETE FROM job_steps WHERE job_id IN (SELECT id FROM retried)
                ), queued AS (
                    INSERT INTO outbox (job_id, traceparent) SELECT id, %(traceparent)s FROM retried
                ), batch AS (
                    UPDATE batches SET finished_at = NULL, manifest_key = NULL, notified_at = NULL,
                        canceled_at = NULL, finish_sent_at = NULL, webhook_status = NULL, webhook_error = NULL
                    WHERE id = %(id)s AND EXISTS (SELECT 1 FROM retried)
                )
                SELECT count(*) AS n, pg_notify(%(channel)s, '') FROM retried
                """,
                {"id": batch_id, "traceparent": tracing.carrier(), "channel": OUTBOX_CHANNEL},
            )
            row = cur.fetchone()
        return int(row["n"]) if row else 0

    def relay_batches(
        self, publish: Callable[[uuid.UUID], None], resend_after: float, retell_after: float, limit: int = 100
    ) -> int:
        """Hand to ``publish`` the batches whose items have all ended and whose ending is not yet told: never
        handed on, or handed on ``resend_after`` seconds ago and still not finished, or ``retell_after``
        seconds ago and finished but not told (the step that had it was lost). Marked handed on in the same
        transaction; if ``publish`` raises, nothing is marked. Several relays may run (SKIP LOCKED)."""
        with self.tx() as cur:
            cur.execute(
                "SELECT b.id FROM batches b WHERE b.notified_at IS NULL"  # noqa: S608
                " AND (b.finish_sent_at IS NULL"
                "  OR b.finish_sent_at < now() - make_interval(secs => CASE WHEN b.finished_at IS NULL"
                "   THEN %s::float8 ELSE %s::float8 END))"
                f" AND (b.finished_at IS NOT NULL OR NOT EXISTS ({_RUNNING}))"
                " ORDER BY b.created_at LIMIT %s FOR UPDATE SKIP LOCKED",
                (resend_after, retell_after, limit),
            )
            ids = [row["id"] for row in cur.fetchall()]
            for batch_id in ids:
                publish(batch_id)
            if ids:
                cur.execute("UPDATE batches SET finish_sent_at = now() WHERE id = ANY(%s)", (ids,))
        return len(ids)

    def finish_batch(self, batch_id: uuid.UUID, manifest_key: str) -> bool:
        with self.statement() as cur:
            cur.execute(
                "UPDATE batches b SET finished_at = now(), manifest_key = %s"  # noqa: S608
                f" WHERE b.id = %s AND b.finished_at IS NULL AND NOT EXISTS ({_RUNNING})",
                (manifest_key, batch_id),
            )
            return cur.rowcount == 1

    def record_batch_notification(self, batch_id: uuid.UUID, status: int | None, error: str | None) -> bool:
        with self.statement() as cur:
            cur.execute(
                "UPDATE batches SET notified_at = now(), webhook_status = %s, webhook_error = %s"
                " WHERE id = %s AND notified_at IS NULL AND finished_at IS NOT NULL",
                (status, error and redact.scrub(error)[:1000], batch_id),
            )
            return cur.rowcount == 1

    def record_batch_purge(self, batch_id: uuid.UUID) -> bool:
        with self.statement() as cur:
            cur.execute("UPDATE batches SET purged_at = now() WHERE id = %s AND purged_at IS NULL", (batch_id,))
            return cur.rowcount == 1

    def expired_batches(self, older_than_seconds: float, limit: int) -> list[Batch]:
        return self._batches(
            "WHERE b.purged_at IS NULL AND b.finished_at < now() - make_interval(secs => %s)"
            " ORDER BY b.finished_at LIMIT %s",
            (older_than_seconds, limit),
        )

    def _batches(
        self, tail: str, params: Sequence[object], cur: psycopg.Cursor[dict[str, Any]] | None = None
    ) -> list[Batch]:
        """Batches with their jobs counted by status, in one statement (on ``cur``, inside its transaction)."""
        sql = f"SELECT {_BATCH_COLUMNS} FROM batches b {tail}"  # noqa: S608
        if cur is not None:
            cur.execute(sql, params)
            rows = cur.fetchall()
        else:
            with self.statement() as own:
                own.execute(sql, params)
                rows = own.fetchall()
        return [Batch(**row) for row in rows]
