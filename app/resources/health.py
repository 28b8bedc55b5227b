"""Liveness and readiness.

``/healthz`` touches no dependency: it answers while the process serves.
``/readyz`` decides on PostgreSQL alone, since without it no request can be
served. RabbitMQ and storage are reported but do not take the pod out of
its Service: a job accepted while the broker is down waits in the outbox,
and an outage of either one would otherwise empty every API pod at once.
Every check is bounded at ``PROBE_TIMEOUT``: probes run in threads, and a
probe still hanging from an earlier call is joined rather than started
again, so a silent peer costs neither a slow answer nor a pile of threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.schemas import HealthSchema
from app.services import services
from core.errors import PixelFlowError

blp = Blueprint("health", __name__, description="Liveness and readiness")

PROBE_TIMEOUT = 1.0
DECIDES = "database"


class Probes:
    """Runs named checks in threads of their own, each bounded by one deadline per call."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=3, thread_name_prefix="readyz")
        self._running: dict[str, Future[None]] = {}
        self._lock = threading.Lock()

    def run(self, probes: dict[str, Callable[[], None]], timeout: float) -> dict[str, str]:
        with self._lock:
            for name, probe in probes.items():
                running = self._running.get(name)
                if running is None or running.done():
                    self._running[name] = self._executor.submit(probe)
            futures = {name: self._running[name] for name in probes}
        deadline = time.monotonic() + timeout
        checks = {}
        for name, future in futures.items():
            try:
                future.result(max(0.0, deadline - time.monotonic()))
                checks[name] = "ok"
            except FutureTimeout:
                checks[name] = f"timeout: no answer within {timeout:g} s"
            except PixelFlowError as exc:
                checks[name] = f"{exc.code}: {exc.message}"
        return checks


_probes = Probes()


@blp.route("/healthz")
class Health(MethodView):
    @blp.doc(security=[])  # open: probes carry no key
    @blp.response(200, HealthSchema())
    def get(self) -> dict[str, Any]:
        """The process is alive"""
        return {"status": "ok"}


@blp.route("/readyz")
class Ready(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthSchema())
    @blp.alt_response(503, schema=HealthSchema, description="PostgreSQL is unreachable")
    def get(self) -> Any:
        """PostgreSQL answers (RabbitMQ and storage are reported, each check bounded at 1 s)"""
        svc = services()
        checks = _probes.run(
            {"database": svc.jobs.ping, "broker": svc.ping_broker, "storage": svc.store.ping}, PROBE_TIMEOUT
        )
        if checks[DECIDES] != "ok":
            return {"status": "unavailable", "checks": checks}, 503
        return {"status": "ok" if all(v == "ok" for v in checks.values()) else "degraded", "checks": checks}, 200
