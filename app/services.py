"""What the API's views work with, built once per app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
from flask import current_app
from kombu.exceptions import OperationalError

from config import Settings
from core import broker, timeouts
from core.errors import BrokerUnavailable
from core.events import EventHub, Streams
from core.jobstore import JobStore
from core.objectstore import S3ObjectStore
from core.ports import ObjectStore
from core.spec import OutputSpec


@dataclass
class ApiServices:
    settings: Settings
    jobs: JobStore
    store: ObjectStore
    presets: dict[str, list[OutputSpec]]
    """The deployment's presets, checked and parsed at start-up."""
    streams: Streams
    """The event streams (core/events.py), on the process's one listener."""

    @classmethod
    def create(cls, settings: Settings, presets: dict[str, list[OutputSpec]]) -> ApiServices:
        jobs = JobStore.for_settings(
            settings, settings.db_pool_min, settings.db_pool_max, "pixelflow-api", timeout=settings.db_timeout
        )
        jobs.open()
        store = S3ObjectStore(settings)

        def listen() -> psycopg.Connection[Any]:
            return psycopg.connect(
                settings.database_url,
                autocommit=True,
                application_name="pixelflow-api-events",
                **timeouts.postgres(settings),
            )

        streams = Streams(
            jobs,
            store,
            EventHub(listen),
            timedelta(seconds=settings.result_url_ttl),
            settings.events_heartbeat,
            settings.events_max_seconds,
        )
        return cls(settings, jobs, store, presets, streams)

    def close(self) -> None:
        """At the worker's exit (config/gunicorn.py): the listener stops, the pool's connections close."""
        self.streams.hub.close()
        self.jobs.close()

    @property
    def result_url_ttl(self) -> timedelta:
        return timedelta(seconds=self.settings.result_url_ttl)

    def ping_broker(self) -> None:
        """Open an AMQP connection and close it (kombu alone: the Celery app is not needed here)."""
        try:
            with broker.connection(self.settings, connect_timeout=1) as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=1)
        except (OperationalError, OSError) as exc:
            raise BrokerUnavailable(f"the broker is unreachable: {exc}") from None


def services() -> ApiServices:
    return current_app.extensions["pixelflow"]  # type: ignore[no-any-return]
