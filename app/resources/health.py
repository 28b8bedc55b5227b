"""Liveness and readiness."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.schemas import HealthSchema
from app.services import services
from core.errors import PixelFlowError

blp = Blueprint("health", __name__, description="Liveness and readiness")


@blp.route("/healthz")
class Health(MethodView):
    @blp.doc(security=[])  # open: probes carry no key
    @blp.response(200, HealthSchema)
    def get(self) -> dict[str, Any]:
        """The process is alive"""
        return {"status": "ok"}


@blp.route("/readyz")
class Ready(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="a dependency is unreachable")
    def get(self) -> Any:
        """PostgreSQL, RabbitMQ and storage are reachable"""
        svc = services()
        probes: dict[str, Callable[[], None]] = {
            "database": svc.jobs.ping,
            "broker": svc.ping_broker,
            "storage": svc.store.ping,
        }
        checks = {}
        for name, probe in probes.items():
            try:
                probe()
                checks[name] = "ok"
            except PixelFlowError as exc:
                checks[name] = f"{exc.code}: {exc.message}"
        ready = all(v == "ok" for v in checks.values())
        return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503
