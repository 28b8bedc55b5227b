"""Flower for PixelFlow: ``python -m tasks.flower [flower options]``.

The same as ``celery -A tasks flower``, except that Flower's ``/metrics``
asks for the login its pages ask for (FLOWER_BASIC_AUTH): Flower serves it
open, and it names every worker and task. ``/healthcheck`` stays open for
probes.
"""

from __future__ import annotations

import sys

from flower.views import monitor
from tornado import web


def protect_metrics() -> None:
    if not getattr(monitor.Metrics.get, "__wrapped__", None):
        monitor.Metrics.get = web.authenticated(monitor.Metrics.get)


def main(argv: list[str]) -> None:
    from celery.bin.celery import main as celery

    protect_metrics()
    sys.argv = ["celery", "-A", "tasks", "flower", *argv]
    celery()


if __name__ == "__main__":
    main(sys.argv[1:])
