"""StepTask's outcome table (tasks/outcomes.py): every kind of result a step can have."""

from __future__ import annotations

import pytest

from core.errors import (
    CorruptImage,
    DatabaseUnavailable,
    InvariantBroken,
    PixelFlowError,
    SourceUnavailable,
    StepTimedOut,
    StorageUnavailable,
    WebhookRejected,
    WebhookUnavailable,
)
from tasks.outcomes import Outcome, outcome_of

TASK = "pixelflow.transform"


def test_a_step_that_did_its_work_goes_on_and_one_that_found_its_job_ended_stops() -> None:
    assert outcome_of(True, TASK, 0, 8) == Outcome("ok", proceed=True)
    assert outcome_of(False, TASK, 0, 8) == Outcome("ended")


@pytest.mark.parametrize("error", [CorruptImage("bad bytes"), WebhookRejected("answered 400")])
def test_bad_input_fails_the_job_at_once_and_is_never_retried_nor_dead_lettered(error: PixelFlowError) -> None:
    outcome = outcome_of(error, TASK, 0, 8)
    assert outcome == Outcome("permanent_error", error=error)


@pytest.mark.parametrize(
    "error",
    [StorageUnavailable("s3 down"), DatabaseUnavailable("pg down"), SourceUnavailable("503"), WebhookUnavailable("x")],
)
def test_a_peer_that_is_down_is_retried_while_retries_are_left(error: PixelFlowError) -> None:
    for retries in (0, 3, 7):
        assert outcome_of(error, TASK, retries, 8) == Outcome("transient_error", retry=True)
    assert outcome_of(error, TASK, 100, None).retry  # no limit: always again


@pytest.mark.parametrize(
    ("error", "dead_letter"),
    [
        (StorageUnavailable("s3 down"), True),  # the service's own peer: the operator replays once it is back
        (DatabaseUnavailable("pg down"), True),
        (SourceUnavailable("the client's URL answered 503"), False),  # the client's: the job records it, no more
        (WebhookUnavailable("the client's webhook answered 503"), False),
    ],
)
def test_after_the_last_retry_the_job_fails_and_only_the_services_own_peers_are_dead_lettered(
    error: PixelFlowError, dead_letter: bool
) -> None:
    outcome = outcome_of(error, TASK, 8, 8)
    assert (outcome.name, outcome.retry, outcome.proceed, outcome.dead_letter) == ("gave_up", False, False, dead_letter)
    assert outcome.error is error and error.message.startswith("gave up after 8 retries: ")


def test_the_time_limit_fails_the_job_without_a_dead_letter() -> None:
    error = StepTimedOut("ran past 120 s")
    assert outcome_of(error, TASK, 0, 8) == Outcome("error", error=error)
    assert error.code == "time_limit_exceeded"


def test_a_bug_fails_the_job_with_internal_error_and_is_dead_lettered() -> None:
    broken = InvariantBroken("output never recorded")
    assert outcome_of(broken, TASK, 0, 8) == Outcome("error", error=broken, dead_letter=True)
    crash = outcome_of(KeyError("width"), TASK, 0, 8)
    assert (crash.name, crash.dead_letter, crash.retry) == ("error", True, False)
    assert crash.error is not None and crash.error.code == "internal_error"
    assert crash.error.message == "pixelflow.transform failed unexpectedly (KeyError)"
