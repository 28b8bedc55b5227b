"""Jobs in PostgreSQL (the Jobs port), and JobStore: every PostgreSQL port on one pool.

A new job and its outbox row (core/outbox.py) are written in one statement;
the relay publishes the outbox to RabbitMQ after the commit, so the API never
blocks on the broker and a job accepted while the broker is down is not lost.

Status changes are guarded transitions, ``UPDATE … WHERE status IN (…)``:
a repeated or late step finds the row already moved on and changes nothing.

Each call a step makes is one statement, one round trip: a job is read with
its ledger and outputs in one SELECT, and a step's effect (its guarded
update, its ledger row, its outputs) is written by one statement of
data-modifying CTEs, atomic as a transaction but without BEGIN and COMMIT
each costing a round trip more. With the database 2 ms away a step's calls
cost it 4 ms, not 20.

The other ports have a module each on the same Database (core/db.py):
core/outbox.py, core/deadletters.py, core/deliveries.py, core/usage.py; the
states a job moves through are in core/model.py.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from core import redact, tracing
from core.batchstore import PgBatches
from core.db import Database
from core.deadletters import PENDING_LETTER, PgDeadLetters
from core.deliveries import PgDeliveries
from core.errors import IdempotencyConflict, IdempotencyKeyReused
from core.jobrows import JobRows
from core.model import Job, JobStatus, Output
from core.outbox import OUTBOX_CHANNEL, PgOutbox
from core.spec import OutputSpec
from core.usage import PgUsage

__all__ = ["OUTBOX_CHANNEL", "PENDING_LETTER", "Database", "Job", "JobStatus", "JobStore", "Output", "PgJobs"]


class PgJobs(JobRows):
    """Jobs and their outputs (the Jobs port), with the sweeper's view of jobs that stopped moving."""

    def create(
        self,
        job_id: uuid.UUID,
        outputs: Sequence[OutputSpec],
        source_key: str | None = None,
        source_url: str | None = None,
        webhook_url: str | None = None,
        placeholder: str | None = None,
        idempotency: tuple[str, str] | None = None,
        tenant: str = "default",
    ) -> Job:
        """Insert the job, its outputs and its outbox row in one transaction.

        ``idempotency`` is (key, hash of the request): a key seen before returns the job it
        created (``Job.replayed`` is then True); with another request it is refused; while
        another transaction holds the same key, IdempotencyConflict.
        """
        if idempotency is None:
            # The usual case: one statement, one round trip (in autocommit, its own transaction).
            with self.statement() as cur:
                created_at = self._insert(
                    cur, job_id, outputs, source_key, source_url, webhook_url, placeholder, tenant
                )
        else:
            with self.tx() as cur:
                # One transaction from the key's check to its row: a concurrent repeat of the key
                # cannot slip in between (it finds the lock taken and is told to retry).
                key, digest = idempotency
                cur.execute("SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0)) AS got", (f"{tenant}:{key}",))
                locked = cur.fetchone()
                if not locked or not locked["got"]:
                    raise IdempotencyConflict("a request with this Idempotency-Key is in progress; retry shortly")
                cur.execute(
                    "SELECT request_hash, job_id FROM idempotency_keys WHERE tenant = %s AND key = %s", (tenant, key)
                )
                seen = cur.fetchone()
                if seen and seen["request_hash"] != digest:
                    raise IdempotencyKeyReused("this Idempotency-Key was used with a different request")
                if not seen:
                    created_at = self._insert(
                        cur, job_id, outputs, source_key, source_url, webhook_url, placeholder, tenant
                    )
                    cur.execute(
                        "INSERT INTO idempotency_keys (tenant, key, request_hash, job_id) VALUES (%s, %s, %s, %s)",
                        (tenant, key, digest, job_id),
                    )
            if seen:  # outside the transaction: its connection is back in the pool first
                earlier = self.get(seen["job_id"])
                assert earlier is not None, "idempotency keys are deleted with their job"
                return dataclasses.replace(earlier, replayed=True)
        return Job(
            job_id,
            JobStatus.QUEUED,
            source_key,
            source_url,
            webhook_url,
            created_at,
            tenant=tenant,
            placeholder_requested=placeholder is not None,
            placeholder_type=placeholder,
            outputs=tuple(Output(o) for o in outputs),
        )

    @staticmethod
    def _insert(
        cur: psycopg.Cursor[dict[str, Any]],
        job_id: uuid.UUID,
        outputs: Sequence[OutputSpec],
        source_key: str | None,
        source_url: str | None,
        webhook_url: str | None,
        placeholder: str | None,
        tenant: str,
    ) -> datetime:
        """The job, its outputs, its outbox row and the relay's wake-up, in one statement."""
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
            "WITH job AS ("
            " INSERT INTO jobs"
            " (id, source_key, source_url, webhook_url, placeholder_requested, placeholder_type, tenant)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id, created_at"
            "), outputs AS ("
            " INSERT INTO job_outputs (job_id, position, name, format, width, height, fit, quality, options)"
            " SELECT job.id, o.position, o.name, o.format, o.width, o.height, o.fit, o.quality, o.options"
            " FROM job, jsonb_to_recordset(%s) AS o(position integer, name text, format text, width integer,"
            " height integer, fit text, quality integer, options jsonb)"
            "), queued AS (INSERT INTO outbox (job_id, traceparent) SELECT id, %s FROM job)"
            " SELECT created_at, pg_notify(%s, '') FROM job",
            (
                job_id,
                source_key,
                source_url,
                webhook_url,
                placeholder is not None,
                placeholder,
                tenant,
                Jsonb(outputs_json),
                tracing.carrier(),  # the request's trace goes on with the job (core/tracing.py)
                OUTBOX_CHANNEL,
            ),
        )
        row = cur.fetchone()
        assert row is not None
        created_at: datetime = row["created_at"]
        return created_at

    def get(self, job_id: uuid.UUID, tenant: str | None = None, announce: str | None = None) -> Job | None:
        """The job; with ``tenant``, only if it belongs to that tenant."""
        if tenant is not None:
            jobs = self._select("WHERE id = %s AND tenant = %s", (job_id, tenant), announce)
            return jobs[0] if jobs else None
        jobs = self._select("WHERE id = %s", (job_id,), announce)
        return jobs[0] if jobs else None

    def list_recent(
        self, status: str | None = None, limit: int = 20, before: uuid.UUID | None = None, tenant: str | None = None
    ) -> list[Job]:
        """Newest first; ``before`` is the cursor (the last id of the previous page)."""
        clauses: list[str] = []
        params: list[object] = []
        if tenant is not None:
            clauses.append("tenant = %s")
            params.append(tenant)
        if status:
            clauses.append("status = %s")
            params.append(status)
        if before:
            clauses.append("id < %s")
            params.append(before)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return self._select(f"{where} ORDER BY id DESC LIMIT %s", (*params, limit))

    def start(self, job_id: uuid.UUID) -> bool:
        """queued → processing. False when the job is already past it."""
        return self._update(
            "UPDATE jobs SET status = 'processing', started_at = now() WHERE id = %s AND status = 'queued'",
            (job_id,),
        )

    def begin(self, job_id: uuid.UUID, announce: str) -> Job | None:
        """queued → processing and the job as it is then, ``announce`` told as started, in one statement (what
        fetch starts with); a job that was not queued (a redelivery, one canceled) is read as it is."""
        jobs = self._update_returning(
            "UPDATE jobs SET status = 'processing', started_at = now() WHERE id = %s AND status = 'queued'",
            (job_id,),
            announce,
        )
        return jobs[0] if jobs else self.get(job_id, announce=announce)

    def set_source(self, job_id: uuid.UUID, size: int) -> None:
        """fetch's effect: the source's size."""
        self._update(
            "UPDATE jobs SET source_bytes = %s WHERE id = %s AND status = 'processing'",
            (size, job_id),
            done=(job_id, "fetch"),
        )

    def set_source_info(self, job_id: uuid.UUID, fmt: str, width: int, height: int, frames: int = 1) -> None:
        """validate's effect: what the source is."""
        self._update(
            "UPDATE jobs SET source_format = %s, source_width = %s, source_height = %s, source_frames = %s"
            " WHERE id = %s AND status = 'processing'",
            (fmt, width, height, frames, job_id),
            done=(job_id, "validate"),
        )

    def stage_outputs(
        self, job_id: uuid.UUID, staged: Sequence[Output], placeholder: str | None = None, compute_ms: int = 0
    ) -> bool:
        """Record the rendered outputs (and the placeholder, and the render's CPU time) of a job still processing.

        False when the job is no longer processing (nothing is recorded)."""
        with self.statement() as cur:
            cur.execute(
                """
                WITH job AS (
                    UPDATE jobs SET compute_ms = %(compute_ms)s, placeholder = COALESCE(%(placeholder)s, placeholder)
                    WHERE id = %(id)s AND status = 'processing' RETURNING id
                ), step AS (
                    INSERT INTO job_steps (job_id, step) SELECT id, 'transform' FROM job ON CONFLICT DO NOTHING
                )
                UPDATE job_outputs o
                SET staged_key = r.staged_key, result_width = r.width, result_height = r.height, bytes = r.bytes,
                    result_format = r.format, result_quality = r.quality, result_score = r.score
                FROM unnest(%(names)s::text[], %(keys)s::text[], %(widths)s::int[], %(heights)s::int[],
                            %(bytes)s::bigint[], %(formats)s::text[], %(qualities)s::smallint[], %(scores)s::real[])
                     AS r(name, staged_key, width, height, bytes, format, quality, score)
                WHERE o.job_id IN (SELECT id FROM job) AND o.name = r.name
                """,
                {
                    "id": job_id,
                    "compute_ms": compute_ms,
                    "placeholder": placeholder,
                    "names": [o.spec.name for o in staged],
                    "keys": [o.staged_key for o in staged],
                    "widths": [o.width for o in staged],
                    "heights": [o.height for o in staged],
                    "bytes": [o.bytes for o in staged],
                    "formats": [o.format for o in staged],
                    "qualities": [o.quality for o in staged],
                    "scores": [o.score for o in staged],
                },
            )
            return cur.rowcount > 0

    def succeed(self, job_id: uuid.UUID, keys: dict[str, str]) -> bool:
        """processing → succeeded, with every output's final key and the job's usage, in one statement."""
        with self.statement() as cur:
            # Usage, exactly once: in the statement that made the job succeed. The CTEs see the rows as they
            # were before it (source sizes and output bytes, which this statement does not change).
            cur.execute(
                """
                WITH job AS (
                    UPDATE jobs SET status = 'succeeded', finished_at = now()
                    WHERE id = %(id)s AND status = 'processing' RETURNING id
                ), step AS (
                    INSERT INTO job_steps (job_id, step) SELECT id, 'upload' FROM job ON CONFLICT DO NOTHING
                ), outputs AS (
                    UPDATE job_outputs o SET key = r.key
                    FROM unnest(%(names)s::text[], %(keys)s::text[]) AS r(name, key)
                    WHERE o.job_id IN (SELECT id FROM job) AND o.name = r.name
                ), used AS (
                    INSERT INTO usage (job_id, tenant, pixels, bytes_in, bytes_out, bytes_saved, compute_ms)
                    SELECT j.id, j.tenant,
                           COALESCE(j.source_width::bigint * j.source_height * COALESCE(j.source_frames, 1), 0),
                           COALESCE(j.source_bytes, 0), o.total,
                           GREATEST(COALESCE(j.source_bytes, 0) * o.n - o.total, 0), COALESCE(j.compute_ms, 0)
                    FROM jobs j, LATERAL (SELECT COALESCE(sum(bytes), 0) AS total, count(*) AS n
                                          FROM job_outputs WHERE job_id = j.id) o
                    WHERE j.id IN (SELECT id FROM job)
                    ON CONFLICT (job_id) DO NOTHING
                )
                SELECT count(*) AS n FROM job
                """,
                {"id": job_id, "names": list(keys), "keys": list(keys.values())},
            )
            row = cur.fetchone()
        return bool(row and row["n"] == 1)

    def fail(self, job_id: uuid.UUID, code: str, message: str) -> bool:
        """queued|processing → failed. False when the job had already ended."""
        return self._update(
            "UPDATE jobs SET status = 'failed', finished_at = now(), error_code = %s, error_message = %s"
            " WHERE id = %s AND status IN ('queued', 'processing')",
            (code, redact.scrub(message)[:1000], job_id),
        )

    def cancel(self, job_id: uuid.UUID) -> bool:
        """queued|processing → canceled. A step already running finishes; the next one stops."""
        return self._update(
            "UPDATE jobs SET status = 'canceled', finished_at = now() WHERE id = %s"
            " AND status IN ('queued', 'processing')",
            (job_id,),
        )

    def retry(self, job_id: uuid.UUID) -> bool:
        """failed|canceled → queued, its results cleared and the chain sent again through the outbox."""
        with self.tx() as cur:
            cur.execute(
                "UPDATE jobs SET status = 'queued', started_at = NULL, finished_at = NULL, error_code = NULL,"
                " error_message = NULL, notified_at = NULL, webhook_status = NULL, webhook_error = NULL,"
                " placeholder = NULL WHERE id = %s AND status IN ('failed', 'canceled') AND purged_at IS NULL",
                (job_id,),
            )
            if cur.rowcount != 1:
                return False
            cur.execute(
                "UPDATE job_outputs SET staged_key = NULL, key = NULL, result_width = NULL, result_height = NULL,"
                " bytes = NULL, result_format = NULL, result_quality = NULL, result_score = NULL WHERE job_id = %s",
                (job_id,),
            )
            cur.execute("DELETE FROM job_steps WHERE job_id = %s", (job_id,))  # every step runs again
            cur.execute("INSERT INTO outbox (job_id, traceparent) VALUES (%s, %s)", (job_id, tracing.carrier()))
            cur.execute("SELECT pg_notify(%s, '')", (OUTBOX_CHANNEL,))
            return True

    def record_notification(self, job_id: uuid.UUID, status: int | None, error: str | None) -> None:
        """notify's effect: the delivery has ended (delivered, refused, given up, or nothing to deliver)."""
        self._update(
            "UPDATE jobs SET notified_at = now(), webhook_status = %s, webhook_error = %s WHERE id = %s",
            (status, error and redact.scrub(error), job_id),
            done=(job_id, "notify"),
        )

    def stuck(self, older_than_seconds: float) -> list[Job]:
        """Jobs still queued or processing this long after they were created, started or re-driven,
        leaving out those whose chain is still waiting in the outbox."""
        return self._select(
            "WHERE status IN ('queued', 'processing')"
            " AND GREATEST(created_at, started_at, redriven_at) < now() - make_interval(secs => %s)"
            " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.job_id = jobs.id AND o.sent_at IS NULL) ORDER BY id",
            (older_than_seconds,),
        )

    def redrive(self, job_id: uuid.UUID, max_redrives: int) -> bool:
        """Send a stuck job's chain again (queued, a new outbox row); False once it has had its re-drives."""
        with self.tx() as cur:
            cur.execute(
                "UPDATE jobs SET status = 'queued', started_at = NULL, redriven_at = now(), redrives = redrives + 1"
                " WHERE id = %s AND status IN ('queued', 'processing') AND redrives < %s",
                (job_id, max_redrives),
            )
            if cur.rowcount != 1:
                return False
            cur.execute("INSERT INTO outbox (job_id) VALUES (%s)", (job_id,))
            cur.execute("SELECT pg_notify(%s, '')", (OUTBOX_CHANNEL,))
            return True

    def purge(self, job_id: uuid.UUID, objects: int, bytes: int, how: str) -> bool:
        """An ended job's images deleted, and the deletion counted, in one statement."""
        with self.statement() as cur:
            cur.execute(
                "WITH job AS ("
                " UPDATE jobs SET purged_at = now() WHERE id = %s AND purged_at IS NULL"
                " AND status IN ('succeeded', 'failed', 'canceled') RETURNING id, tenant"
                "), counted AS ("
                " INSERT INTO purges (job_id, tenant, objects, bytes, how) SELECT id, tenant, %s, %s, %s FROM job"
                " ON CONFLICT (job_id) DO NOTHING"
                ") SELECT count(*) AS n FROM job",
                (job_id, objects, bytes, how),
            )
            row = cur.fetchone()
        return bool(row and row["n"] == 1)

    def expired(self, older_than_seconds: float, limit: int) -> list[Job]:
        return self._select(
            "WHERE purged_at IS NULL AND status IN ('succeeded', 'failed', 'canceled')"
            " AND finished_at < now() - make_interval(secs => %s) ORDER BY finished_at LIMIT %s",
            (older_than_seconds, limit),
        )

    def sources_in_use(self, keys: Sequence[str], besides: uuid.UUID | None = None) -> set[str]:
        if not keys:
            return set()
        with self.statement() as cur:
            cur.execute(
                "SELECT DISTINCT source_key FROM jobs WHERE source_key = ANY(%s) AND purged_at IS NULL"
                " AND id IS DISTINCT FROM %s",
                (list(keys), besides),
            )
            return {row["source_key"] for row in cur.fetchall()}

    def _update(self, sql: str, params: Sequence[object], done: tuple[uuid.UUID, str] | None = None) -> bool:
        """One guarded UPDATE; when it applied, the (job, step) it completes goes into the ledger with it.

        Both in one statement: the UPDATE (``RETURNING id``) feeds the ledger's INSERT.
        """
        with self.statement() as cur:
            if done is None:
                cur.execute(sql, params)
                return cur.rowcount == 1
            cur.execute(
                f"WITH changed AS ({sql} RETURNING id), step AS ("  # noqa: S608  (sql is this module's own)
                " INSERT INTO job_steps (job_id, step) SELECT %s, %s FROM changed ON CONFLICT DO NOTHING)"
                " SELECT count(*) AS n FROM changed",
                (*params, *done),
            )
            row = cur.fetchone()
            return bool(row and row["n"] == 1)


class JobStore(PgJobs, PgBatches, PgOutbox, PgDeadLetters, PgDeliveries, PgUsage):
    """Every PostgreSQL port on one pool: what a process that needs several of them opens."""
