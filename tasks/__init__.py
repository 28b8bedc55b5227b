"""The worker side: ``celery -A tasks worker``.

The Celery app is loaded when it is asked for (``tasks.app``, which ``celery -A tasks`` does), not when any
module of the package is imported: the imaging code and the steps load without Celery.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("app", "celery"):
        from tasks.celery_app import app

        return app
    raise AttributeError(f"module 'tasks' has no attribute {name!r}")
