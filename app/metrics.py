"""Prometheus metrics of the API at ``/metrics``, open like the health probes.

Under gunicorn every worker process counts in files under
PROMETHEUS_MULTIPROC_DIR (config/gunicorn.py makes one) and a scrape of any
worker sums them all; in a single process the default registry is used.
Requests are labelled by route (``/v1/jobs/<uuid:job_id>``), never by the
raw path, so ids do not become label values.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "pixelflow_http_requests_total", "HTTP requests answered, by route and status", ["method", "route", "status"]
)
LATENCY = Histogram(
    "pixelflow_http_request_duration_seconds",
    "Time to answer an HTTP request, by route",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
# A job's run begins when it is accepted (how="new"; replays of an Idempotency-Key not counted) or run again
# (how="retry"), and ends once: succeeded or failed (the workers' pixelflow_worker_jobs_finished_total, or the
# relay's pixelflow_relay_jobs_finished_total for worker_lost and stuck) or canceled (here). So accepted = finished
# + canceled + those still running: the dashboard's panel balances.
JOBS_ACCEPTED = Counter("pixelflow_jobs_accepted_total", "Job runs begun: new jobs and retried ones", ["how"])
JOBS_CANCELED = Counter("pixelflow_jobs_canceled_total", "Jobs canceled through the API")


def init_metrics(app: Flask) -> None:
    """Count every request (before auth, so 401s and 429s count too) and serve /metrics."""

    @app.before_request
    def start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def count(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        if route != "/metrics":
            REQUESTS.labels(request.method, route, str(response.status_code)).inc()
            started = g.get("metrics_started")
            if started is not None:
                LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        registry = REGISTRY
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
