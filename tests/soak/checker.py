"""The soak's checker: what the database, the storage and the webhook receiver's log say, held against the
history of what the clients were told.

It reads each from the outside, as an auditor would: PostgreSQL with SQL, the bucket with boto3, the
receiver's log as it was written (every POST, answered or not, its signature checked on arrival with the
Standard Webhooks library). A finding is a sentence naming the job; none is what a run must end with.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import boto3
import psycopg
from botocore.config import Config
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

TERMINAL = ("succeeded", "failed", "canceled")


@dataclass
class Delivery:
    """One POST the webhook receiver got, as it got it."""

    headers: dict[str, str]
    body: bytes
    answered: int
    verified: bool  # its signature checked when it came (the library refuses a timestamp 5 minutes old)


@dataclass
class History:
    """What the clients did and were told: every accepted job (Idempotency-Key → id), every POST's answer,
    the job.ended notifications the database sent (LISTEN), the faults and when each ran."""

    accepted: dict[str, str] = field(default_factory=dict)  # idempotency key → job id
    answers: Counter[int] = field(default_factory=Counter)  # POST /v1/jobs status → count
    conflicts: list[str] = field(default_factory=list)  # a key answered with two different ids
    endings: list[tuple[str, str]] = field(default_factory=list)  # (job id, status) from NOTIFY job.ended
    faults: list[tuple[float, float, str, str]] = field(default_factory=list)  # (start, end, kind, target)
    deliveries: list[Delivery] = field(default_factory=list)


@dataclass
class Report:
    findings: list[str]
    figures: dict[str, Any]


def verified(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


def storage(s3: dict[str, str]) -> Any:
    """A boto3 client of the bucket's server (``s3``: endpoint, access_key, secret_key)."""
    return boto3.client(
        "s3",
        endpoint_url=s3["endpoint"],
        aws_access_key_id=s3["access_key"],
        aws_secret_access_key=s3["secret_key"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 5}),
    )


def check(history: History, database_url: str, s3: dict[str, str], bucket: str, tenant: str) -> Report:
    findings: list[str] = list(history.conflicts)
    ids = sorted(set(history.accepted.values()))
    with psycopg.connect(database_url) as conn:
        jobs = {
            str(row[0]): (row[1], row[2], row[3])
            for row in conn.execute(
                "SELECT id, status, error_code, finished_at IS NOT NULL FROM jobs WHERE id = ANY(%s::uuid[])",
                (ids,),
            )
        }
        outputs: dict[str, list[tuple[str | None, int | None]]] = defaultdict(list)
        for job_id, key, size in conn.execute(
            "SELECT job_id, key, bytes FROM job_outputs WHERE job_id = ANY(%s::uuid[])", (ids,)
        ):
            outputs[str(job_id)].append((key, size))
        steps: dict[str, set[str]] = defaultdict(set)
        for job_id, step in conn.execute("SELECT job_id, step FROM job_steps WHERE job_id = ANY(%s::uuid[])", (ids,)):
            steps[str(job_id)].add(step)
        usage = Counter(
            str(r[0]) for r in conn.execute("SELECT job_id FROM usage WHERE job_id = ANY(%s::uuid[])", (ids,))
        )
        strays = conn.execute(
            "SELECT count(*) FROM jobs WHERE tenant = %s AND NOT (id = ANY(%s::uuid[]))", (tenant, ids)
        ).fetchone()
        took = conn.execute(
            "SELECT percentile_cont(ARRAY[0.5, 0.99])"
            " WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at))"
            " FROM jobs WHERE id = ANY(%s::uuid[])",
            (ids,),
        ).fetchone()
        unsent = conn.execute(
            "SELECT count(*) FROM outbox WHERE job_id = ANY(%s::uuid[]) AND sent_at IS NULL", (ids,)
        ).fetchone()

    # 1. Every accepted job is there, ended, once.
    for job_id in ids:
        if job_id not in jobs:
            findings.append(f"{job_id}: accepted (202) and not in the database")
            continue
        status, _, finished = jobs[job_id]
        if status not in TERMINAL or not finished:
            findings.append(f"{job_id}: not ended ({status})")
    if strays and strays[0]:
        findings.append(f"{strays[0]} jobs of the tenant that no client was given (a POST made two)")
    if unsent and unsent[0]:
        findings.append(f"{unsent[0]} outbox rows never sent")
    ended: dict[str, list[str]] = defaultdict(list)
    for job_id, status in history.endings:
        ended[job_id].append(status)
    for job_id, statuses in ended.items():
        if len(statuses) > 1:
            findings.append(f"{job_id}: ended {len(statuses)} times ({', '.join(statuses)})")
        elif job_id in jobs and statuses[0] != jobs[job_id][0]:
            findings.append(f"{job_id}: ended {statuses[0]}, now {jobs[job_id][0]}")

    # 2. Outputs exist exactly for succeeded jobs: every key written, of its size; nothing else stored.
    client = storage(s3)
    stored: dict[str, int] = {}
    accepted = set(ids)
    for prefix in (f"results/{tenant}/", "staging/"):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            stored.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
    # Staging is shared by every tenant: only these jobs' leftovers are theirs to answer for.
    stored = {k: v for k, v in stored.items() if not k.startswith("staging/") or k.split("/")[1] in accepted}
    expected: dict[str, int | None] = {}
    for job_id in ids:
        status = jobs.get(job_id, ("?", None, False))[0]
        if status == "succeeded":
            for key, size in outputs[job_id]:
                if key is None:
                    findings.append(f"{job_id}: succeeded with an output that has no key")
                else:
                    expected[key] = size
            if steps[job_id] != {"fetch", "validate", "transform", "upload", "notify"}:
                findings.append(f"{job_id}: succeeded, steps recorded {sorted(steps[job_id])}")
        if usage[job_id] != (status == "succeeded"):
            findings.append(f"{job_id}: {status}, {usage[job_id]} usage rows")
    for key, size in expected.items():
        if key not in stored:
            findings.append(f"{key}: a succeeded job's output, not in storage")
        elif size is not None and stored[key] != size:
            findings.append(f"{key}: {stored[key]} bytes stored, {size} recorded")
    for key in sorted(set(stored) - set(expected)):
        findings.append(f"{key}: stored, and no succeeded job's output")

    # 3. Webhooks: each id names one event; each job's ending announced, as the database has it.
    events: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    delivered: dict[str, str] = {}
    bad_signatures = 0
    for d in history.deliveries:
        if not d.verified:
            bad_signatures += 1
            continue
        payload = json.loads(d.body)
        data = payload["data"]
        events[d.headers["webhook-id"]].add((payload["type"], data["id"], data.get("status", "")))
        if 200 <= d.answered < 300:
            delivered[data["id"]] = data.get("status", "")
    if bad_signatures:
        findings.append(f"{bad_signatures} webhook deliveries whose signature does not verify")
    for webhook_id, seen in events.items():
        if len(seen) > 1:
            findings.append(f"webhook-id {webhook_id} sent for {len(seen)} events: {sorted(seen)}")
    for job_id in ids:
        status = jobs.get(job_id, ("?", None, False))[0]
        if status in TERMINAL and delivered.get(job_id) != status:
            findings.append(f"{job_id}: {status}, its webhook delivered as {delivered.get(job_id)!r}")

    by_status = Counter(jobs[j][0] for j in ids if j in jobs)
    figures = {
        "jobs accepted": len(ids),
        "POST /v1/jobs answers": dict(sorted(history.answers.items())),
        "succeeded": by_status["succeeded"],
        "failed, by code": dict(Counter(jobs[j][1] for j in ids if j in jobs and jobs[j][0] == "failed")),
        "job time (accepted to ended) p50 / p99, s": " / ".join(f"{v:.1f}" for v in (took[0] if took else []) or []),
        "objects stored (results)": len([k for k in stored if k.startswith("results/")]),
        "webhook POSTs received": len(history.deliveries),
        "webhook ids": len(events),
        "repeated deliveries (same id)": len(history.deliveries) - len(events),
        "job.ended notifications heard": len(history.endings),
        "faults, by kind": dict(Counter(kind for _, _, kind, _ in history.faults)),
    }
    return Report(findings, figures)


def table(figures: dict[str, Any]) -> str:
    rows = ["| figure | value |", "|---|---|"]
    rows += [
        f"| {name} | {json.dumps(value) if isinstance(value, dict) else value} |" for name, value in figures.items()
    ]
    return "\n".join(rows)
