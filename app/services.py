"""What the API's views work with, built once per app."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from kombu.exceptions import OperationalError

from config import Settings
from core.errors import BrokerUnavailable
from core.jobstore import JobStore
from core.objectstore import ObjectStore, S3ObjectStore


@dataclass
class ApiServices:
    settings: Settings
    jobs: JobStore
    store: ObjectStore

    @classmethod
    def create(cls, settings: Settings) -> ApiServices:
        jobs = JobStore(settings.database_url, settings.db_pool_min, settings.db_pool_max, name="pixelflow-api")
        jobs.open()
        store = S3ObjectStore(settings)
        return cls(settings, jobs, store)

    @property
    def result_url_ttl(self) -> timedelta:
        return timedelta(seconds=self.settings.result_url_ttl)

    def publish(self, job_id: uuid.UUID) -> None:
        """Send the job's chain to RabbitMQ, with publisher confirms."""
        from tasks.pipeline import job_chain

        try:
            job_chain(job_id).apply_async(
                retry=True, retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5}
            )
        except (OperationalError, OSError) as exc:
            raise BrokerUnavailable(f"the broker did not take the job: {exc}") from None

    def ping_broker(self) -> None:
        from tasks import app as celery

        try:
            with celery.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=3)
        except (OperationalError, OSError) as exc:
            raise BrokerUnavailable(f"the broker is unreachable: {exc}") from None


def services() -> ApiServices:
    return current_app.extensions["pixelflow"]  # type: ignore[no-any-return]
