"""Job creation under load, from a separate process (hey) on loopback.

The workers are stopped meanwhile, so that only the API path is measured:
the key (kept by the process after its first lookup), the tenant's rate
limit (two Redis round trips), the body, the INSERT of the job and its
outbox row; the relay publishes each chain to RabbitMQ with a publisher
confirm. The queued jobs are purged after.

With a baseline (``make bench BENCH_ARGS="--api-baseline <git revision>"``)
the API of that revision, checked out beside this one, takes turns with this
one at saturation, round after round on the same stack, so that the
machine's drift costs both alike: the ratio of their medians is the figure.
"""

from __future__ import annotations

import json
import re
import resource
import shutil
import statistics
import subprocess
from pathlib import Path
from typing import Any

from scripts.benchmark import cpu
from scripts.benchmark.stack import BenchStack
from tests.support.stack import ROOT, Api, free_port


def hey(
    url: str, body_path: str, seconds: int, concurrency: int, qps_per_worker: float | None, key: str
) -> dict[str, Any]:
    argv = ["hey", "-z", f"{seconds}s", "-c", str(concurrency), "-m", "POST", "-T", "application/json", "-D", body_path]
    argv += ["-H", f"Authorization: Bearer {key}"]
    if qps_per_worker:
        argv += ["-q", str(qps_per_worker)]
    before, children = cpu.snapshot(), resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    spent = cpu.spent(before, cpu.snapshot())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent["hey (load generator)"] = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    pct = {int(p): float(s) * 1000 for p, s in re.findall(r"(\d+)%+ in ([\d.]+) secs", out)}
    codes = {int(c): int(n) for c, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", out)}
    total = sum(codes.values()) or 1
    return {
        "requests_per_s": round(rps, 1),
        "p50_ms": round(pct.get(50, 0), 1),
        "p99_ms": round(pct.get(99, 0), 1),
        "status_codes": codes,
        "concurrency": concurrency,
        "cpu_ms_per_request": {role: round(s * 1000 / total, 2) for role, s in spent.items()},
    }


def measure(
    stack: BenchStack, key: str, seconds: int, fixed_rate: int, baseline: str | None = None, rounds: int = 5
) -> dict[str, Any]:
    if not shutil.which("hey"):
        raise RuntimeError("hey is not installed (apt-get install hey)")
    body = stack.run_dir / "job.json"
    body.write_text(json.dumps({"source": {"key": key}, "outputs": [{"name": "a", "format": "webp", "width": 200}]}))
    stack.worker.stop()
    url = f"http://{stack.api_bind}/v1/jobs"
    try:
        concurrency = 20
        fixed = hey(url, str(body), seconds, concurrency, fixed_rate / concurrency, stack.api_key)
        fixed["target_rate_per_s"] = fixed_rate
        _purge(stack)
        saturated = hey(url, str(body), seconds, 64, None, stack.api_key)
        _purge(stack)
        result = {"fixed_rate": fixed, "saturation": saturated}
        if baseline:
            result["side_by_side"] = side_by_side(stack, body, baseline, rounds, seconds)
    finally:
        _purge(stack)
        stack.worker = stack.new_worker()
        stack.worker.start()
    return result


def checkout(revision: str) -> tuple[str, Path]:
    """``revision``'s commit and a worktree of it (made once, under .cache/bench)."""
    sha = subprocess.run(
        ["git", "rev-parse", "--verify", f"{revision}^{{commit}}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    tree = ROOT / ".cache" / "bench" / f"baseline-{sha[:12]}"
    if not (tree / "app").is_dir():
        subprocess.run(["git", "worktree", "add", "--force", "--detach", str(tree), sha], cwd=ROOT, check=True)
    return sha, tree


def side_by_side(stack: BenchStack, body: Path, revision: str, rounds: int, seconds: int) -> dict[str, Any]:
    """This API and the one of ``revision``, in turns at saturation (64 connections), each on a port of its own."""
    sha, tree = checkout(revision)
    roots = {"baseline": tree, "current": ROOT}
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "current": []}
    for turn in range(rounds):
        for name in ("baseline", "current") if turn % 2 == 0 else ("current", "baseline"):
            bind = f"127.0.0.1:{free_port()}"
            api = Api(bind, stack.run_dir / f"api-{name}.log", stack.env, root=roots[name])
            api.start()
            try:
                runs[name].append(hey(f"http://{bind}/v1/jobs", str(body), seconds, 64, None, stack.api_key))
            finally:
                api.stop()
                _purge(stack)

    api_ms = {name: [r["cpu_ms_per_request"]["api"] for r in rs] for name, rs in runs.items()}
    requests_per_s = {name: [r["requests_per_s"] for r in rs] for name, rs in runs.items()}
    median_api_ms = {name: round(statistics.median(v), 2) for name, v in api_ms.items()}
    return {
        "baseline": sha[:12],
        "rounds": rounds,
        "seconds": seconds,
        "api_ms": api_ms,
        "requests_per_s": requests_per_s,
        "median_api_ms": median_api_ms,
        "median_requests_per_s": {name: round(statistics.median(v), 2) for name, v in requests_per_s.items()},
        "api_ms_ratio": round(median_api_ms["current"] / median_api_ms["baseline"], 3),
    }


def _purge(stack: BenchStack) -> None:
    """The chains the relay published meanwhile: the workers are stopped, nothing would take them."""
    from kombu import Connection

    with Connection(stack.settings.broker_url) as conn:
        conn.default_channel.queue_purge(stack.settings.queue)
