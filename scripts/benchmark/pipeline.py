"""The corpus through the whole service: API → RabbitMQ → worker → S3 → PostgreSQL.

For each group: a burst of jobs (throughput: jobs / (last finish − first
creation)), then jobs at a fixed rate of half that throughput (latency
without a standing queue). Latency is the job's own finished_at −
created_at, as PostgreSQL recorded them.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from scripts.benchmark import apiload, corpus, cpu
from scripts.benchmark.stack import BenchStack
from tests.support.stack import ROOT

OUTPUTS = [
    {"name": f"{fmt}{width}", "format": fmt, "width": width, "quality": quality}
    for width in (800, 200)
    for fmt, quality in (("jpeg", 85), ("webp", 80))
]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def upload(stack: BenchStack, sources: list[corpus.Source]) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for source in sources:
        key = f"uploads/bench/{source.group}/{source.path.name}"  # the bench tenant's uploads
        stack.store.put(key, source.data, source.content_type)
        keys.setdefault(source.group, []).append(key)
    return keys


def latencies(rows: list[dict[str, Any]]) -> list[float]:
    return [(r["finished_at"] - r["created_at"]).total_seconds() * 1000 for r in rows]


def burst(stack: BenchStack, keys: list[str], count: int) -> dict[str, Any]:
    bodies = [{"source": {"key": keys[i % len(keys)]}, "outputs": OUTPUTS} for i in range(count)]
    before = cpu.snapshot()
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(stack.submit, bodies))
    rows = stack.wait(ids, timeout=60 + count * 2)
    cpu_seconds = cpu.spent(before, cpu.snapshot())
    failed = [r for r in rows if r["status"] != "succeeded"]
    span = (max(r["finished_at"] for r in rows) - min(r["created_at"] for r in rows)).total_seconds()
    lat = latencies(rows)
    return {
        "jobs": count,
        "failed": len(failed),
        "seconds": round(span, 2),
        "jobs_per_s": round(count / span, 2),
        "latency_p50_ms": round(percentile(lat, 50)),
        "latency_p99_ms": round(percentile(lat, 99)),
        "errors": sorted({r["error_code"] for r in failed}),
        "cpu_ms_per_job": {role: round(s * 1000 / count, 1) for role, s in cpu_seconds.items()},
    }


def paced(stack: BenchStack, keys: list[str], count: int, rate: float) -> dict[str, Any]:
    ids = []
    start = time.monotonic()
    for i in range(count):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        ids.append(stack.submit({"source": {"key": keys[i % len(keys)]}, "outputs": OUTPUTS}))
    rows = stack.wait(ids, timeout=60 + count * 2)
    lat = latencies(rows)
    return {
        "rate_per_s": round(rate, 2),
        "jobs": count,
        "failed": sum(r["status"] != "succeeded" for r in rows),
        "latency_p50_ms": round(statistics.median(lat)),
        "latency_p95_ms": round(percentile(lat, 95)),
        "latency_p99_ms": round(percentile(lat, 99)),
    }


def measure(stack: BenchStack, keys: dict[str, list[str]], counts: dict[str, int]) -> list[dict[str, Any]]:
    results = []
    for group, count in counts.items():
        burst(stack, keys[group], stack.workers * 2)  # warm-up: worker children, pools, caches
        throughput = burst(stack, keys[group], count)
        latency = paced(stack, keys[group], max(10, count // 2), throughput["jobs_per_s"] / 2)
        results.append({"group": group, "workers": stack.workers, "burst": throughput, "paced": latency})
    return results


def inline_steps(stack: BenchStack, keys: list[str], count: int, turns: int) -> dict[str, Any]:
    """Bursts in turns on one worker of both queues: its steps run inline (one message a job, the default), and
    with PIXELFLOW_WORKER_INLINE_STEPS=false (a message a step, as before)."""
    modes = {"inline": {}, "a task per step": {"PIXELFLOW_WORKER_INLINE_STEPS": "false"}}
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    try:
        for _ in range(turns):
            for mode, env in modes.items():
                stack.worker.stop()
                stack.worker = stack.new_worker(env)
                stack.worker.start()
                burst(stack, keys, stack.workers * 2)  # warm-up: worker children, pools, caches
                runs[mode].append(burst(stack, keys, count))
    finally:
        stack.worker.stop()
        stack.worker = stack.new_worker()
        stack.worker.start()

    def median(mode: str, pick: Any) -> float:
        return float(statistics.median(pick(b) for b in runs[mode]))

    def jobs_per_s(b: dict[str, Any]) -> float:
        return float(b["jobs_per_s"])

    def worker_ms(b: dict[str, Any]) -> float:
        return float(b["cpu_ms_per_job"].get("worker", 0))

    def all_ms(b: dict[str, Any]) -> float:
        return float(sum(b["cpu_ms_per_job"].values()))

    summary = {
        mode: {
            "jobs_per_s": round(median(mode, jobs_per_s), 2),
            "worker_cpu_ms_per_job": round(median(mode, worker_ms), 1),
            "all_cpu_ms_per_job": round(median(mode, all_ms), 1),
            "rabbitmq_cpu_ms_per_job": round(median(mode, lambda b: b["cpu_ms_per_job"].get("rabbitmq", 0)), 1),
        }
        for mode in modes
    }
    return {"jobs": count, "turns": turns, "runs": runs, "median": summary}


def worker_side_by_side(stack: BenchStack, keys: list[str], count: int, revision: str, turns: int) -> dict[str, Any]:
    """This worker and the one of git ``revision`` (the rest of the service this checkout's), in turns on the
    same bursts: what a change to the worker buys, CPU per job by process."""
    sha, tree = apiload.checkout(revision)
    roots = {"baseline": tree, "current": ROOT}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in roots}
    try:
        for turn in range(turns):
            for name in ("baseline", "current") if turn % 2 == 0 else ("current", "baseline"):
                stack.worker.stop()
                stack.worker = stack.new_worker(root=roots[name])
                stack.worker.start()
                burst(stack, keys, stack.workers * 2)  # warm-up
                runs[name].append(burst(stack, keys, count))
    finally:
        stack.worker.stop()
        stack.worker = stack.new_worker()
        stack.worker.start()

    def median(name: str, role: str | None) -> float:
        values = [
            float(sum(b["cpu_ms_per_job"].values()) if role is None else b["cpu_ms_per_job"].get(role, 0.0))
            for b in runs[name]
        ]
        return round(statistics.median(values), 1)

    summary = {
        name: {
            "jobs_per_s": round(statistics.median(b["jobs_per_s"] for b in runs[name]), 2),
            "worker_cpu_ms_per_job": median(name, "worker"),
            "s3_cpu_ms_per_job": median(name, "s3"),
            "postgresql_cpu_ms_per_job": median(name, "postgresql"),
            "all_cpu_ms_per_job": median(name, None),
        }
        for name in roots
    }
    return {"baseline": sha[:12], "jobs": count, "turns": turns, "runs": runs, "median": summary}
