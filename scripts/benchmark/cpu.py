"""CPU time by role, from /proc: where a run's cycles went (worker, API, S3, PostgreSQL, RabbitMQ, …)."""

from __future__ import annotations

import os
from pathlib import Path

ROLES = (
    ("celery", "worker"),
    ("gunicorn", "api"),
    ("nanio", "s3"),
    ("postgres", "postgresql"),
    ("beam.smp", "rabbitmq"),
    ("scripts.benchmark", "bench client"),
    ("tasks.relay", "relay"),
    ("redis-server", "redis"),
    ("hey ", "load generator"),
    ("bin/thumbor", "thumbor"),
)
TICK = os.sysconf("SC_CLK_TCK")


def snapshot() -> dict[int, tuple[str, float]]:
    """pid → (role, CPU seconds so far) for every process with a known role."""
    out = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        role = next((r for needle, r in ROLES if needle in cmdline), None)
        if role:
            out[int(proc.name)] = (role, (int(fields[11]) + int(fields[12])) / TICK)
    return out


def spent(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds per role between two snapshots (processes that started meanwhile count from zero)."""
    totals: dict[str, float] = {}
    for pid, (role, seconds) in after.items():
        totals[role] = totals.get(role, 0.0) + seconds - before.get(pid, (role, 0.0))[1]
    return {role: round(s, 2) for role, s in sorted(totals.items(), key=lambda kv: -kv[1])}
