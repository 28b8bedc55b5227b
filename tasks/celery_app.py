"""The Celery app. Its configuration is read on first use, not at import."""

import logging
import sys
from typing import Any
from urllib.parse import urlsplit

from celery import Celery, bootsteps
from celery.signals import import_modules
from celery.worker.consumer import Consumer as CeleryConsumer
from celery.worker.consumer.delayed_delivery import DelayedDelivery

from core import liveness
from tasks.imaging import cpu

app = Celery("pixelflow", include=["tasks.pipeline"])
app.config_from_object("tasks.celeryconfig")


@import_modules.connect
def _choose_pillow(**_: Any) -> None:
    # Before the tasks, and Pillow with them, are imported: the build this CPU runs.
    try:
        build = cpu.select()
    except cpu.UnsupportedCPUError as exc:
        print(f"pixelflow worker: not starting: {exc}", file=sys.stderr)
        raise SystemExit(78) from None
    if build:
        logging.getLogger(__name__).warning("this CPU cannot run the fastest Pillow build; using %s", build)


class BrokerHeartbeat(bootsteps.StartStopStep):  # type: ignore[misc]
    """Beats the worker's liveness file while its consumer holds a broker connection.

    Celery stops a consumer's steps when the connection is lost and starts them
    again once it is back, so the file goes stale while the worker is cut off
    from RabbitMQ, and `python -m core.liveness worker` fails after
    ``liveness.STALE_AFTER["worker"]`` seconds of that.
    """

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.timer: Any = None

    def start(self, parent: Any) -> None:
        liveness.beat("worker")
        self.timer = parent.timer.call_repeatedly(liveness.BEAT_EVERY, liveness.beat, ("worker",))

    def stop(self, parent: Any) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def shutdown(self, parent: Any) -> None:
        self.stop(parent)
        liveness.clear("worker")


app.steps["consumer"].add(BrokerHeartbeat)


log = logging.getLogger(__name__)


def _where(url: str) -> tuple[str | None, int]:
    parts = urlsplit(url)
    return parts.hostname, parts.port or 5672


def _on(url: str, connection: Any) -> bool:
    return _where(url) == (connection.hostname, connection.port or 5672)


class ClusterDelayedDelivery(DelayedDelivery):  # type: ignore[misc]
    """Native delayed delivery set up through one node of the cluster, not through each node the URL names.

    Celery's step declares the delayed-delivery exchanges, queues and bindings through every broker URL in
    turn, each tried 3 times over about 9 s, every time the consumer (re)connects: with one node of a cluster
    down, a worker that had failed over to another node spent 17 s there before it took work again (the
    cluster scenarios of the fault suite). A cluster's nodes share that topology, so the first node that does
    it is enough; the node the consumer is connected to is asked first.
    """

    def start(self, c: Any) -> None:
        self._validate_configuration(c.app)
        urls = sorted(self._validate_broker_urls(c.app.conf.broker_url), key=lambda url: not _on(url, c.connection))
        for url in urls:
            try:
                self._setup_delayed_delivery(c, url)
                return
            except Exception as exc:  # as Celery's own step: the next node, then the critical log
                log.warning("native delayed delivery: not set up through %s:%s: %s", *_where(url), exc)
        log.critical("native delayed delivery: no broker node answered; retries will wait in worker memory")


class Consumer(CeleryConsumer):  # type: ignore[misc]
    """Celery's consumer with ClusterDelayedDelivery for its DelayedDelivery step (worker_consumer)."""

    class Blueprint(CeleryConsumer.Blueprint):  # type: ignore[misc]
        default_steps = [
            "tasks.celery_app:ClusterDelayedDelivery" if step.endswith(":DelayedDelivery") else step
            for step in CeleryConsumer.Blueprint.default_steps
        ]
