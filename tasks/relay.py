"""The outbox relay: ``python -m tasks.relay``.

Publishes the chain of every job the API committed, with publisher confirms,
then marks its outbox row sent. It wakes on PostgreSQL NOTIFY (sent in the
job's transaction) and polls every second as well, so a lost notification
or a broker outage only delays jobs. Several relays may run at once.
"""

from __future__ import annotations

import logging
import signal
import time
import uuid

import psycopg
from kombu.exceptions import OperationalError

from config import Settings, get_settings
from core.errors import DatabaseUnavailable
from core.jobstore import OUTBOX_CHANNEL, JobStore
from tasks.pipeline import job_chain

log = logging.getLogger("pixelflow.relay")
POLL_SECONDS = 1.0


def publish(job_id: uuid.UUID) -> None:
    job_chain(job_id).apply_async(
        retry=True, retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5}
    )


class Relay:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.jobs = JobStore(settings.database_url, 1, 1, name="pixelflow-relay")
        self.running = True

    def stop(self, *_: object) -> None:
        self.running = False

    def drain(self) -> int:
        sent = 0
        while self.running:
            n = self.jobs.relay(publish)
            sent += n
            if n == 0:
                return sent
        return sent

    def run(self) -> None:
        self.jobs.open()
        backoff = 0.5
        listener: psycopg.Connection[tuple[object, ...]] | None = None
        try:
            while self.running:
                try:
                    if listener is None or listener.closed:
                        listener = psycopg.connect(
                            self.settings.database_url, autocommit=True, application_name="pixelflow-relay-listen"
                        )
                        listener.execute(f"LISTEN {OUTBOX_CHANNEL}")
                    sent = self.drain()
                    if sent:
                        log.info("published %d jobs", sent)
                    for _ in listener.notifies(timeout=POLL_SECONDS, stop_after=1):
                        pass
                    backoff = 0.5
                except (OperationalError, OSError, DatabaseUnavailable, psycopg.OperationalError) as exc:
                    log.warning("relay paused %.1fs: %s", backoff, exc)
                    if listener is not None:
                        listener.close()
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 10)
        finally:
            if listener is not None:
                listener.close()
            self.jobs.close()


def main() -> None:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    relay = Relay(settings)
    signal.signal(signal.SIGTERM, relay.stop)
    signal.signal(signal.SIGINT, relay.stop)
    log.info("relay started")
    relay.run()
    log.info("relay stopped")


if __name__ == "__main__":
    main()
