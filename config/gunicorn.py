"""gunicorn settings: ``gunicorn -c config/gunicorn.py 'app:create_app()'``.

gunicorn reads its own GUNICORN_CMD_ARGS and flags; these are defaults.
"""

import multiprocessing
import os
import shutil
import tempfile
from typing import Any

bind = "127.0.0.1:8080"
workers = max(2, multiprocessing.cpu_count())
# gevent: each request is a greenlet, so an open event stream (GET …/events, held for minutes) costs a few KiB,
# not one of a few threads, and cannot hold up ordinary requests. gunicorn patches the standard library in each
# worker before it loads the app; psycopg (3.1.14+), redis-py, botocore and the OpenTelemetry exporter all
# cooperate with it.
worker_class = "gevent"
worker_connections = 1000
timeout = 30
graceful_timeout = 20
accesslog = "-"
errorlog = "-"
# Each worker builds its own pools after the fork.
preload_app = False
# gunicorn's control socket (for gunicornc) defaults to $HOME/.gunicorn: on a
# read-only root it fails at every start, and two servers on one host would
# share it. PixelFlow does not use it.
control_socket_disable = True

# Prometheus: each worker counts in files here; /metrics on any worker sums them all.
# A fresh directory per server start, unless the operator names one (emptied by them).
_own_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _own_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="pixelflow-metrics-")


def worker_exit(server: Any, worker: Any) -> None:
    # In the worker, as it exits: its pool closed now, while gevent's hub still runs (left to the interpreter's
    # exit, psycopg_pool's finalizer waits on greenlets that are already gone).
    app = getattr(worker, "wsgi", None)
    services = getattr(app, "extensions", {}).get("pixelflow")
    if services is not None:
        services.close()


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:
    if _own_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
