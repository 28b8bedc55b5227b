"""A cold shutdown (SIGQUIT) that ends within a bound.

Celery runs a cold shutdown inside the main process's signal handler: it cancels the running tasks, then joins
the pool with no time limit. A pool child that does not exit (stuck in its own shutdown, or waiting for the rest
of a message the signal cut short) holds the worker there, and with it the deliveries it has not acknowledged.
Once ``worker_cold_shutdown_seconds`` have passed since the signal, the watch writes the main process's stacks to
stderr and kills the pool children still alive: the join returns and the shutdown finishes as it would have, and
the steps those children held are delivered again, as for any lost child. If the worker is still there after as
long again, the watch ends the process.

The watch is a thread started with the worker, waiting on an event: the signal handler only sets the event (no
thread is started, no lock taken, from inside a signal handler). It writes with ``os.write``: the main thread may
be stuck holding a logging lock.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

EX_FAILURE = 1


def _say(text: str) -> None:
    os.write(sys.__stderr__.fileno() if sys.__stderr__ else 2, f"pixelflow worker: {text}\n".encode())


def pool_children(pid: int) -> list[int]:
    """The processes ``pid`` started (Linux: /proc), the prefork pool's children among them."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


class ColdShutdownWatch:
    """Wraps the SIGQUIT handler Celery installed; on the signal, bounds what follows to ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.main = os.getpid()
        self.signaled = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="cold-shutdown-watch", daemon=True)

    def install(self) -> None:
        previous = signal.getsignal(signal.SIGQUIT)

        def on_quit(signum: int, frame: FrameType | None) -> Any:
            if os.getpid() == self.main:  # a pool child forked since inherits the handler: not its business
                self.signaled.set()
            if callable(previous):
                return previous(signum, frame)
            return None

        signal.signal(signal.SIGQUIT, on_quit)
        self.thread.start()

    def _watch(self) -> None:
        self.signaled.wait()
        time.sleep(self.seconds)  # a daemon thread: it ends with the process if the shutdown finished
        children = pool_children(self.main)
        _say(
            f"cold shutdown still running after {self.seconds:g} s: killing {len(children)} pool children "
            f"{children}; the main process's stacks follow"
        )
        faulthandler.dump_traceback(file=sys.__stderr__ or sys.stderr, all_threads=True)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        time.sleep(self.seconds)
        _say(f"cold shutdown still running {self.seconds:g} s after its pool children were killed: exiting")
        os._exit(EX_FAILURE)


_watch: ColdShutdownWatch | None = None


def bound_cold_shutdown(seconds: float) -> None:
    """Once per worker main process, after Celery installed its signal handlers (worker_ready)."""
    global _watch
    if _watch is None or _watch.main != os.getpid():
        _watch = ColdShutdownWatch(seconds)
        _watch.install()
