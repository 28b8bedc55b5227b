"""Failpoints: named places where the fault tests make a process crash, die or stall.

Off unless PIXELFLOW_FAILPOINTS names them, as "point:action" or "point:action:first":

    point    fetch | validate | transform | upload | notify   before the step runs
             <step>.after                                     after the step, before the next is sent
             transform.before-commit                          outputs written, not yet recorded
             upload.before-commit                             outputs copied, job not yet marked done
             relay.after-publish                              chain published, outbox row not yet marked
             process-shutdown                                 a worker's pool child, as it exits
    action   kill (SIGKILL this process), exit (os._exit(137)), sleep (3 s), hang (sleep until killed),
             raise (a bug: RuntimeError)
    first    only on a message's first delivery (a redelivery passes)
"""

from __future__ import annotations

import os
import signal
import threading
import time

from core import tracing


class _Delivery(threading.local):
    # Set by the task layer for the message being run: False on a redelivery. Per thread: an I/O worker
    # runs several steps at once.
    first = True


delivery = _Delivery()


def fire(failpoints: list[str], point: str) -> None:
    for failpoint in failpoints:
        name, _, rest = failpoint.partition(":")
        action, _, when = rest.partition(":")
        if name != point or (when == "first" and not delivery.first):
            continue
        if action in ("kill", "exit"):
            # The spans this process ended are exported first: a test reads the trace up to the death. (A real
            # SIGKILL loses what the exporter had not sent yet, at most OTEL_BSP_SCHEDULE_DELAY ms of it.)
            tracing.flush()
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif action == "exit":
            os._exit(137)
        elif action == "sleep":
            time.sleep(3)
        elif action == "hang":
            threading.Event().wait()
        elif action == "raise":
            raise RuntimeError(f"failpoint {failpoint}")
