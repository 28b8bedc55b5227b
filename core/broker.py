"""A kombu connection to RabbitMQ with the bounds of core/timeouts.py, for the processes that talk to the
broker without the Celery app (the API's readiness probe, the relay). Its own module: the job store and the
steps, which use core.timeouts for PostgreSQL, load no broker client."""

from __future__ import annotations

from kombu import Connection

from config import Settings
from core.timeouts import amqp


def connection(settings: Settings, connect_timeout: float | None = None) -> Connection:
    """Not yet connected."""
    options = amqp(settings)
    if connect_timeout is not None:
        options["connect_timeout"] = connect_timeout
    return Connection(settings.broker_url, transport_options=options)
