"""Which step a dead letter ended on (tasks/relay.py): its message's own task, or a later step of its chain that
the worker ran inline in the same message (StepTask.inline_next)."""

from __future__ import annotations

import uuid
from typing import Any

from tasks.pipeline import job_chain
from tasks.relay import chained, ended_on


def body_of(first: int) -> Any:
    """A step's message body as Celery sends it: the job id, and the rest of the chain, next step last."""
    jid = uuid.uuid4()
    signatures = [dict(sig) for sig in job_chain(jid).tasks]
    return signatures[first]["task"], [[str(jid)], {}, {"chain": signatures[first + 1 :][::-1], "chord": None}]


def test_the_chain_is_read_in_the_order_its_steps_run() -> None:
    task, body = body_of(0)
    assert task == "pixelflow.fetch"
    assert chained(body) == ["pixelflow.validate", "pixelflow.transform", "pixelflow.upload", "pixelflow.notify"]
    assert chained(body_of(4)[1]) == []
    assert chained([["x"], {}]) == [] and chained("not a body") == []


def test_a_letter_names_the_first_step_its_job_had_not_done() -> None:
    task, body = body_of(0)
    chain = chained(body)
    assert ended_on(task, chain, ()) == "pixelflow.fetch"
    assert ended_on(task, chain, ("fetch", "validate")) == "pixelflow.transform"  # transform ran inline
    assert ended_on(task, chain, ("fetch", "validate", "transform", "upload")) == "pixelflow.notify"


def test_a_message_of_a_later_step_names_that_step_or_a_later_one() -> None:
    task, body = body_of(2)
    assert ended_on(task, chained(body), ("fetch", "validate")) == "pixelflow.transform"
    assert ended_on(task, chained(body), ("fetch", "validate", "transform")) == "pixelflow.upload"
    # A ledger that holds every step (the letter came after the work): the message's own task.
    assert ended_on(task, chained(body), ("fetch", "validate", "transform", "upload", "notify")) == task
