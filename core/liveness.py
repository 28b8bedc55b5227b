"""Liveness of a process: ``python -m core.liveness TARGET`` exits 0 when it is alive.

TARGET is one of:
- ``worker`` or ``relay`` [seconds]: that process beat its heartbeat file
  (in the temporary directory) within ``STALE_AFTER`` or the seconds given.
  The worker beats while its consumer holds a broker connection (not merely
  while its metrics thread runs); the relay beats every round of its loop,
  so a relay wedged on a silent peer stops beating;
- ``http://…``: the URL answers 2xx within a second;
- ``tcp://host:port``: a connection opens within a second.

The container's HEALTHCHECK, compose and the chart's exec probes call it;
it reads no settings and imports nothing heavy, so a probe costs little.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

# Seconds between beats, and the age past which a process counts as dead. A
# worker whose consumer reconnects after a broker restart stays alive; one cut
# off from the broker for minutes is restarted.
BEAT_EVERY = 5.0
STALE_AFTER = {"worker": 120.0, "relay": 60.0}
TIMEOUT = 1.0


def heartbeat_file(name: str) -> Path:
    return Path(tempfile.gettempdir()) / f"pixelflow-{name}.alive"


def beat(name: str) -> None:
    """Record that ``name`` is alive now (best effort: a full or read-only /tmp is not fatal)."""
    with contextlib.suppress(OSError):
        heartbeat_file(name).touch()  # an existing file gets a new mtime


def clear(name: str) -> None:
    heartbeat_file(name).unlink(missing_ok=True)


def check(target: str, stale_after: float | None = None) -> str | None:
    """None when TARGET is alive, else why not."""
    if target in STALE_AFTER:
        try:
            age = time.time() - heartbeat_file(target).stat().st_mtime
        except FileNotFoundError:
            return f"{target}: no heartbeat yet ({heartbeat_file(target)})"
        limit = stale_after or STALE_AFTER[target]
        return None if age <= limit else f"{target}: last heartbeat {age:.0f} s ago (limit {limit:.0f} s)"
    parts = urlsplit(target)
    try:
        if parts.scheme == "tcp":
            socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=TIMEOUT).close()
        elif parts.scheme in ("http", "https"):
            with urllib.request.urlopen(target, timeout=TIMEOUT):  # noqa: S310  (a probe of our own URL)
                pass
        else:
            return f"unknown target {target!r} (worker, relay, http://…, tcp://host:port)"
    except OSError as exc:
        return f"{target}: {exc}"
    return None


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print("usage: python -m core.liveness worker|relay [seconds] | http://… | tcp://host:port", file=sys.stderr)
        return 2
    problem = check(argv[0], float(argv[1]) if len(argv) == 2 else None)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
