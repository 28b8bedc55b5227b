"""thumbor, the peer a user would pick, side by side with PixelFlow's whole pipeline on the same sources.

thumbor 7.8.0 as ``pip install thumbor`` gives it, in a virtualenv of its own (its stock Pillow, the file
loader, no storage, no result storage), two processes on ports of their own, as PixelFlow runs two workers.
A source is the standard job's four outputs (pipeline.OUTPUTS: 800 and 200 px wide, JPEG q85 and WebP q80),
one GET each, so thumbor decodes each source four times and keeps nothing; PixelFlow decodes it once per
job, stores every output in S3, records the job in PostgreSQL and goes through RabbitMQ. Turns alternate on
the same 2 MP JPEGs: a PixelFlow burst, then a thumbor burst, ``turns`` times; medians are reported.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from scripts.benchmark import corpus, cpu, pipeline
from scripts.benchmark.stack import BenchStack
from tests.support.stack import free_port, listening

VERSION = "7.8.0"
PROCESSES = 2
CLIENTS = 8  # concurrent sources in flight, as the pipeline's burst submits with 8 threads

CONF = """\
LOADER = 'thumbor.loaders.file_loader'
FILE_LOADER_ROOT_PATH = {root!r}
STORAGE = 'thumbor.storages.no_storage'
RESULT_STORAGE = None
ALLOW_UNSAFE_URL = True
AUTO_WEBP = False
QUALITY = 85
MAX_AGE = 0
"""


def install(cache: Path) -> Path:
    """thumbor's own virtualenv (made once, kept in the cache): its ``thumbor`` command."""
    venv = cache / f"thumbor-{VERSION}"
    command = venv / "bin" / "thumbor"
    if not command.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, f"thumbor=={VERSION}"], check=True)
    return command


def paths(source: Path) -> list[str]:
    """The four outputs of one source, as thumbor URLs (unsafe: no signing key, as a benchmark may)."""
    return [
        f"/unsafe/{o['width']}x0/filters:format({o['format']}):quality({o['quality']})/{source.name}"
        for o in pipeline.OUTPUTS
    ]


class Thumbor:
    def __init__(self, command: Path, root: Path, run: Path) -> None:
        run.mkdir(parents=True, exist_ok=True)
        conf = run / "thumbor.conf"
        conf.write_text(CONF.format(root=str(root)))
        self.ports = [free_port() for _ in range(PROCESSES)]
        self.processes = []
        for port in self.ports:
            with (run / f"thumbor-{port}.log").open("ab") as log:
                argv = [str(command), "-p", str(port), "-i", "127.0.0.1", "-c", str(conf), "-l", "warning"]
                self.processes.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 60
        while not all(listening("127.0.0.1", p) for p in self.ports):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                self.stop()
                raise RuntimeError(f"thumbor did not start: see {run}")
            time.sleep(0.2)

    def burst(self, sources: list[Path], count: int) -> dict[str, Any]:
        """``count`` sources, ``CLIENTS`` at a time, each source's four GETs to one process in turn."""
        clients = [httpx.Client(base_url=f"http://127.0.0.1:{p}", timeout=60) for p in self.ports]

        def render(i: int) -> int:
            client = clients[i % len(clients)]
            size = 0
            for path in paths(sources[i % len(sources)]):
                response = client.get(path)
                response.raise_for_status()
                size += len(response.content)
            return size

        before = cpu.snapshot()
        started = time.monotonic()
        try:
            with ThreadPoolExecutor(CLIENTS) as pool:
                sizes = list(pool.map(render, range(count)))
        finally:
            for client in clients:
                client.close()
        seconds = time.monotonic() - started
        spent = cpu.spent(before, cpu.snapshot())
        return {
            "sources": count,
            "seconds": round(seconds, 2),
            "sources_per_s": round(count / seconds, 2),
            "cpu_ms_per_source": round(spent.get("thumbor", 0.0) * 1000 / count, 1),
            "bytes_per_source": round(statistics.mean(sizes)),
        }

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def measure(
    stack: BenchStack, keys: list[str], sources: list[corpus.Source], cache: Path, count: int, turns: int
) -> dict[str, Any]:
    files = [s.path for s in sources]
    peer = Thumbor(install(cache), files[0].parent, cache / "run" / "thumbor")
    try:
        peer.burst(files, len(files) * 2)  # warm-up, as the pipeline's
        pipeline.burst(stack, keys, stack.workers * 2)
        rows = []
        for _ in range(turns):
            ours = pipeline.burst(stack, keys, count)
            theirs = peer.burst(files, count)
            rows.append({"pixelflow": ours, "thumbor": theirs})
    finally:
        peer.stop()
    jobs_per_s = round(statistics.median(r["pixelflow"]["jobs_per_s"] for r in rows), 2)
    sources_per_s = round(statistics.median(r["thumbor"]["sources_per_s"] for r in rows), 2)
    return {
        "thumbor": VERSION,
        "processes": PROCESSES,
        "workers": stack.workers,
        "turns": rows,
        "pixelflow_jobs_per_s": jobs_per_s,
        "thumbor_sources_per_s": sources_per_s,
        "ratio": round(jobs_per_s / sources_per_s, 2),
        "pixelflow_cpu_ms_per_job": statistics.median(sum(r["pixelflow"]["cpu_ms_per_job"].values()) for r in rows),
        "pixelflow_worker_cpu_ms_per_job": statistics.median(
            r["pixelflow"]["cpu_ms_per_job"].get("worker", 0.0) for r in rows
        ),
        "thumbor_cpu_ms_per_source": statistics.median(r["thumbor"]["cpu_ms_per_source"] for r in rows),
    }
