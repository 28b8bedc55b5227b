"""Worker memory: RSS over many jobs of mixed sizes, and the peak for one 50 MP source.

The RSS run turns child recycling off (max tasks and max memory per child
set out of reach), so that a leak would show rather than be recycled away.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from scripts.benchmark.corpus import mosaic, photos
from scripts.benchmark.pipeline import OUTPUTS
from scripts.benchmark.stack import BenchStack
from tests.support.stack import ROOT


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def worker_rss(stack: BenchStack) -> dict[str, int]:
    # The worker's process group: the celery main process and its pool children.
    children = stack.worker.children()
    return {
        "main_kb": rss_kb(stack.worker.pid),
        "children_kb": sum(rss_kb(c) for c in children),
        "children": len(children),
    }


def rss_over_jobs(stack: BenchStack, keys: dict[str, list[str]], total: int, batch: int) -> dict[str, Any]:
    stack.worker.stop()
    stack.worker = stack.new_worker(
        {"PIXELFLOW_WORKER_MAX_TASKS_PER_CHILD": "100000000", "PIXELFLOW_WORKER_MAX_MEMORY_PER_CHILD_KB": "100000000"}
    )
    stack.worker.start()
    rng = random.Random(7)
    mix = ["jpeg-2mp"] * 7 + ["jpeg-12mp"] * 2 + ["png-2mp-alpha"]
    samples = []
    done = 0
    while done < total:
        ids = []
        for _ in range(batch):
            group = rng.choice(mix)
            ids.append(stack.submit({"source": {"key": rng.choice(keys[group])}, "outputs": OUTPUTS}))
        rows = stack.wait(ids, timeout=600)
        done += batch
        failed = sum(r["status"] != "succeeded" for r in rows)
        samples.append({"jobs": done, "failed": failed, **worker_rss(stack)})
    mark = next(s for s in samples if s["jobs"] >= min(500, total // 10 or batch))
    total_kb = [s["main_kb"] + s["children_kb"] for s in samples]
    return {
        "jobs": total,
        "failed": sum(s["failed"] for s in samples),
        "rss_first_kb": total_kb[0],
        "rss_at_mark_kb": mark["main_kb"] + mark["children_kb"],
        "mark_jobs": mark["jobs"],
        "rss_peak_kb": max(total_kb),
        "rss_end_kb": total_kb[-1],
        "end_over_mark": round(total_kb[-1] / (mark["main_kb"] + mark["children_kb"]), 3),
        "samples": samples,
    }


# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child would
# report its parent's high-water mark.
_PEAK = """
import json, sys
from core.spec import OutputSpec
from tasks.imaging.probe import probe
from tasks.imaging.render import render

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

data = open(sys.argv[1], "rb").read()
before = hwm()
specs = [OutputSpec(f"{f}{w}", f, width=w) for w in (800, 200) for f in ("jpeg", "webp")]
render(data, probe(data, 50_000_000), specs)
print(json.dumps({"before_kb": before, "peak_kb": hwm()}))
"""


def peak_50mp(cache: Path) -> list[dict[str, Any]]:
    """The peak RSS of one process transforming one 50 MP source (JPEG, and PNG with alpha)."""
    width, height = 8660, 5773  # 49.99 MP: just under the default limit
    results = []
    for fmt in ("JPEG", "PNG"):
        path = cache / f"50mp.{fmt.lower()}"
        if not path.exists():
            image = mosaic(width, height, photos(cache), random.Random(50))
            buffer = io.BytesIO()
            if fmt == "PNG":
                image.putalpha(image.convert("L"))
                image.save(buffer, "PNG", compress_level=1)
            else:
                image.save(buffer, "JPEG", quality=90)
            del image
            path.write_bytes(buffer.getvalue())
        out = subprocess.run(
            [sys.executable, "-c", _PEAK, str(path)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        ).stdout
        results.append(
            {"format": fmt.lower(), "pixels": width * height, "bytes": path.stat().st_size, **json.loads(out)}
        )
    return results
