"""The API's key cache (app/auth.py): one lookup per key per PIXELFLOW_API_KEY_CACHE_SECONDS, revocation within it."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

from app.auth import KeyCache
from core.keystore import ApiKey

LIVE = ApiKey(uuid.uuid4(), "acme", "ci", "pf_abcdefg", "write", datetime.now(UTC), None)


class Keys:
    """A key table of one key, which counts its lookups and can revoke."""

    def __init__(self) -> None:
        self.lookups: list[str] = []
        self.revoked = False

    def authenticate(self, token: str) -> ApiKey | None:
        self.lookups.append(token)
        return LIVE if token == "pf_live" and not self.revoked else None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_live_key_is_looked_up_once_per_period_and_a_revoked_one_refused_after_it() -> None:
    keys, clock = Keys(), Clock()
    cache = KeyCache(keys.authenticate, 5, clock)
    assert all(cache.authenticate("pf_live") is LIVE for _ in range(100))
    assert keys.lookups == ["pf_live"]
    keys.revoked = True
    clock.now += 4.9
    assert cache.authenticate("pf_live") is LIVE  # within the period: still the kept key
    clock.now += 0.2
    assert cache.authenticate("pf_live") is None  # the period is over: looked up again, and refused
    assert cache.authenticate("pf_live") is None
    assert keys.lookups == ["pf_live"] * 3


def test_an_unknown_key_is_looked_up_every_time_and_never_kept() -> None:
    keys = Keys()
    cache = KeyCache(keys.authenticate, 5, Clock())
    assert [cache.authenticate("pf_guess") for _ in range(3)] == [None] * 3
    assert keys.lookups == ["pf_guess"] * 3
    assert cache.live is not None and len(cache.live) == 0


def test_zero_seconds_looks_up_every_request() -> None:
    keys = Keys()
    cache = KeyCache(keys.authenticate, 0)
    assert [cache.authenticate("pf_live") for _ in range(3)] == [LIVE] * 3
    assert len(keys.lookups) == 3 and cache.live is None


def test_keys_are_kept_by_their_digest_not_in_clear_and_threads_share_the_cache() -> None:
    keys = Keys()
    cache = KeyCache(keys.authenticate, 60)
    threads = [threading.Thread(target=lambda: [cache.authenticate("pf_live") for _ in range(200)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.live is not None and list(cache.live) and all(isinstance(k, bytes) for k in cache.live)
    assert b"pf_live" not in b"".join(cache.live)
    assert 1 <= len(keys.lookups) <= 8  # each thread at most once, before the first answer was kept
