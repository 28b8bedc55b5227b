"""What a step's result means for its job and its message: one table, no Celery.

StepTask (tasks/pipeline.py) runs a step, hands its result here and does
what the answer says; the table is unit-tested on its own
(tests/unit/tasks/test_outcomes.py).

    result                        outcome           the job                   the message
    True                          ok                goes on (next step)       acked, SUCCESS
    False                         ended             ended elsewhere: notify   acked, SUCCESS
    PermanentError                permanent_error   fails with its code       acked, FAILURE
    TransientError, retries left  transient_error   waits                     retried with backoff
    TransientError, none left     gave_up           fails with its code       the client's peer: acked, FAILURE;
                                                                              the service's own: dead-lettered
    StepTimedOut                  error             time_limit_exceeded       acked, FAILURE
    other PixelFlowError          error             fails with its code       dead-lettered (a bug to act on)
    any other exception           error             internal_error            dead-lettered (a bug)
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import PermanentError, PixelFlowError, StepTimedOut, TransientError


@dataclass(frozen=True)
class Outcome:
    name: str
    """The label of pixelflow_worker_steps_total{outcome}."""
    proceed: bool = False
    """The step did its work: the chain goes on."""
    retry: bool = False
    """Run the step again after a backoff."""
    error: PixelFlowError | None = None
    """The job fails with this error."""
    dead_letter: bool = False
    """The message goes to the dead-letter queue, for an operator to replay."""


def outcome_of(result: bool | BaseException, task: str, retries: int, max_retries: int | None) -> Outcome:
    """The outcome of a step named ``task`` that returned or raised ``result`` on its ``retries``-th retry."""
    if result is True:
        return Outcome("ok", proceed=True)
    if result is False:
        return Outcome("ended")
    if isinstance(result, PermanentError):
        return Outcome("permanent_error", error=result)
    if isinstance(result, TransientError):
        if max_retries is None or retries < max_retries:
            return Outcome("transient_error", retry=True)
        result.message = f"gave up after {retries} retries: {result.message}"
        return Outcome("gave_up", error=result, dead_letter=not result.client_peer)
    if isinstance(result, StepTimedOut):
        return Outcome("error", error=result)
    if isinstance(result, PixelFlowError):
        return Outcome("error", error=result, dead_letter=True)
    bug = PixelFlowError(f"{task} failed unexpectedly ({type(result).__name__})")
    return Outcome("error", error=bug, dead_letter=True)
