"""The worker side: ``celery -A tasks worker``."""

from tasks.celery_app import app

__all__ = ["app"]
