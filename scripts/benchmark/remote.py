"""Remote services: a worker host of its own, its services a set round-trip time away.

The worker host's processes (LAYOUTS: worker-io + worker-transform by
default, each started through the image's entrypoint with its defaults) run
in a network namespace (tests/support/netbed.py) and reach
PostgreSQL, RabbitMQ and the S3 server through forwarders in the bed's hub
that hold every chunk half the round-trip time each way (this kernel has no
netem). The API, the relay and the services stay on this machine: only the
worker's round trips are stretched, as for a worker pod whose database,
broker and storage are in another zone. For each RTT, twice (in the order 0, 2, 20, 20, 2, 0 ms, so that a drift
of this shared machine weighs on every RTT alike): a warm-up burst, then a
measured burst of the 2 MP standard job (4 outputs); jobs/s and its ratio
to 0 ms, and the round trips per job the worker made to each service
(turns: runs of bytes the worker sent after an answer; pipelined requests
share one). At 0 ms the worker goes through the same forwarders, so the
ratios compare like with like.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from scripts.benchmark.pipeline import burst
from scripts.benchmark.stack import BenchStack
from tests.support import netbed
from tests.support.forwarder import Forwarder
from tests.support.stack import Worker

RTTS_MS = (0, 2, 20)
# The worker host's processes, each started as the image starts that role, with its default settings.
LAYOUTS = {"split": ("worker-io", "worker-transform"), "single": ("worker",)}
GROUP = "jpeg-2mp"


def _hostport(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host, int(port)


def measure(stack: BenchStack, keys: dict[str, list[str]], count: int, layout: str = "split") -> list[dict[str, Any]]:
    settings = stack.settings
    pg = conninfo_to_dict(settings.database_url)
    broker = urlsplit(settings.broker_url)
    targets = {
        "postgresql": (str(pg.get("host", "127.0.0.1")), int(str(pg.get("port", 5432)))),
        "rabbitmq": (broker.hostname or "127.0.0.1", broker.port or 5672),
        "s3": _hostport(settings.s3_endpoint),
    }
    bed = netbed.Bed(secrets.token_hex(2), 100 + secrets.randbelow(150))
    stack.worker.stop()  # the local worker would take the jobs
    try:
        host = bed.host("worker")
        links: dict[str, Forwarder] = {name: bed.expose(target) for name, target in targets.items()}

        def via(name: str) -> str:
            return f"{bed.hub_ip}:{links[name].port}"

        userinfo = broker.netloc.rpartition("@")[0] + "@" if "@" in broker.netloc else ""

        env = {
            **stack.env,
            "PIXELFLOW_DATABASE_URL": make_conninfo(
                settings.database_url, host=bed.hub_ip, port=str(links["postgresql"].port)
            ),
            "PIXELFLOW_BROKER_URL": urlunsplit(broker._replace(netloc=f"{userinfo}{via('rabbitmq')}")),
            "PIXELFLOW_S3_ENDPOINT": via("s3"),
            "PIXELFLOW_WORKER_METRICS_PORT": "0",
        }
        passes: dict[int, list[dict[str, Any]]] = {rtt: [] for rtt in RTTS_MS}
        for rtt in (*RTTS_MS, *reversed(RTTS_MS)):  # 0, 2, 20, 20, 2, 0: a drift of the machine cancels out
            for link in links.values():
                link.delay = rtt / 2000
            workers = [
                Worker.role(role, f"bench-{role}", stack.run_dir / f"{role}-remote-{rtt}ms.log", env)
                for role in LAYOUTS[layout]
            ]
            for worker in workers:
                host.spawn(worker)
            try:
                burst(stack, keys[GROUP], 8)  # warm-up: children, pools, connections
                before = {name: link.turns for name, link in links.items()}
                measured = burst(stack, keys[GROUP], count)
                measured["turns_per_job"] = {name: (link.turns - before[name]) / count for name, link in links.items()}
            finally:
                for worker in workers:
                    worker.stop()
                    host.processes.remove(worker)
            passes[rtt].append(measured)
        return [{"rtt_ms": rtt, "layout": layout, **combined(runs)} for rtt, runs in passes.items()]
    finally:
        bed.close()
        stack.worker = stack.new_worker()
        stack.worker.start()


def combined(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The passes at one RTT as one row: jobs/s over all their jobs, means of the rest, each pass's jobs/s."""
    jobs, seconds = sum(r["jobs"] for r in runs), sum(r["seconds"] for r in runs)

    def mean(values: list[float]) -> float:
        return round(sum(values) / len(values), 1)

    return {
        "jobs": jobs,
        "failed": sum(r["failed"] for r in runs),
        "seconds": round(seconds, 2),
        "jobs_per_s": round(jobs / seconds, 2),
        "passes_jobs_per_s": [r["jobs_per_s"] for r in runs],
        "latency_p50_ms": round(mean([r["latency_p50_ms"] for r in runs])),
        "cpu_ms_per_job": {k: mean([r["cpu_ms_per_job"].get(k, 0.0) for r in runs]) for k in runs[0]["cpu_ms_per_job"]},
        "turns_per_job": {k: mean([r["turns_per_job"][k] for r in runs]) for k in runs[0]["turns_per_job"]},
    }
