"""Batches: what accepting one costs, a batch's throughput beside single jobs', and another tenant's latency.

- accept: POST /v1/batches with 10,000 items, timed by the client over
  localhost (then canceled, in one statement: nothing runs);
- throughput: a batch of N items and a burst of N single jobs (8 client
  threads), in turns, each jobs / (last finish − first creation); the ratio
  is batch ÷ single;
- fairness: a second tenant's single jobs at a fixed rate, first with
  nothing else running (idle), then while the first tenant's batch runs;
  their latency (finished_at − created_at, as PostgreSQL recorded them).
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

from core.keystore import KeyStore
from scripts.benchmark import pipeline
from scripts.benchmark.stack import BenchStack
from tests.support.stack import Relay

OTHER = "bench-other"


def accept(stack: BenchStack, key: str, items: int) -> dict[str, Any]:
    body = {"items": [{"source": {"key": key}}] * items, "outputs": pipeline.OUTPUTS}
    started = time.perf_counter()
    response = stack.http.post("/v1/batches", json=body, timeout=120)
    seconds = time.perf_counter() - started
    if response.status_code != 202:
        raise RuntimeError(f"batch refused: {response.status_code} {response.text[:300]}")
    batch_id = response.json()["id"]
    stack.http.post(f"/v1/batches/{batch_id}/cancel")
    return {"items": items, "seconds": round(seconds, 3), "request_bytes": len(response.request.content)}


def rows_of(stack: BenchStack, batch_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(stack.settings.database_url) as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT status, created_at, finished_at FROM jobs WHERE batch_id = %s", (uuid.UUID(batch_id),))
        return cur.fetchall()


def run_batch(stack: BenchStack, keys: list[str], count: int, timeout: float) -> dict[str, Any]:
    body = {"items": [{"source": {"key": keys[i % len(keys)]}} for i in range(count)], "outputs": pipeline.OUTPUTS}
    response = stack.http.post("/v1/batches", json=body)
    if response.status_code != 202:
        raise RuntimeError(f"batch refused: {response.status_code} {response.text[:300]}")
    batch_id = response.json()["id"]
    deadline = time.monotonic() + timeout
    while True:
        batch = stack.http.get(f"/v1/batches/{batch_id}?limit=1").json()
        if batch["finished_at"]:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"batch {batch_id}: {batch['counts']} after {timeout}s")
        time.sleep(0.2)
    rows = rows_of(stack, batch_id)
    span = (max(r["finished_at"] for r in rows) - min(r["created_at"] for r in rows)).total_seconds()
    return {
        "jobs": count,
        "failed": sum(r["status"] != "succeeded" for r in rows),
        "seconds": round(span, 2),
        "jobs_per_s": round(count / span, 2),
        "manifest": bool(batch["manifest_url"]),
    }


def competing(stack: BenchStack, api_key: str, keys: list[str], count: int, rate: float) -> dict[str, Any]:
    """The other tenant's jobs at ``rate``: their latencies."""
    ids = []
    start = time.monotonic()
    for i in range(count):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        response = stack.http.post(
            "/v1/jobs",
            json={"source": {"key": keys[i % len(keys)]}, "outputs": pipeline.OUTPUTS},
            headers={"Authorization": f"Bearer {api_key}"},
        )
        if response.status_code != 202:
            raise RuntimeError(f"job refused: {response.status_code} {response.text[:300]}")
        ids.append(response.json()["id"])
    rows = stack.wait(ids, timeout=60 + count * 2)
    lat = pipeline.latencies(rows)
    # Until a worker started it (the relay, the queue ahead of it), the rest its run.
    waited = [(r["started_at"] - r["created_at"]).total_seconds() * 1000 for r in rows if r["started_at"]]
    return {
        "jobs": count,
        "rate_per_s": rate,
        "latency_p50_ms": round(statistics.median(lat)),
        "latency_p99_ms": round(pipeline.percentile(lat, 99)),
        "waited_p50_ms": round(statistics.median(waited)) if waited else None,
        "waited_p99_ms": round(pipeline.percentile(waited, 99)) if waited else None,
    }


def measure(stack: BenchStack, keys: list[str], count: int, rounds: int, accept_items: int) -> dict[str, Any]:
    other_key = KeyStore(stack.jobs).create(OTHER, "bench")[1]
    other_keys = []
    for i, key in enumerate(keys):
        theirs = f"uploads/{OTHER}/{i}.jpg"
        stack.store.copy(key, theirs)
        other_keys.append(theirs)
    accepts = [accept(stack, keys[0], accept_items) for _ in range(3)]
    turns = []
    pipeline.burst(stack, keys, stack.workers * 2)  # warm-up
    for _ in range(rounds):
        single = pipeline.burst(stack, keys, count)
        batch = run_batch(stack, keys, count, timeout=60 + count * 2)
        turns.append({"single": single, "batch": batch, "ratio": round(batch["jobs_per_s"] / single["jobs_per_s"], 3)})
    single_rate = statistics.median(t["single"]["jobs_per_s"] for t in turns)
    fair: dict[str, list[dict[str, Any]]] = {name: [] for name in BOUNDS}
    for name in (*BOUNDS, *reversed(BOUNDS)):  # in turns: A B B A
        with relay_with(stack, BOUNDS[name]):
            fair[name].append(fairness(stack, keys, count, single_rate, other_key, other_keys))
    return {
        "accept": accepts,
        "accept_seconds_median": statistics.median(a["seconds"] for a in accepts),
        "turns": turns,
        "ratio_median": statistics.median(t["ratio"] for t in turns),
        "fairness": fair[DEFAULT][0],
        "fairness_by_bound": fair,
    }


# The relay's bound while tenants share the workers (PIXELFLOW_RELAY_READY_PER_CONSUMER_SHARED), side by side:
# the default, and the bound alone (as before there was a shared one).
DEFAULT = "1 ready per consumer while shared (default)"
BOUNDS = {DEFAULT: {}, "2, as alone": {"PIXELFLOW_RELAY_READY_PER_CONSUMER_SHARED": "2"}}


@contextmanager
def relay_with(stack: BenchStack, env: dict[str, str]) -> Iterator[None]:
    """The stack's relay restarted with ``env`` for the block (then as it was)."""
    if env:
        stack.relay.stop()
        stack.relay = Relay(stack.run_dir / "relay.log", {**stack.env, **env})
        stack.relay.start()
    try:
        yield
    finally:
        if env:
            stack.relay.stop()
            stack.relay = Relay(stack.run_dir / "relay.log", stack.env)
            stack.relay.start()


def fairness(
    stack: BenchStack, keys: list[str], count: int, single_rate: float, other_key: str, other_keys: list[str]
) -> dict[str, Any]:
    """The other tenant's jobs at 1/s, with nothing else running, then while the first tenant's batch runs."""
    idle = competing(stack, other_key, other_keys, 20, 1.0)
    result: dict[str, Any] = {}

    def big() -> None:
        result["batch"] = run_batch(stack, keys, count * 4, timeout=120 + count * 8)

    runner = threading.Thread(target=big)
    runner.start()
    time.sleep(1.0)  # the batch's chains are out
    # The batch is 4x the burst, so it runs for the whole of it.
    during = competing(stack, other_key, other_keys, max(10, round(count * 4 / single_rate * 0.7)), 1.0)
    runner.join()
    return {
        "idle": idle,
        "during_batch": during,
        "batch": result.get("batch"),
        "p99_ratio": round(during["latency_p99_ms"] / max(idle["latency_p99_ms"], 1), 2),
    }
