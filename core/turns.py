"""Whose turn it is: the order in which the relay takes tenants from the outbox.

Each tenant's oldest waiting job first, then each one's second, and so on;
among the jobs of one turn, the tenant served least recently goes first (a
tenant never served, or not for long, before any). Without that memory a
relay with room for one chain at a time (the queues full of a batch) would
always hand on the batch's oldest row, older than any job that came after
it: the other tenant's single job would wait until there was room for two.

While the queues are full, a tenant served longer ago than the relay's
``pass_after`` (or never) still gets its next chain out, one at a time
(``recent`` says whom that leaves out): a tenant with a job now and then does
not wait for the batch's room, and the bound holds for the tenant filling it.

The memory is a relay's own (no statement more per publish): several relays
each keep their rotation, and take rows apart with SKIP LOCKED.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TypeVar

Row = TypeVar("Row")
REMEMBERED = 1000
"""Tenants a rotation keeps; one forgotten is taken as never served, so first: no tenant waits for that."""


class Rotation:
    def __init__(self, remembered: int = REMEMBERED) -> None:
        self._served: dict[str, float] = {}  # tenant → when (monotonic), least recently served first
        self._remembered = remembered

    def order(self) -> list[str]:
        """The tenants served, least recently first."""
        return list(self._served)

    def recent(self, within: float) -> list[str]:
        """The tenants served in the last ``within`` seconds."""
        since = time.monotonic() - within
        return [tenant for tenant, at in self._served.items() if at > since]

    def served(self, tenants: Iterable[str]) -> None:
        """These tenants were just served, in this order."""
        now = time.monotonic()
        for tenant in tenants:
            self._served.pop(tenant, None)
            self._served[tenant] = now
        while len(self._served) > self._remembered:
            del self._served[next(iter(self._served))]

    def rank(self, rows: Sequence[tuple[int, str, Row]]) -> list[Row]:
        """``rows`` (place in the outbox, tenant, row), ordered by turn, then tenant least recently served, then
        place: what the PostgreSQL outbox's statement orders by too."""
        place = {tenant: i for i, tenant in enumerate(self._served)}
        turns: dict[str, int] = {}
        ranked: list[tuple[tuple[int, int, int], Row]] = []
        for key, tenant, row in sorted(rows, key=lambda r: r[0]):
            turns[tenant] = turns.get(tenant, 0) + 1
            ranked.append(((turns[tenant], place.get(tenant, -1), key), row))
        ranked.sort(key=lambda r: r[0])
        return [row for _, row in ranked]
