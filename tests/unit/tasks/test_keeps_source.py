"""When the source a step reads is kept for the steps after it in the same message (tasks/pipeline.py)."""

from tasks.pipeline import keeps_source

CHAIN = ["pixelflow.validate", "pixelflow.transform", "pixelflow.upload", "pixelflow.notify"]


def test_a_worker_of_both_queues_keeps_fetchs_read_for_validate_and_transform() -> None:
    assert keeps_source(CHAIN, lambda name: True)
    assert keeps_source(CHAIN[1:], lambda name: True)  # validate's own message, transform here next


def test_a_worker_that_does_not_run_transform_reads_no_whole_source_for_validate() -> None:
    io_only = lambda name: name != "pixelflow.transform"  # noqa: E731  (worker-io)
    assert not keeps_source(CHAIN, io_only)
    assert not keeps_source(CHAIN, lambda name: False)  # inline steps off
    assert not keeps_source(CHAIN[2:], lambda name: True)  # transform has run: nothing after it reads the source
    assert not keeps_source([], lambda name: True)
