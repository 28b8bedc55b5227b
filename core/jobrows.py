"""Reading jobs: a job with its ledger and its outputs in one SELECT, for every port that returns jobs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.db import Database
from core.model import Job, JobStatus, Output
from core.spec import OutputSpec

JOB_COLUMNS = (
    "id, status, source_key, source_url, webhook_url, created_at, started_at, finished_at, "
    "error_code, error_message, source_format, source_width, source_height, source_bytes, source_frames, "
    "notified_at, webhook_status, webhook_error, redrives, tenant, placeholder_requested, placeholder_type,"
    " placeholder, purged_at, batch_id,"
    " ARRAY(SELECT step FROM job_steps s WHERE s.job_id = jobs.id"
    " ORDER BY array_position(ARRAY['fetch', 'validate', 'transform', 'upload', 'notify'], step)) AS steps_done,"
    " ARRAY(SELECT to_jsonb(o) FROM job_outputs o WHERE o.job_id = jobs.id ORDER BY o.position) AS outputs_rows"
)


class JobRows(Database):
    def _select(self, tail: str, params: Sequence[object], announce: str | None = None) -> list[Job]:
        """Jobs with their ledger and outputs, in one statement; with ``announce``, that step's start is told on
        the events channel by the same statement (core/events.py)."""
        columns, head = _columns(announce)
        return self._jobs_of(f"SELECT {columns} FROM jobs {tail}", (*head, *params))  # noqa: S608

    def _update_returning(self, update: str, params: Sequence[object], announce: str | None = None) -> list[Job]:
        """An UPDATE of jobs that returns the changed jobs as _select reads them (its own changes included)."""
        columns, head = _columns(announce)
        return self._jobs_of(f"{update} RETURNING {columns}", (*params, *head))

    def _jobs_of(self, query: str, params: Sequence[object]) -> list[Job]:
        with self.statement() as cur:
            cur.execute(query, params)
            rows = cur.fetchall()
        jobs = []
        for r in rows:
            r.pop("announced", None)
            outputs = tuple(_output(o) for o in r.pop("outputs_rows"))
            fields = r | {"status": JobStatus(r["status"]), "steps_done": tuple(r["steps_done"])}
            jobs.append(Job(**fields, outputs=outputs))
        return jobs


def _columns(announce: str | None) -> tuple[str, tuple[str, ...]]:
    if announce is None:
        return JOB_COLUMNS, ()
    told = (
        ", pg_notify('pixelflow_events', json_build_object('type', 'step.started', 'job', id,"
        " 'batch', batch_id, 'step', %s::text)::text) AS announced"
    )
    return JOB_COLUMNS + told, (announce,)


def _output(row: dict[str, Any]) -> Output:
    """An output from its job_outputs row (as JSON: _JOB_COLUMNS reads them with the job)."""
    spec = OutputSpec.from_fields(
        {k: row[k] for k in ("name", "format", "width", "height", "fit", "quality")} | (row["options"] or {})
    )
    return Output(
        spec,
        row["staged_key"],
        row["key"],
        row["result_width"],
        row["result_height"],
        row["bytes"],
        row["result_format"],
        row.get("result_quality"),
        row.get("result_score"),
    )
