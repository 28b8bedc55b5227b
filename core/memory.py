"""The ports of core/ports.py in memory: for unit tests and for trying a step without services.

They keep the rules the PostgreSQL and S3 implementations keep (guarded
transitions, the effect ledger, usage counted once, idempotency keys,
redacted errors, a missing key as FileNotFoundError); tests/contract runs
the same tests against both, so the two cannot drift apart unnoticed.
``MemoryObjectStore.outage`` makes every call fail as a storage outage does.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from core import redact, tracing
from core.errors import IdempotencyKeyReused, StorageUnavailable
from core.model import UNFINISHED, Batch, BatchItem, Job, JobStatus, Output
from core.ports import Ending, ObjectInfo, Publish
from core.spec import OutputSpec
from core.turns import Rotation

__all__ = ["MemoryJobs", "MemoryObjectStore", "MemorySecrets"]


def _now() -> datetime:
    return datetime.now(UTC)


class MemoryJobs:
    """Jobs, Deliveries, Usage, Outbox and DeadLetters in one lock-guarded store."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._jobs: dict[uuid.UUID, Job] = {}
        self._keys: dict[tuple[str, str], tuple[str, uuid.UUID]] = {}
        self._outbox: list[tuple[uuid.UUID, str | None]] = []
        self._deliveries: list[dict[str, Any]] = []
        self._disabled: dict[str, str] = {}
        self._usage: dict[uuid.UUID, dict[str, Any]] = {}
        self._compute_ms: dict[uuid.UUID, int] = {}
        self._purges: dict[uuid.UUID, dict[str, Any]] = {}
        self._letters: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._batches: dict[uuid.UUID, Batch] = {}
        self._batch_keys: dict[tuple[str, str], tuple[str, uuid.UUID]] = {}
        self._batch_sent: dict[uuid.UUID, datetime] = {}  # relay_batches: when each was handed on
        self.announced: list[tuple[uuid.UUID, str]] = []  # get(announce=…): the steps told as started

    # Jobs

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
        with self._lock:
            if idempotency is not None:
                seen = self._keys.get((tenant, idempotency[0]))
                if seen is not None:
                    if seen[0] != idempotency[1]:
                        raise IdempotencyKeyReused("this Idempotency-Key was used with a different request")
                    return dataclasses.replace(self._jobs[seen[1]], replayed=True)
                self._keys[(tenant, idempotency[0])] = (idempotency[1], job_id)
            job = Job(
                job_id,
                JobStatus.QUEUED,
                source_key,
                source_url,
                webhook_url,
                _now(),
                tenant=tenant,
                placeholder_requested=placeholder is not None,
                placeholder_type=placeholder,
                outputs=tuple(Output(o) for o in outputs),
            )
            self._jobs[job_id] = job
            self._outbox.append((job_id, tracing.carrier()))
            return job

    def get(self, job_id: uuid.UUID, tenant: str | None = None, announce: str | None = None) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if announce is not None and job is not None:
                self.announced.append((job_id, announce))
        return job if job is not None and tenant in (None, job.tenant) else None

    def list_recent(
        self,
        status: str | None = None,
        limit: int = 20,
        before: uuid.UUID | None = None,
        tenant: str | None = None,
    ) -> list[Job]:
        with self._lock:
            jobs = sorted(self._jobs.values(), key=lambda j: j.id, reverse=True)
        return [
            j
            for j in jobs
            if (tenant is None or j.tenant == tenant)
            and (not status or j.status == status)
            and (before is None or j.id < before)
        ][:limit]

    def _move(
        self, job_id: uuid.UUID, sources: frozenset[JobStatus] | None, step: str | None = None, **changes: Any
    ) -> bool:
        """The guarded change: applied only from ``sources`` (None: from any state), with its ledger row."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or (sources is not None and job.status not in sources):
                return False
            done = job.steps_done + ((step,) if step and step not in job.steps_done else ())
            self._jobs[job_id] = dataclasses.replace(job, steps_done=done, **changes)
            return True

    def start(self, job_id: uuid.UUID) -> bool:
        return self._move(job_id, frozenset({JobStatus.QUEUED}), status=JobStatus.PROCESSING, started_at=_now())

    def begin(self, job_id: uuid.UUID, announce: str) -> Job | None:
        self.start(job_id)
        return self.get(job_id, announce=announce)

    def set_source(self, job_id: uuid.UUID, size: int) -> None:
        self._move(job_id, frozenset({JobStatus.PROCESSING}), "fetch", source_bytes=size)

    def set_source_info(self, job_id: uuid.UUID, fmt: str, width: int, height: int, frames: int = 1) -> None:
        self._move(
            job_id,
            frozenset({JobStatus.PROCESSING}),
            "validate",
            source_format=fmt,
            source_width=width,
            source_height=height,
            source_frames=frames,
        )

    def stage_outputs(
        self, job_id: uuid.UUID, staged: Sequence[Output], placeholder: str | None = None, compute_ms: int = 0
    ) -> bool:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status != JobStatus.PROCESSING:
                return False
            by_name = {o.spec.name: o for o in staged}
            outputs = tuple(
                dataclasses.replace(
                    o,
                    staged_key=s.staged_key,
                    width=s.width,
                    height=s.height,
                    bytes=s.bytes,
                    format=s.format,
                    quality=s.quality,
                    score=s.score,
                )
                if (s := by_name.get(o.spec.name))
                else o
                for o in job.outputs
            )
            self._compute_ms[job_id] = compute_ms
            return self._move(
                job_id,
                None,
                "transform",
                outputs=outputs,
                placeholder=placeholder if placeholder is not None else job.placeholder,
            ) and any(o.spec.name in by_name for o in job.outputs)

    def succeed(self, job_id: uuid.UUID, keys: dict[str, str]) -> bool:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status != JobStatus.PROCESSING:
                return False
            outputs = tuple(
                dataclasses.replace(o, key=keys[o.spec.name]) if o.spec.name in keys else o for o in job.outputs
            )
            self._move(job_id, None, "upload", status=JobStatus.SUCCEEDED, finished_at=_now(), outputs=outputs)
            total = sum(o.bytes or 0 for o in job.outputs)
            bytes_in = job.source_bytes or 0
            pixels = (job.source_width or 0) * (job.source_height or 0) * (job.source_frames or 1)
            self._usage.setdefault(
                job_id,
                {
                    "tenant": job.tenant,
                    "created_at": _now(),
                    "pixels": pixels,
                    "bytes_in": bytes_in,
                    "bytes_out": total,
                    "bytes_saved": max(bytes_in * len(job.outputs) - total, 0),
                    "compute_ms": self._compute_ms.get(job_id, 0),
                },
            )
            return True

    def fail(self, job_id: uuid.UUID, code: str, message: str) -> bool:
        return self._move(
            job_id,
            UNFINISHED,
            status=JobStatus.FAILED,
            finished_at=_now(),
            error_code=code,
            error_message=redact.scrub(message)[:1000],
        )

    def cancel(self, job_id: uuid.UUID) -> bool:
        return self._move(job_id, UNFINISHED, status=JobStatus.CANCELED, finished_at=_now())

    def retry(self, job_id: uuid.UUID) -> bool:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status not in (JobStatus.FAILED, JobStatus.CANCELED) or job.purged_at is not None:
                return False
            self._jobs[job_id] = dataclasses.replace(
                job,
                status=JobStatus.QUEUED,
                started_at=None,
                finished_at=None,
                error_code=None,
                error_message=None,
                notified_at=None,
                webhook_status=None,
                webhook_error=None,
                placeholder=None,
                steps_done=(),
                outputs=tuple(Output(o.spec) for o in job.outputs),
            )
            self._outbox.append((job_id, tracing.carrier()))
            return True

    def record_notification(self, job_id: uuid.UUID, status: int | None, error: str | None) -> None:
        self._move(
            job_id,
            None,
            "notify",
            notified_at=_now(),
            webhook_status=status,
            webhook_error=error and redact.scrub(error),
        )

    def purge(self, job_id: uuid.UUID, objects: int, bytes: int, how: str) -> bool:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.purged_at is not None or not job.terminal:
                return False
            self._jobs[job_id] = dataclasses.replace(job, purged_at=_now())
            self._purges.setdefault(
                job_id, {"tenant": job.tenant, "created_at": _now(), "objects": objects, "bytes": bytes, "how": how}
            )
            return True

    def expired(self, older_than_seconds: float, limit: int) -> list[Job]:
        cutoff = _now() - timedelta(seconds=older_than_seconds)
        with self._lock:
            ended = [
                j
                for j in self._jobs.values()
                if j.terminal and j.purged_at is None and j.finished_at is not None and j.finished_at < cutoff
            ]
        return sorted(ended, key=lambda j: j.finished_at or cutoff)[:limit]

    def sources_in_use(self, keys: Sequence[str], besides: uuid.UUID | None = None) -> set[str]:
        wanted = set(keys)
        with self._lock:
            return {
                j.source_key
                for j in self._jobs.values()
                if j.source_key in wanted and j.purged_at is None and j.id != besides
            }

    # Batches

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
        with self._lock:
            if idempotency is not None:
                seen = self._batch_keys.get((tenant, idempotency[0]))
                if seen is not None:
                    if seen[0] != idempotency[1]:
                        raise IdempotencyKeyReused("this Idempotency-Key was used with a different request")
                    return dataclasses.replace(self._batch(seen[1]), replayed=True)
                self._batch_keys[(tenant, idempotency[0])] = (idempotency[1], batch_id)
            self._batches[batch_id] = Batch(batch_id, tenant, len(items), _now(), webhook_url=webhook_url)
            for job_id, item in zip(job_ids, items, strict=True):
                refused = item.error is not None
                self._jobs[job_id] = Job(
                    job_id,
                    JobStatus.FAILED if refused else JobStatus.QUEUED,
                    item.source_key,
                    item.source_url,
                    job_webhook_url,
                    _now(),
                    finished_at=_now() if refused else None,
                    error_code=item.error[0] if item.error else None,
                    error_message=redact.scrub(item.error[1])[:1000] if item.error else None,
                    tenant=tenant,
                    placeholder_requested=placeholder is not None,
                    placeholder_type=placeholder,
                    outputs=tuple(Output(o.focused(item.focal)) for o in outputs),
                    batch_id=batch_id,
                )
                if not refused or job_webhook_url:  # a refused item's chain only tells its webhook (fetch: ended)
                    self._outbox.append((job_id, tracing.carrier()))
            return self._batch(batch_id)

    def _batch(self, batch_id: uuid.UUID) -> Batch:
        counts: dict[str, int] = {}
        for job in self._jobs.values():
            if job.batch_id == batch_id:
                counts[job.status] = counts.get(job.status, 0) + 1
        return dataclasses.replace(self._batches[batch_id], counts=counts)

    def get_batch(self, batch_id: uuid.UUID, tenant: str | None = None) -> Batch | None:
        with self._lock:
            batch = self._batches.get(batch_id)
            return self._batch(batch_id) if batch is not None and tenant in (None, batch.tenant) else None

    def list_batches(self, tenant: str, limit: int = 20, before: uuid.UUID | None = None) -> list[Batch]:
        with self._lock:
            ids = sorted((b.id for b in self._batches.values() if b.tenant == tenant), reverse=True)
            return [self._batch(i) for i in ids if before is None or i < before][:limit]

    def batch_jobs(
        self, batch_id: uuid.UUID, status: str | None = None, limit: int = 20, after: uuid.UUID | None = None
    ) -> list[Job]:
        with self._lock:
            jobs = sorted((j for j in self._jobs.values() if j.batch_id == batch_id), key=lambda j: j.id)
        return [j for j in jobs if (not status or j.status == status) and (after is None or j.id > after)][:limit]

    def batch_endings(
        self, batch_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None = None, limit: int = 1000
    ) -> list[Ending]:
        with self._lock:
            ended = sorted(
                (j.finished_at, j.id, j)
                for j in self._jobs.values()
                if j.batch_id == batch_id and j.finished_at is not None
            )
        return [Ending(j.id, j.status, j.error_code, at) for at, i, j in ended if after is None or (at, i) > after][
            :limit
        ]

    def cancel_batch(self, batch_id: uuid.UUID) -> int:
        with self._lock:
            canceled = {j.id for j in self.batch_jobs(batch_id, limit=len(self._jobs)) if self.cancel(j.id)}
            if canceled:
                batch = self._batches[batch_id]
                self._batches[batch_id] = dataclasses.replace(batch, canceled_at=batch.canceled_at or _now())
                unheard = {i for i in canceled if not self._jobs[i].webhook_url}
                self._outbox = [entry for entry in self._outbox if entry[0] not in unheard]
            return len(canceled)

    def retry_batch(self, batch_id: uuid.UUID) -> int:
        with self._lock:
            failed = self.batch_jobs(batch_id, JobStatus.FAILED, limit=len(self._jobs))
            retried = sum(self.retry(j.id) for j in failed)
            if retried:
                self._batches[batch_id] = dataclasses.replace(
                    self._batches[batch_id],
                    finished_at=None,
                    manifest_key=None,
                    notified_at=None,
                    canceled_at=None,
                    webhook_status=None,
                    webhook_error=None,
                )
                self._batch_sent.pop(batch_id, None)
            return retried

    def relay_batches(
        self, publish: Callable[[uuid.UUID], None], resend_after: float, retell_after: float, limit: int = 100
    ) -> int:
        with self._lock:
            due = sorted(
                (
                    b
                    for b in map(self._batch, self._batches)
                    if b.notified_at is None
                    and (b.finished_at is not None or b.ended == b.items)
                    and (
                        (sent := self._batch_sent.get(b.id)) is None
                        or sent <= _now() - timedelta(seconds=resend_after if b.finished_at is None else retell_after)
                    )
                ),
                key=lambda b: b.created_at,
            )[:limit]
            for batch in due:
                publish(batch.id)
            for batch in due:
                self._batch_sent[batch.id] = _now()
            return len(due)

    def finish_batch(self, batch_id: uuid.UUID, manifest_key: str) -> bool:
        with self._lock:
            batch = self._batch(batch_id)
            if batch.finished_at is not None or batch.ended < batch.items:
                return False
            self._batches[batch_id] = dataclasses.replace(
                self._batches[batch_id], finished_at=_now(), manifest_key=manifest_key
            )
            return True

    def record_batch_notification(self, batch_id: uuid.UUID, status: int | None, error: str | None) -> bool:
        with self._lock:
            batch = self._batches[batch_id]
            if batch.notified_at is not None or batch.finished_at is None:
                return False
            self._batches[batch_id] = dataclasses.replace(
                batch, notified_at=_now(), webhook_status=status, webhook_error=error and redact.scrub(error)[:1000]
            )
            return True

    def record_batch_purge(self, batch_id: uuid.UUID) -> bool:
        with self._lock:
            batch = self._batches[batch_id]
            if batch.purged_at is not None:
                return False
            self._batches[batch_id] = dataclasses.replace(batch, purged_at=_now())
            return True

    def expired_batches(self, older_than_seconds: float, limit: int) -> list[Batch]:
        cutoff = _now() - timedelta(seconds=older_than_seconds)
        with self._lock:
            found = sorted(
                (b for b in self._batches.values() if b.purged_at is None and b.finished_at and b.finished_at < cutoff),
                key=lambda b: b.finished_at or cutoff,
            )
            return [self._batch(b.id) for b in found[:limit]]

    # Deliveries

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
        with self._lock:
            self._deliveries.append(
                {
                    "id": next(self._ids),
                    "job_id": job_id,
                    "batch_id": batch_id,
                    "message_id": message_id,
                    "url": url,
                    "attempt": attempt,
                    "status_code": status,
                    "error": error and redact.scrub(error),
                    "duration_ms": duration_ms,
                    "created_at": _now(),
                }
            )

    def delivery_attempts(self, message_id: str) -> int:
        with self._lock:
            return sum(d["message_id"] == message_id for d in self._deliveries)

    def deliveries(self, job_id: uuid.UUID | None = None, batch_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
        column, subject = ("batch_id", batch_id) if job_id is None else ("job_id", job_id)
        with self._lock:
            return [
                {k: v for k, v in d.items() if k not in ("job_id", "batch_id")}
                for d in self._deliveries
                if d[column] == subject
            ]

    def disable_endpoint(self, url: str, reason: str) -> None:
        with self._lock:
            self._disabled.setdefault(url, reason)

    def endpoint_disabled(self, url: str) -> bool:
        with self._lock:
            return url in self._disabled

    # Usage

    def usage(self, tenant: str, since: datetime, until: datetime) -> dict[str, int]:
        with self._lock:
            rows = [u for u in self._usage.values() if u["tenant"] == tenant and since <= u["created_at"] < until]
            purged = [p for p in self._purges.values() if p["tenant"] == tenant and since <= p["created_at"] < until]
        sums = {k: sum(int(u[k]) for u in rows) for k in ("pixels", "bytes_in", "bytes_out", "bytes_saved")}
        return {
            "jobs": len(rows),
            **sums,
            "compute_ms": sum(int(u["compute_ms"]) for u in rows),
            "jobs_purged": len(purged),
            "bytes_purged": sum(int(p["bytes"]) for p in purged),
        }

    # Outbox

    def relay(
        self, publish: Publish, limit: int = 200, rotation: Rotation | None = None, passed_over: float | None = None
    ) -> int:
        rotation = rotation or Rotation()
        held = set() if passed_over is None else set(rotation.recent(passed_over))
        with self._lock:
            waiting = [(place, self._jobs[job_id].tenant) for place, (job_id, _) in enumerate(self._outbox)]
            if passed_over is not None:  # each tenant's oldest, but not the tenants served lately
                firsts = {tenant: place for place, tenant in reversed(waiting)}
                waiting = [(place, tenant) for tenant, place in firsts.items() if tenant not in held]
            chosen = rotation.rank([(place, tenant, place) for place, tenant in waiting])[:limit]
            for place in chosen:
                publish(*self._outbox[place])  # raises: nothing is marked sent, as a rolled-back transaction
            rotation.served(self._jobs[self._outbox[place][0]].tenant for place in chosen)
            sent = set(chosen)
            self._outbox = [entry for place, entry in enumerate(self._outbox) if place not in sent]
            return len(chosen)

    def unsent(self) -> int:
        with self._lock:
            return len(self._outbox)

    # Dead letters

    def record_dead_letter(
        self, job_id: uuid.UUID | None, task: str, reason: str, delivery_count: int | None, message: dict[str, Any]
    ) -> None:
        with self._lock:
            self._letters.append(
                {
                    "id": next(self._ids),
                    "job_id": job_id,
                    "task": task,
                    "reason": reason,
                    "delivery_count": delivery_count,
                    "message": message,
                    "created_at": _now(),
                    "replayed_at": None,
                    "dismissed_at": None,
                    "dismissed_why": None,
                }
            )

    @staticmethod
    def _pending(letter: dict[str, Any]) -> bool:
        return letter["replayed_at"] is None and letter["dismissed_at"] is None

    def dead_letters(
        self, limit: int = 50, include_settled: bool = False, tenant: str | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            letters = [
                dict(x)
                for x in reversed(self._letters)
                if (include_settled or self._pending(x))
                and (tenant is None or ((job := self._jobs.get(x["job_id"])) is not None and job.tenant == tenant))
            ]
        return letters[:limit]

    def dead_letter(self, letter_id: int) -> dict[str, Any] | None:
        with self._lock:
            return next((dict(x) for x in self._letters if x["id"] == letter_id), None)

    def mark_replayed(self, letter_id: int) -> None:
        with self._lock:
            for letter in self._letters:
                if letter["id"] == letter_id:
                    letter["replayed_at"] = _now()

    def dismiss_dead_letter(self, letter_id: int, why: str) -> bool:
        with self._lock:
            for letter in self._letters:
                if letter["id"] == letter_id and self._pending(letter):
                    letter.update(dismissed_at=_now(), dismissed_why=why)
                    return True
            return False

    def purge_dead_letters(self) -> int:
        with self._lock:
            count = len(self._letters)
            self._letters.clear()
            return count

    def ping(self) -> None:
        """Always reachable."""


class MemorySecrets:
    """Tenants' webhook signing secrets."""

    def __init__(self, by_tenant: dict[str, list[str]] | None = None) -> None:
        self.by_tenant = by_tenant or {}

    def signing(self, tenant: str) -> list[str]:
        return list(self.by_tenant.get(tenant, []))


class MemoryObjectStore:
    """Objects by key, as S3 keeps them: bytes, content type, Cache-Control."""

    def __init__(self, bucket: str = "pixelflow") -> None:
        self.bucket = bucket
        self.objects: dict[str, tuple[bytes, str, str | None]] = {}
        self.outage: str | None = None
        """When set, every call raises StorageUnavailable with it, as an unreachable storage does."""
        self.calls: list[str] = []
        """The requests made (``head``, ``get``…), for counting round trips."""
        self.modified: dict[str, datetime] = {}
        """When each object was written (a test may set an older time)."""
        self._epoch = _now()
        self._lock = threading.Lock()

    def _call(self, name: str) -> None:
        with self._lock:
            self.calls.append(name)
        if self.outage is not None:
            raise StorageUnavailable(f"storage unreachable: {self.outage}")

    def _object(self, key: str) -> tuple[bytes, str, str | None]:
        try:
            return self.objects[key]
        except KeyError:
            raise FileNotFoundError(f"No such key: {key!r}") from None

    def ensure_bucket(self) -> None:
        self._call("ensure_bucket")

    def ping(self) -> None:
        self._call("ping")

    def head(self, key: str) -> ObjectInfo:
        self._call("head")
        data, content_type, _ = self._object(key)
        return ObjectInfo(key=key, size=len(data), content_type=content_type)

    def get(self, key: str, length: int | None = None) -> bytes:
        self._call("get")
        data = self._object(key)[0]
        return data[:length] if length else data

    def read(self, key: str, max_bytes: int) -> tuple[ObjectInfo, bytes | None]:
        self._call("read")
        data, content_type, _ = self._object(key)
        return ObjectInfo(key=key, size=len(data), content_type=content_type), data if len(data) <= max_bytes else None

    def put(self, key: str, data: bytes, content_type: str, cache_control: str | None = None) -> None:
        self._call("put")
        with self._lock:
            self.objects[key] = (bytes(data), content_type, cache_control)
            self.modified[key] = _now()

    def copy(self, source_key: str, key: str) -> None:
        self._call("copy")
        with self._lock:
            self.objects[key] = self._object(source_key)

    def delete(self, keys: list[str]) -> None:
        self._call("delete")
        with self._lock:
            for key in keys:
                self.objects.pop(key, None)

    def delete_prefix(self, prefix: str) -> int:
        self._call("list")
        keys = [k for k in list(self.objects) if k.startswith(prefix)]
        self.delete(keys)
        return len(keys)

    def list(self, prefix: str, start_after: str = "", limit: int = 1000) -> list[ObjectInfo]:
        self._call("list")
        with self._lock:
            keys = sorted(k for k in self.objects if k.startswith(prefix) and k > start_after)[:limit]
            return [
                ObjectInfo(k, len(self.objects[k][0]), self.objects[k][1], self.modified.get(k, self._epoch))
                for k in keys
            ]

    def presign_put(self, key: str, ttl: timedelta) -> str:
        return f"memory://{self.bucket}/{key}?method=PUT&expires={int(ttl.total_seconds())}"

    def presign_get(self, key: str, ttl: timedelta) -> str:
        return f"memory://{self.bucket}/{key}?expires={int(ttl.total_seconds())}"
