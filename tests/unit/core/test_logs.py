"""core/logs.py: each line names its job and task, in threads a step starts as well; secrets still masked."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator

import pytest

from config import get_settings
from core import logs
from tasks.steps.common import in_parallel


@pytest.fixture()
def lines() -> Iterator[io.StringIO]:
    logs.start(get_settings(), handlers=False)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter(logs.FORMAT))
    logger = logging.getLogger("pixelflow.test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield out
    logger.removeHandler(handler)


def test_a_line_names_the_job_and_task_it_is_about_and_dashes_outside_one(lines: io.StringIO) -> None:
    log = logging.getLogger("pixelflow.test.logs")
    log.info("before")
    with logs.about("0193-job", "task-1"):
        log.info("during: Bearer abcdefgh12345678")
        with logs.about("0193-other", "task-2"):
            log.info("nested")
        log.info("after nested")
    log.info("after")
    got = lines.getvalue().splitlines()
    assert [line.split(" pixelflow.test.logs ", 1)[1] for line in got] == [
        "job=- task=- trace=- before",
        "job=0193-job task=task-1 trace=- during: Bearer [redacted]",
        "job=0193-other task=task-2 trace=- nested",
        "job=0193-job task=task-1 trace=- after nested",
        "job=- task=- trace=- after",
    ]


def test_the_threads_a_step_writes_its_outputs_from_log_for_its_job(lines: io.StringIO) -> None:
    log = logging.getLogger("pixelflow.test.logs")

    def put(name: str) -> str:
        log.info("put %s", name)
        return threading.current_thread().name

    with logs.about("0193-job", "task-1"):
        threads = in_parallel(put, ["a", "b", "c"])
    assert all(t.startswith("pixelflow-io") for t in threads)
    assert sorted(line.split(" pixelflow.test.logs ", 1)[1] for line in lines.getvalue().splitlines()) == [
        "job=0193-job task=task-1 trace=- put a",
        "job=0193-job task=task-1 trace=- put b",
        "job=0193-job task=task-1 trace=- put c",
    ]
