"""The exporter: what waits, for Prometheus and for scaling (``python -m tasks.exporter``).

Read at every scrape, from the broker and the database:

    pixelflow_queue_messages_ready{queue,role}   messages waiting in the work (role "work") and
                                                 dead-letter ("dead-letters") queues
    pixelflow_queue_consumers{queue,role}        consumers attached (0: no worker is taking work)
    pixelflow_outbox_unsent                      accepted jobs the relay has not published yet
    pixelflow_outbox_oldest_unsent_seconds       how long the oldest of them has waited
    pixelflow_jobs_unfinished{status}            queued and processing jobs
    pixelflow_jobs_unfinished_oldest_seconds{status}
    pixelflow_dead_letters_pending               dead letters waiting for an operator (not replayed or dismissed)
    pixelflow_exporter_up{dependency}            1 when the broker / database answered this scrape

The queue alone misses jobs waiting in the outbox while the broker is down;
the outbox alone misses what the broker holds: a dashboard needs both.
A dependency that does not answer turns its ``up`` to 0 and its series are
left out, so the scrape itself never fails.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterable, Iterator
from types import FrameType
from typing import Any

from amqp.exceptions import ConnectionError as AMQPConnectionError
from amqp.exceptions import NotFound
from kombu.exceptions import OperationalError
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from config import Settings
from core import logs
from core.db import Database
from core.deadletters import PENDING_LETTER
from core.errors import DatabaseUnavailable
from core.model import JobStatus
from tasks.celery_app import app
from tasks.topology import transform_queue

log = logging.getLogger(__name__)


def backlog(db: Database) -> dict[str, Any]:
    """What is waiting: the outbox, unfinished jobs by status, dead letters; one transaction, one scrape.

    Ages are in seconds (0 when nothing waits); every query runs on a partial index or a small table.
    """
    with db.tx() as cur:
        cur.execute(
            "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age"
            " FROM outbox WHERE sent_at IS NULL"
        )
        outbox = cur.fetchone() or {"n": 0, "age": 0}
        cur.execute(
            "SELECT status, count(*) AS n, extract(epoch FROM now() - min(created_at)) AS age FROM jobs"
            " WHERE status IN ('queued', 'processing') GROUP BY status"
        )
        unfinished = {row["status"]: (int(row["n"]), float(row["age"])) for row in cur.fetchall()}
        cur.execute(f"SELECT count(*) AS n FROM dead_letters WHERE {PENDING_LETTER}")  # noqa: S608
        letters = cur.fetchone() or {"n": 0}
    return {
        "outbox_unsent": int(outbox["n"]),
        "outbox_oldest_seconds": float(outbox["age"]),
        "jobs": {str(status): unfinished.get(status, (0, 0.0)) for status in (JobStatus.QUEUED, JobStatus.PROCESSING)},
        "dead_letters": int(letters["n"]),
    }


class BacklogCollector(Collector):
    def __init__(self, settings: Settings, db: Database) -> None:
        # (queue, role): the alerts select work queues by role, whatever PIXELFLOW_QUEUE names them.
        self.queues = (
            (settings.queue, "work"),
            (transform_queue(settings), "work"),
            (f"{settings.queue}.dead", "dead-letters"),
        )
        self.db = db

    def collect(self) -> Iterable[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "pixelflow_exporter_up", "1 when the dependency answered this scrape", labels=["dependency"]
        )
        yield from self._queues(up)
        yield from self._backlog(up)
        yield up

    def _queues(self, up: GaugeMetricFamily) -> Iterator[GaugeMetricFamily]:
        labels = ["queue", "role"]
        ready = GaugeMetricFamily("pixelflow_queue_messages_ready", "Messages waiting in a queue", labels=labels)
        consumers = GaugeMetricFamily("pixelflow_queue_consumers", "Consumers of a queue", labels=labels)
        try:
            # A connection per scrape (every 15–30 s): nothing to keep alive or re-establish between them.
            with app.connection_for_read() as conn:
                conn.ensure_connection(max_retries=1, timeout=3)
                channel = conn.channel()
                for queue, role in self.queues:
                    try:
                        _, count, attached = channel.queue_declare(queue, passive=True)
                    except NotFound:  # not declared yet: nothing waits in it; the channel is closed
                        count, attached, channel = 0, 0, conn.channel()
                    ready.add_metric([queue, role], count)
                    consumers.add_metric([queue, role], attached)
        except (OperationalError, OSError, AMQPConnectionError) as exc:  # the last: 541 nodedown in a cluster
            log.warning("broker unreachable: %s", exc)
            up.add_metric(["broker"], 0)
            return
        up.add_metric(["broker"], 1)
        yield ready
        yield consumers

    def _backlog(self, up: GaugeMetricFamily) -> Iterator[GaugeMetricFamily]:
        try:
            waiting = backlog(self.db)
        except DatabaseUnavailable as exc:
            log.warning("%s", exc.message)
            up.add_metric(["database"], 0)
            return
        up.add_metric(["database"], 1)
        yield GaugeMetricFamily("pixelflow_outbox_unsent", "Accepted jobs not yet published", waiting["outbox_unsent"])
        yield GaugeMetricFamily(
            "pixelflow_outbox_oldest_unsent_seconds",
            "Age of the oldest unpublished outbox row (0 when none)",
            waiting["outbox_oldest_seconds"],
        )
        count = GaugeMetricFamily("pixelflow_jobs_unfinished", "Jobs queued or processing", labels=["status"])
        oldest = GaugeMetricFamily(
            "pixelflow_jobs_unfinished_oldest_seconds",
            "Age of the oldest job in the status (0 when none)",
            labels=["status"],
        )
        for status, (n, age) in waiting["jobs"].items():
            count.add_metric([status], n)
            oldest.add_metric([status], age)
        yield count
        yield oldest
        yield GaugeMetricFamily(
            "pixelflow_dead_letters_pending",
            "Dead letters not replayed (celery -A tasks dlq list)",
            waiting["dead_letters"],
        )


def main() -> None:
    settings = logs.start()
    # A scrape waits at most 3 s for the database (Prometheus gives up after 10 s by default).
    db = Database.for_settings(settings, 1, 1, "pixelflow-exporter", timeout=3)
    db.open()  # without waiting: the database may come up later, and scrapes say so meanwhile
    registry = CollectorRegistry()
    registry.register(BacklogCollector(settings, db))
    server, thread = start_http_server(settings.exporter_port, addr=settings.exporter_host, registry=registry)
    log.info("exporter on http://%s:%s/metrics", settings.exporter_host, settings.exporter_port)
    done = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    done.wait()
    server.shutdown()
    thread.join(5)
    db.close()


if __name__ == "__main__":
    main()
