"""How much room the relay sees in the work queues: the bound is tighter while tenants share the workers."""

from __future__ import annotations

import itertools
import time
from types import SimpleNamespace
from typing import Any

import pytest

from config import Settings
from tasks.relay import SHARED_SECONDS, Relay


class Channel:
    """A broker channel's passive declare: (name, ready, consumers) for each work queue."""

    def __init__(self, ready: dict[str, int], consumers: int) -> None:
        self.ready, self.consumers = ready, consumers

    def queue_declare(self, name: str, passive: bool) -> tuple[str, int, int]:
        assert passive
        return name, self.ready.get(name, 0), self.consumers


def room(relay: Relay, ready: dict[str, int], consumers: int = 2) -> int | None:
    conn: Any = SimpleNamespace(default_channel=Channel(ready, consumers))
    return relay.room(conn)


def test_alone_a_tenant_fills_the_queues_to_the_bound_and_shared_they_hold_fewer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])  # the rotation's clock
    relay = Relay(Settings(queue="pf-room", relay_ready_per_consumer=2, relay_ready_per_consumer_shared=1))
    assert room(relay, {}) == 4  # 2 per consumer, 2 consumers
    relay.rotation.served(["batch-tenant"])
    assert room(relay, {"pf-room": 1}) == 3
    relay.rotation.served(["other-tenant"])  # a second tenant within SHARED_SECONDS
    assert room(relay, {}) == 2
    assert room(relay, {"pf-room": 1}) == 1
    assert room(relay, {"pf-room.transform": 3}) == 0
    clock[0] += SHARED_SECONDS + 1
    relay.rotation.served(["batch-tenant"])  # the other tenant's last job was long ago: alone again
    assert room(relay, {"pf-room": 1}) == 3


def test_the_shared_bound_never_loosens_a_tighter_one_and_no_bound_stays_none() -> None:
    tight = Relay(Settings(queue="pf-room", relay_ready_per_consumer=1, relay_ready_per_consumer_shared=3))
    tight.rotation.served(["a", "b"])
    assert room(tight, {}) == 2
    unbounded = Relay(Settings(queue="pf-room", relay_ready_per_consumer=0))
    unbounded.rotation.served(["a", "b"])
    assert room(unbounded, {"pf-room": 50}) is None


class Outbox:
    """The relay's outbox: ``rows`` unsent; what it publishes lands in the work queue's ready count."""

    def __init__(self, rows: int, channel: Channel, queue: str) -> None:
        self.rows, self.channel, self.queue, self.counts = rows, channel, queue, 0

    def relay(self, publish: Any, limit: int = 200, rotation: Any = None, passed_over: float | None = None) -> int:
        if passed_over is not None:
            return 0
        n = min(limit, self.rows)
        self.rows -= n
        self.channel.ready[self.queue] = self.channel.ready.get(self.queue, 0) + n
        return n

    def unsent(self) -> int:
        self.counts += 1
        return self.rows


def test_a_held_look_costs_the_queues_depth_and_the_outbox_is_counted_once_a_poll_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tasks.relay import HELD_POLL_SECONDS, POLL_SECONDS

    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    relay = Relay(Settings(queue="pf-drain", relay_ready_per_consumer=2, relay_pass_after=0))
    channel = Channel({}, 1)
    outbox = Outbox(9, channel, "pf-drain")
    relay.jobs = outbox  # type: ignore[assignment]
    conn: Any = SimpleNamespace(default_channel=channel)

    def look() -> int:
        clock[0] += HELD_POLL_SECONDS
        return relay.drain(conn)

    assert look() == 2 and relay.held and outbox.counts == 0  # it took all it asked for: more wait, uncounted
    assert look() == 0 and relay.held and outbox.counts == 1  # no room, nothing sent: counted once…
    for _ in range(int(POLL_SECONDS / HELD_POLL_SECONDS) - 2):
        assert look() == 0 and relay.held
    assert outbox.counts == 1  # …and not again within POLL_SECONDS
    clock[0] += POLL_SECONDS
    assert look() == 0 and relay.held and outbox.counts == 2
    channel.ready["pf-drain"] = 0  # the worker took both
    assert look() == 2 and relay.held and outbox.counts == 2
    outbox.rows = 1  # the rest was canceled: the outbox gives fewer than asked for, then none: nothing waits
    channel.ready["pf-drain"] = 0
    assert look() == 1 and not relay.held and outbox.counts == 2
    outbox.rows, channel.ready["pf-drain"] = 5, 1  # new rows while the queue has room for 1 more after one
    assert look() == 1 and relay.held and outbox.counts == 2  # took the 1 asked for: more wait
    clock[0] += POLL_SECONDS
    outbox.rows = 0  # canceled meanwhile: the next count finds nothing, and the relay stops looking fast
    assert look() == 0 and not relay.held and outbox.counts == 3


def test_the_dead_letter_queue_is_looked_at_once_a_poll_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    from tasks.relay import HELD_POLL_SECONDS, POLL_SECONDS

    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    relay = Relay(Settings(queue="pf-dead"))
    looks: list[float] = []

    def drain_dead_letters(conn: Any) -> int:
        looks.append(clock[0])
        return 0

    monkeypatch.setattr(relay, "drain_dead_letters", drain_dead_letters)
    for _ in range(int(2.5 * POLL_SECONDS / HELD_POLL_SECONDS)):
        relay.look_at_dead_letters(None)
        clock[0] += HELD_POLL_SECONDS
    assert len(looks) == 3 and all(b - a >= POLL_SECONDS for a, b in itertools.pairwise(looks))
