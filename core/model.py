"""What a job is, apart from where it is kept: its status, its outputs, the job itself.

Plain values, no database: the steps, the submission rules and the in-memory
store (core/memory.py) use them as the PostgreSQL one (core/jobstore.py) does.

    queued ──start──▶ processing ──succeed──▶ succeeded
       ├──────────────────┴────────fail─────▶ failed ───┐
       └──────────────────┴───────cancel────▶ canceled ─┴─retry──▶ queued

A batch is many jobs made in one request; its state is read off its jobs' (``Batch.status``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
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
    quality: int | None = None
    """quality "auto": the quality chosen."""
    score: float | None = None
    """quality "auto": the SSIMULACRA2 score of the output at that quality."""


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
    placeholder_type: str | None = None
    """blurhash or thumbhash; None with placeholder_requested: blurhash (a job created before the type)."""
    placeholder: str | None = None
    steps_done: tuple[str, ...] = ()
    """The effect ledger: steps whose effect is recorded (table job_steps)."""
    outputs: tuple[Output, ...] = field(default=())
    replayed: bool = False
    """Returned for a repeated Idempotency-Key: the job was created by an earlier request."""
    purged_at: datetime | None = None
    """When its images were deleted (DELETE /v1/jobs/{id}, or the retention period): the record stays."""
    batch_id: uuid.UUID | None = None
    """The batch the job is an item of, if any."""

    @property
    def placeholder_kind(self) -> str | None:
        """The placeholder asked for: blurhash, thumbhash, or None."""
        return self.placeholder_type or ("blurhash" if self.placeholder_requested else None)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


class BatchStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    PARTIALLY_FAILED = "partially_failed"
    FAILED = "failed"
    CANCELED = "canceled"


@dataclass(frozen=True)
class BatchItem:
    """One source of a batch, and what it changes in the batch's outputs."""

    source_key: str | None = None
    source_url: str | None = None
    focal: tuple[float, float] | None = None
    """The point outputs that crop (fit cover or pad) keep, 0..1 each way."""
    error: tuple[str, str] | None = None
    """(code, message) when the item is refused at once (a source that is not the tenant's): its job is made
    failed, and the rest of the batch goes on."""


@dataclass(frozen=True)
class Batch:
    id: uuid.UUID
    tenant: str
    items: int
    created_at: datetime
    webhook_url: str | None = None
    canceled_at: datetime | None = None
    finished_at: datetime | None = None
    """Every item had ended when the batch was last looked at (its manifest written, its webhook due)."""
    manifest_key: str | None = None
    notified_at: datetime | None = None
    """Its batch.completed webhook has ended (delivered, refused or given up), or there was none to send."""
    webhook_status: int | None = None
    webhook_error: str | None = None
    purged_at: datetime | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    """Its jobs by status; the counts add up to ``items``."""
    replayed: bool = False

    @property
    def ended(self) -> int:
        return sum(self.counts.get(s, 0) for s in TERMINAL)

    @property
    def status(self) -> BatchStatus:
        if self.canceled_at is not None:
            return BatchStatus.CANCELED
        if self.ended < self.items:
            queued = self.counts.get(JobStatus.QUEUED, 0) == self.items
            return BatchStatus.QUEUED if queued else BatchStatus.PROCESSING
        succeeded = self.counts.get(JobStatus.SUCCEEDED, 0)
        if succeeded == self.items:
            return BatchStatus.SUCCEEDED
        return BatchStatus.FAILED if succeeded == 0 else BatchStatus.PARTIALLY_FAILED
