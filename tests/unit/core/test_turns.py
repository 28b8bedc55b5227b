"""The outbox's turns (core/turns.py): the rank both stores order by, and a rotation's memory."""

from __future__ import annotations

from core.turns import Rotation


def test_rows_go_by_turn_then_least_recently_served_tenant_then_place() -> None:
    rotation = Rotation()
    rows = [(1, "a", "a1"), (2, "a", "a2"), (3, "b", "b1"), (4, "c", "c1"), (5, "b", "b2")]
    assert rotation.rank(rows) == ["a1", "b1", "c1", "a2", "b2"]  # nobody served yet: by place
    rotation.served(["a", "c"])
    assert rotation.rank(rows) == ["b1", "a1", "c1", "b2", "a2"]  # b never served, then a before c
    rotation.served(["a"])
    assert rotation.order() == ["c", "a"]
    assert rotation.rank(rows) == ["b1", "c1", "a1", "b2", "a2"]


def test_a_rotation_forgets_the_tenants_served_longest_ago_beyond_its_bound() -> None:
    rotation = Rotation(remembered=2)
    rotation.served(["a", "b", "c"])
    assert rotation.order() == ["b", "c"]
    # a, forgotten, counts as never served: first in its turn.
    assert rotation.rank([(1, "c", "c1"), (2, "b", "b1"), (3, "a", "a1")]) == ["a1", "b1", "c1"]
