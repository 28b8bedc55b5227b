"""What a job is, apart from where it is kept: its status, its outputs, the job itself.

Plain values, no database: the steps, the submission rules and the in-memory
store (core/memory.py) use them as the PostgreSQL one (core/jobstore.py) does.

    queued ──start──▶ processing ──succeed──▶ succeeded
       ├──────────────────┴────────fail─────▶ failed ───┐
       └──────────────────┴───────cancel────▶ canceled ─┴─retry──▶ queued
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from core.spec import OutputSpec


class JobStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


UNFINISHED = frozenset({JobStatus.QUEUED, JobStatus.PROCESSING})
TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})
# The steps, in the order a chain runs them; a step in a job's ledger (``steps_done``) has its effect recorded.
STEPS = ("fetch", "validate", "transform", "upload", "notify")


@dataclass(frozen=True)
class Output:
    spec: OutputSpec
    staged_key: str | None = None
    """Where transform wrote the output: its final key (or, from earlier versions, a staging key upload copies)."""
    key: str | None = None
    width: int | None = None
    height: int | None = None
    bytes: int | None = None
    format: str | None = None
    """The format rendered (``auto`` resolves to one)."""


@dataclass(frozen=True)
class Job:
    id: uuid.UUID
    status: JobStatus
    source_key: str | None
    source_url: str | None
    webhook_url: str | None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error_code: str | None = None
    error_message: str | None = None
    source_format: str | None = None
    source_width: int | None = None
    source_height: int | None = None
    source_bytes: int | None = None
    source_frames: int | None = None
    notified_at: datetime | None = None
    webhook_status: int | None = None
    webhook_error: str | None = None
    redrives: int = 0
    tenant: str = "default"
    placeholder_requested: bool = False
    placeholder: str | None = None
    steps_done: tuple[str, ...] = ()
    """The effect ledger: steps whose effect is recorded (table job_steps)."""
    outputs: tuple[Output, ...] = field(default=())
    replayed: bool = False
    """Returned for a repeated Idempotency-Key: the job was created by an earlier request."""
    purged_at: datetime | None = None
    """When its images were deleted (DELETE /v1/jobs/{id}, or the retention period): the record stays."""

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL
