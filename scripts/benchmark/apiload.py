"""Job creation under load, from a separate process (hey) on loopback.

The workers are stopped meanwhile, so that only the API path is measured:
the key (kept by the process after its first lookup), the tenant's rate
limit (two Redis round trips), the body, the INSERT of the job and its
outbox row; the relay publishes each chain to RabbitMQ with a publisher
confirm. The queued jobs are purged after.
"""

from __future__ import annotations

import json
import re
import resource
import shutil
import subprocess
from typing import Any

from scripts.benchmark import cpu
from scripts.benchmark.stack import BenchStack


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


def measure(stack: BenchStack, key: str, seconds: int, fixed_rate: int) -> dict[str, Any]:
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
        saturated = hey(url, str(body), seconds, 64, None, stack.api_key)
    finally:
        from kombu import Connection

        with Connection(stack.settings.broker_url) as conn:
            conn.default_channel.queue_purge(stack.settings.queue)
        stack.worker = stack.new_worker()
        stack.worker.start()
    return {"fixed_rate": fixed, "saturation": saturated}
