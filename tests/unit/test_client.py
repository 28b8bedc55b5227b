"""pixelflow.client's answer to 429 and 503: wait (Retry-After, else a growing wait) and send again, a bounded time."""

from __future__ import annotations

import time

import httpx
import pytest

from pixelflow.client import ApiError, Client


def answers(*statuses: int, retry_after: str | None = "0") -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport answering the statuses in turn (the last one for ever after); the requests it saw."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = statuses[min(len(seen), len(statuses)) - 1]
        if status >= 400:
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            return httpx.Response(status, json={"code": "rate_limited", "message": "slow down"}, headers=headers)
        return httpx.Response(status, json={"id": "job_1"})

    return httpx.MockTransport(handle), seen


def test_a_429_is_waited_out_and_the_same_request_sent_again() -> None:
    transport, seen = answers(429, 503, 202)
    with Client("http://api.test", "pf_key", transport=transport) as pf:
        assert pf.request("POST", "/v1/jobs", json={"source": "k"}) == {"id": "job_1"}
        assert pf.waits == 2
    assert [r.content for r in seen] == [b'{"source":"k"}'] * 3


def test_the_wait_follows_retry_after() -> None:
    transport, _ = answers(429, 200, retry_after="1")
    with Client("http://api.test", "pf_key", transport=transport) as pf:
        began = time.monotonic()
        pf.request("GET", "/v1/jobs/job_1")
        assert time.monotonic() - began >= 1.0


def test_an_api_that_stays_over_its_limit_ends_in_the_error_after_retry_for() -> None:
    transport, seen = answers(429)
    pf = Client("http://api.test", "pf_key", transport=transport, retry_for=0.3)
    with pf, pytest.raises(ApiError) as raised:
        pf.request("GET", "/v1/jobs/job_1")
    assert raised.value.status == 429 and raised.value.code == "rate_limited"
    assert 2 <= len(seen) < 20


def test_other_errors_are_not_sent_again() -> None:
    transport, seen = answers(422)
    with Client("http://api.test", "pf_key", transport=transport) as pf:
        with pytest.raises(ApiError):
            pf.request("POST", "/v1/jobs", json={})
        assert pf.waits == 0
    assert len(seen) == 1
