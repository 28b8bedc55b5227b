"""How much room the relay sees in the work queues: the bound is tighter while tenants share the workers."""

from __future__ import annotations

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
