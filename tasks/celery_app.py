"""The Celery app. Its configuration is read on first use, not at import."""

from celery import Celery

app = Celery("pixelflow", include=["tasks.pipeline"])
app.config_from_object("tasks.celeryconfig")
