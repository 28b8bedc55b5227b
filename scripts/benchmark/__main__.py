"""`make bench` (python -m scripts.benchmark [--long]): one run, every figure side by side.

1. corpus   photo-like JPEGs (12 MP, 2 MP) and PNGs with alpha (2 MP)
2. engine   the standard job on one core: stock Pillow, Pillow-SIMD, libvips, PixelFlow's transform
3. pipeline the corpus through the whole service, as many workers as cores; then, in turns on the 2 MP JPEGs,
            its steps run inline (a message a job) against a task per step (PIXELFLOW_WORKER_INLINE_STEPS=false)
   peer     thumbor 7.8 (its own virtualenv, 2 processes) on the 2 MP JPEGs, in turns with PixelFlow's burst
4. remote   one worker with its services 0, 2 and 20 ms away (a host of its own): jobs/s, round trips per job
5. api      job creation under load (hey), fixed rate and saturation
6. memory   worker RSS over many jobs; peak for one 50 MP source
7. credentials  storage without keys: minio's web-identity provider against botocore's, CPU per HEAD, STS calls
Writes .cache/bench/results/bench.json and bench.md and prints the markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scripts.benchmark import apiload, batches, corpus, credentials, memory, peer, pipeline, quality, remote, report
from scripts.benchmark.stack import BenchStack
from tests.support import netbed
from tests.support.stack import ROOT

CACHE = ROOT / ".cache" / "bench"
ENGINE = ROOT / "scripts" / "benchmark" / "engine.py"
# (label, interpreter, variant, Pillow build put first on the path): stock Pillow and Debian's libvips live in
# .venv-bench, a current libvips (the pyvips-binary wheel) in .venv-bench-vips, Pillow-SIMD in the project's
# virtualenv. The last two rows are PixelFlow's transform on the
# other engines its image runs: the SSE4.1 build (amd64 CPUs without AVX2) and stock Pillow (arm64), both
# installed by scripts/bench into .cache/bench.
VARIANTS = [
    ("Pillow", ROOT / ".venv-bench/bin/python", "pillow", None),
    ("Pillow + draft", ROOT / ".venv-bench/bin/python", "pillow+draft", None),
    ("Pillow-SIMD", Path(sys.executable), "pillow", None),
    ("Pillow-SIMD + draft", Path(sys.executable), "pillow+draft", None),
    ("libvips", ROOT / ".venv-bench/bin/python", "vips", None),
    ("libvips + shrink-on-load", ROOT / ".venv-bench/bin/python", "vips+shrink-on-load", None),
    ("libvips (pyvips-binary)", ROOT / ".venv-bench-vips/bin/python", "vips", None),
    ("libvips (pyvips-binary) + shrink-on-load", ROOT / ".venv-bench-vips/bin/python", "vips+shrink-on-load", None),
    ("PixelFlow transform (Pillow-SIMD)", Path(sys.executable), "pixelflow-transform", None),
    ("PixelFlow transform, SSE4.1 build (amd64 without AVX2)", Path(sys.executable), "pixelflow-transform", "sse4"),
    ("PixelFlow transform, stock Pillow (the arm64 image)", Path(sys.executable), "pixelflow-transform", "stock"),
]


def engine(groups: list[Path], passes: int) -> list[dict[str, Any]]:
    """Every variant in its own process on core 0, run in turn: pass 1 of each, then pass 2 of each (in the
    next order of a rotation), and so on, so that a slow spell of the machine costs every variant alike."""
    from scripts.benchmark.engine import summary

    servers = []
    for label, python, variant, build in VARIANTS:
        path = os.pathsep.join([str(CACHE / f"pillow-{build}"), str(ROOT)] if build else [str(ROOT)])
        env = {**os.environ, "PYTHONPATH": path, "VIPS_CONCURRENCY": "1", "OMP_NUM_THREADS": "1"}
        process = subprocess.Popen(
            ["taskset", "-c", "0", str(python), str(ENGINE), variant],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        servers.append((label, variant, process))
    times: dict[tuple[str, Path], list[float]] = {}
    engines: dict[str, str] = {}
    try:
        for n in range(passes):
            turn = servers[n % len(servers) :] + servers[: n % len(servers)]
            for group in groups:
                for label, _, process in turn:
                    assert process.stdin is not None and process.stdout is not None
                    process.stdin.write(f"{group}\n")
                    process.stdin.flush()
                    reply = process.stdout.readline()
                    if not reply:
                        raise RuntimeError(f"engine variant {label} failed")
                    answer = json.loads(reply)
                    times.setdefault((label, group), []).append(answer["ms"])
                    engines[label] = answer["engine"]
            print(f"engine: pass {n + 1} of {passes} done", file=sys.stderr, flush=True)
    finally:
        for _, _, process in servers:
            if process.stdin is not None:
                process.stdin.close()
            process.wait(30)
    return [
        {
            "label": label,
            **summary(variant, engines[label], group.name, len(list(group.iterdir())), times[(label, group)]),
        }
        for label, variant, _ in servers
        for group in groups
    ]


def engine_all_cores(groups: list[Path], passes: int) -> dict[str, dict[str, float]]:
    """Pillow-SIMD + draft on every core at once, one process per core: the capacity the pipeline has."""
    from scripts.benchmark.engine import summary

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cores = os.cpu_count() or 1
    feed = "".join(f"{group}\n" for _ in range(passes) for group in groups)
    processes = [
        subprocess.Popen(
            ["taskset", "-c", str(core), sys.executable, str(ENGINE), "pillow+draft"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for core in range(cores)
    ]
    per_group: dict[str, list[dict[str, Any]]] = {}
    for process in processes:  # every core at once: the feed is a few lines, well within a pipe's buffer
        assert process.stdin is not None
        process.stdin.write(feed)
        process.stdin.close()
    outputs = [process.stdout.read() if process.stdout else "" for process in processes]
    for process in processes:
        process.wait()
    for process, out in zip(processes, outputs, strict=True):
        if process.returncode:
            raise RuntimeError("an engine process failed")
        answers = [json.loads(line)["ms"] for line in out.splitlines()]
        for i, group in enumerate(groups):
            row = summary("pillow+draft", "", group.name, 0, answers[i :: len(groups)])
            per_group.setdefault(group.name, []).append(row)
    return {
        group: {
            "cores": len(rows),
            "images_per_s": round(sum(r["images_per_s_per_core"] for r in rows), 2),
            "ms_median": round(max(r["ms_median"] for r in rows), 2),
        }
        for group, rows in per_group.items()
    }


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--long", action="store_true", help="more passes and jobs; 5,000 jobs for the memory run")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["engine", "quality", "pipeline", "peer", "batches", "remote", "api", "memory", "credentials"],
    )
    parser.add_argument(
        "--remote-layout",
        action="append",
        choices=sorted(remote.LAYOUTS),
        help="the worker host's processes in the remote section (split: worker-io + worker-transform, the default;"
        " single: one worker for every step); repeat for both",
    )
    parser.add_argument(
        "--api-baseline",
        metavar="REVISION",
        help="also run the API of this git revision in turns with this one at saturation (job creation's ratio)",
    )
    parser.add_argument(
        "--worker-baseline",
        metavar="REVISION",
        help="also run the worker of this git revision in turns with this one on 2 MP bursts (pipeline section)",
    )
    args = parser.parse_args()
    started = time.monotonic()
    sources = corpus.build(CACHE)
    groups = sorted({s.path.parent for s in sources})
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "long": args.long,
        "corpus": report.describe_corpus(sources),
    }
    if "engine" not in args.skip:
        results["engine"] = engine(groups, passes=9 if args.long else 5)
        results["engine_all_cores"] = engine_all_cores(groups, passes=9 if args.long else 5)
    if "quality" not in args.skip:
        results["quality"] = quality.measure(sources)
        print("quality: done", file=sys.stderr, flush=True)
    stack = BenchStack(CACHE / "run")
    stack.start()
    try:
        keys = pipeline.upload(stack, sources)
        if "pipeline" not in args.skip:
            counts = {"jpeg-12mp": 40, "jpeg-2mp": 80, "png-2mp-alpha": 30}
            if args.long:
                counts = {g: n * 4 for g, n in counts.items()}
            results["pipeline"] = pipeline.measure(stack, keys, counts)
            results["inline_steps"] = pipeline.inline_steps(
                stack, keys["jpeg-2mp"], count=160 if args.long else 80, turns=3 if args.long else 2
            )
            if args.worker_baseline:
                results["worker_side_by_side"] = pipeline.worker_side_by_side(
                    stack, keys["jpeg-2mp"], count=160 if args.long else 80, revision=args.worker_baseline, turns=4
                )
            print("pipeline: done", file=sys.stderr, flush=True)
        if "peer" not in args.skip:
            results["peer"] = peer.measure(
                stack,
                keys["jpeg-2mp"],
                [s for s in sources if s.group == "jpeg-2mp"],
                CACHE,
                count=160 if args.long else 80,
                turns=3 if args.long else 2,
            )
            print("peer: done", file=sys.stderr, flush=True)
        if "batches" not in args.skip:
            results["batches"] = batches.measure(
                stack,
                keys["jpeg-2mp"],
                count=200 if args.long else 80,
                rounds=4 if args.long else 2,
                accept_items=10_000,
            )
            print("batches: done", file=sys.stderr, flush=True)
        if "remote" not in args.skip:
            if netbed.available():
                results["remote"] = [
                    row
                    for layout in args.remote_layout or ["split"]
                    for row in remote.measure(stack, keys, count=400 if args.long else 160, layout=layout)
                ]
            else:
                results["remote"] = {"skipped": "needs root, iproute2 and tc (network namespaces)"}
            print("remote: done", file=sys.stderr, flush=True)
        if "api" not in args.skip:
            results["api"] = apiload.measure(
                stack,
                keys["jpeg-2mp"][0],
                seconds=30 if args.long else 10,
                fixed_rate=500,
                baseline=args.api_baseline,
                rounds=7 if args.long else 5,
            )
            print("api: done", file=sys.stderr, flush=True)
        if "memory" not in args.skip:
            total = 5000 if args.long else 600
            results["memory"] = {
                "rss": memory.rss_over_jobs(stack, keys, total, batch=100),
                "peak_50mp": memory.peak_50mp(CACHE),
            }
            print("memory: done", file=sys.stderr, flush=True)
    finally:
        stack.stop()
    if "credentials" not in args.skip:
        results["credentials"] = credentials.measure()
        print("credentials: done", file=sys.stderr, flush=True)
    results["seconds"] = round(time.monotonic() - started)
    out_dir = CACHE / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.json").write_text(json.dumps(results, indent=2, default=str))
    markdown = report.markdown(results)
    (out_dir / "bench.md").write_text(markdown)
    print(markdown)


if __name__ == "__main__":
    main()
