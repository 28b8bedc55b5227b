"""The ports: what the API, the steps and the relay ask of persistence and storage.

Each is a Protocol with two implementations: PostgreSQL and S3 for running
(core/jobstore.py, core/objectstore.py), in memory for tests
(core/memory.py). tests/contract runs one set of tests against both, so a
fake cannot drift from the real thing unnoticed.

Writes that span aggregates (a job, its outputs, its ledger row, its outbox
row, its usage) stay one statement or one transaction inside an
implementation: a port names an effect, never the statements behind it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from config import Settings
from core.model import Batch, BatchItem, Job, JobStatus, Output
from core.spec import OutputSpec
from core.turns import Rotation


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str
    modified: datetime | None = None
    """Set in listings."""


class ObjectStore(Protocol):
    """Images by key. A missing key is ``FileNotFoundError``; the storage failing is ``StorageUnavailable``."""

    def ensure_bucket(self) -> None: ...
    def ping(self) -> None: ...
    def head(self, key: str) -> ObjectInfo: ...
    def get(self, key: str, length: int | None = None) -> bytes: ...
    def read(self, key: str, max_bytes: int) -> tuple[ObjectInfo, bytes | None]:
        """What ``head`` tells and, when the object is no larger than ``max_bytes``, its bytes: one request.
        A larger object's body is not read."""
        ...

    def put(self, key: str, data: bytes, content_type: str, cache_control: str | None = None) -> None: ...
    def copy(self, source_key: str, key: str) -> None: ...
    def delete(self, keys: list[str]) -> None: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def list(self, prefix: str, start_after: str = "", limit: int = 1000) -> list[ObjectInfo]:
        """Up to ``limit`` objects under ``prefix``, in key order, after ``start_after``."""
        ...

    def presign_put(self, key: str, ttl: timedelta) -> str: ...
    def presign_get(self, key: str, ttl: timedelta) -> str: ...


@dataclass(frozen=True)
class Ending:
    """An item of a batch that has ended: what its stream tells (core/events.py)."""

    job_id: uuid.UUID
    status: str
    error_code: str | None
    finished_at: datetime


class Jobs(Protocol):
    """Jobs and their outputs. State changes are guarded: each returns False (and changes nothing) when the job
    is not in a state it moves from. A step's effect goes into the job's ledger (``Job.steps_done``) with it."""

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
        """A queued job, sent to the workers once committed (the outbox). ``idempotency`` is (key, request
        hash): a key seen before returns its job (``replayed``); with another request, IdempotencyKeyReused."""
        ...

    def get(self, job_id: uuid.UUID, tenant: str | None = None, announce: str | None = None) -> Job | None:
        """The job; with ``tenant``, only that tenant's. ``announce`` names a step starting on it: its
        step.started event is sent with the read (core/events.py), at no cost of a round trip."""
        ...

    def list_recent(
        self,
        status: str | None = None,
        limit: int = 20,
        before: uuid.UUID | None = None,
        tenant: str | None = None,
    ) -> list[Job]: ...

    def start(self, job_id: uuid.UUID) -> bool: ...
    def begin(self, job_id: uuid.UUID, announce: str) -> Job | None:
        """queued → processing, and the job as it is then, ``announce`` told as started: one statement. A job
        that was not queued is read as it is (a second statement)."""
        ...

    def set_source(self, job_id: uuid.UUID, size: int) -> None: ...
    def set_source_info(self, job_id: uuid.UUID, fmt: str, width: int, height: int, frames: int = 1) -> None: ...
    def stage_outputs(
        self, job_id: uuid.UUID, staged: Sequence[Output], placeholder: str | None = None, compute_ms: int = 0
    ) -> bool: ...
    def succeed(self, job_id: uuid.UUID, keys: dict[str, str]) -> bool: ...
    def fail(self, job_id: uuid.UUID, code: str, message: str) -> bool: ...
    def cancel(self, job_id: uuid.UUID) -> bool: ...
    def retry(self, job_id: uuid.UUID) -> bool: ...
    def record_notification(self, job_id: uuid.UUID, status: int | None, error: str | None) -> None: ...
    def purge(self, job_id: uuid.UUID, objects: int, bytes: int, how: str) -> bool:
        """Record an ended job's images as deleted (``how``: request or retention), counted once in usage.
        False when the job has not ended or was purged already."""
        ...

    def expired(self, older_than_seconds: float, limit: int) -> list[Job]:
        """Ended jobs not purged yet that finished this long ago, oldest first."""
        ...

    def sources_in_use(self, keys: Sequence[str], besides: uuid.UUID | None = None) -> set[str]:
        """Those of ``keys`` that are the source of a job (other than ``besides``) whose images are kept."""
        ...


class Batches(Protocol):
    """Batches: many jobs made in one request, each a job of its own that names its batch."""

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
        """The batch and a job per item (``job_ids[i]`` for ``items[i]``), queued and waiting in the outbox,
        in a number of statements that does not grow with the items. An item with ``error`` gets a job
        that has failed already (sent only with ``job_webhook_url``, for notify to tell it).
        ``idempotency`` as for Jobs.create."""
        ...

    def get_batch(self, batch_id: uuid.UUID, tenant: str | None = None) -> Batch | None:
        """The batch with its jobs counted by status; with ``tenant``, only if it is that tenant's."""
        ...

    def list_batches(self, tenant: str, limit: int = 20, before: uuid.UUID | None = None) -> list[Batch]: ...

    def batch_jobs(
        self, batch_id: uuid.UUID, status: str | None = None, limit: int = 20, after: uuid.UUID | None = None
    ) -> list[Job]:
        """A page of the batch's jobs, in item order (ids ascend with it); ``after`` is the last id seen."""
        ...

    def batch_endings(
        self, batch_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None = None, limit: int = 1000
    ) -> list[Ending]:
        """The batch's items that have ended, in the order they ended (``finished_at``, then id), after
        ``after`` (the last one seen)."""
        ...

    def cancel_batch(self, batch_id: uuid.UUID) -> int:
        """Cancel every item still queued or processing, and the batch; how many items were canceled."""
        ...

    def retry_batch(self, batch_id: uuid.UUID) -> int:
        """Run the failed items whose images were not deleted again; how many. The batch is open again."""
        ...

    def relay_batches(
        self, publish: Callable[[uuid.UUID], None], resend_after: float, retell_after: float, limit: int = 100
    ) -> int:
        """Hand each batch whose items have all ended, and whose ending is not told yet, to ``publish``
        (a worker then finishes it), once; again if still not finished ``resend_after`` seconds later, or
        finished and not told ``retell_after`` seconds later. If ``publish`` raises, they are handed on
        next time."""
        ...

    def finish_batch(self, batch_id: uuid.UUID, manifest_key: str) -> bool:
        """Mark the batch finished with its manifest; False if it was already, or an item is running again."""
        ...

    def record_batch_notification(self, batch_id: uuid.UUID, status: int | None, error: str | None) -> bool:
        """The finished batch's batch.completed webhook has ended (``status`` the endpoint's answer, None with
        no webhook or none received); False if it had already, or the batch is not finished."""
        ...

    def record_batch_purge(self, batch_id: uuid.UUID) -> bool:
        """Every item's images are deleted (core/purge.py): the batch says when; False if it did already."""
        ...

    def expired_batches(self, older_than_seconds: float, limit: int) -> list[Batch]:
        """Finished batches not purged yet that finished this long ago, oldest first."""
        ...


class Deliveries(Protocol):
    """Webhook attempts, and the endpoints disabled for answering 410."""

    def record_delivery(
        self,
        job_id: uuid.UUID | None,
        message_id: str,
        url: str,
        attempt: int,
        status: int | None,
        error: str | None,
        duration_ms: int,
        batch_id: uuid.UUID | None = None,
    ) -> None:
        """An attempt to deliver a job's webhook, or (``job_id`` None) a batch's."""
        ...

    def delivery_attempts(self, message_id: str) -> int:
        """Attempts made so far to deliver this message (its id names one event)."""
        ...

    def deliveries(self, job_id: uuid.UUID | None = None, batch_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
        """The attempts to deliver the job's (or the batch's) webhooks, oldest first."""
        ...

    def disable_endpoint(self, url: str, reason: str) -> None: ...
    def endpoint_disabled(self, url: str) -> bool: ...


class Usage(Protocol):
    def usage(self, tenant: str, since: datetime, until: datetime) -> dict[str, int]:
        """Sums over the tenant's jobs that succeeded in [since, until), each counted once, and over the
        purges made then (``jobs_purged``, ``bytes_purged``)."""
        ...


Publish = Callable[[uuid.UUID, str | None], None]
"""Sends a job's chain: its id, and the trace it was created in (a W3C traceparent, or None)."""


class Outbox(Protocol):
    """Jobs waiting to be sent to the workers; several relays may drain it side by side."""

    def relay(
        self, publish: Publish, limit: int = 200, rotation: Rotation | None = None, passed_over: float | None = None
    ) -> int:
        """Hand up to ``limit`` waiting jobs to ``publish`` (id, and the traceparent they were created in),
        the tenants in turn (core/turns.py: ``rotation`` remembers whom it served), each tenant's oldest first;
        with ``passed_over``, only the oldest job of each tenant not served for that many seconds. If it raises,
        they all stay waiting."""
        ...

    def unsent(self) -> int: ...


class DeadLetters(Protocol):
    def record_dead_letter(
        self, job_id: uuid.UUID | None, task: str, reason: str, delivery_count: int | None, message: dict[str, Any]
    ) -> None: ...
    def dead_letters(
        self, limit: int = 50, include_settled: bool = False, tenant: str | None = None
    ) -> list[dict[str, Any]]:
        """Newest first; pending only unless ``include_settled``; with ``tenant``, only letters of its jobs."""
        ...

    def dead_letter(self, letter_id: int) -> dict[str, Any] | None: ...
    def mark_replayed(self, letter_id: int) -> None: ...
    def dismiss_dead_letter(self, letter_id: int, why: str) -> bool: ...
    def purge_dead_letters(self) -> int: ...


class SigningSecrets(Protocol):
    def signing(self, tenant: str) -> list[str]:
        """The tenant's own webhook secrets, oldest first (none: the operator's sign)."""
        ...


class JobRecords(Jobs, Batches, Deliveries, Usage, Protocol):
    """What the steps and the API's job views use."""


@dataclass
class Services:
    """What a step works with; built by tasks/services.py on PostgreSQL and S3, by tests on core/memory.py."""

    settings: Settings
    jobs: JobRecords
    store: ObjectStore
    secrets: SigningSecrets


__all__ = [
    "Batches",
    "DeadLetters",
    "Deliveries",
    "Job",
    "JobRecords",
    "JobStatus",
    "Jobs",
    "ObjectInfo",
    "ObjectStore",
    "Outbox",
    "Output",
    "Services",
    "SigningSecrets",
    "Usage",
]
