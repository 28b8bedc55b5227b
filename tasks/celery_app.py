"""The Celery app. Its configuration is read on first use, not at import."""

import logging
import sys
from typing import Any

from celery import Celery, bootsteps
from celery.signals import import_modules

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
