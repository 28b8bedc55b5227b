"""Operator commands, as ``celery -A tasks …`` subcommands (entry points in pyproject.toml):

celery -A tasks dlq list [--all]       dead letters waiting for an operator, newest first (--all: settled too)
celery -A tasks dlq show ID            one, with its message
celery -A tasks dlq replay ID          act on it: run its failed job again from the start (the steps are
                                       idempotent), or, for a notify letter, send the notification again
celery -A tasks dlq dismiss ID… [--why TEXT]
                                       settle letters there is nothing to replay for
celery -A tasks dlq purge              forget them all
celery -A tasks jobs stuck [--older-than S] [--redrive]
                                       jobs queued or processing for longer than S seconds
                                       (the relay's sweeper re-drives them on its own);
                                       --redrive sends their chains again now
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import click

from config import get_settings
from core.jobstore import JobStore
from core.model import UNFINISHED, JobStatus


@contextmanager
def _jobs() -> Iterator[JobStore]:
    settings = get_settings()
    store = JobStore.for_settings(settings, 1, 1, "pixelflow-cli")
    store.open()
    try:
        yield store
    finally:
        store.close()


@click.group(help="Dead letters: messages RabbitMQ gave up on, kept in PostgreSQL by the relay.")
def dlq() -> None:
    pass


@dlq.command("list")
@click.option("--all", "include_settled", is_flag=True, help="include replayed and dismissed ones")
@click.option("--limit", default=50, show_default=True)
def dlq_list(include_settled: bool, limit: int) -> None:
    with _jobs() as jobs:
        letters = jobs.dead_letters(limit, include_settled)
    for d in letters:
        settled = ""
        if d["replayed_at"]:
            settled = f" replayed {d['replayed_at']:%Y-%m-%d %H:%M}"
        elif d["dismissed_at"]:
            settled = f" dismissed {d['dismissed_at']:%Y-%m-%d %H:%M} ({d['dismissed_why']})"
        click.echo(
            f"{d['id']:>6}  {d['created_at']:%Y-%m-%d %H:%M:%S}  {d['task']:<20} {d['reason']:<15} "
            f"deliveries={d['delivery_count']}  job={d['job_id']}{settled}"
        )
    if not letters:
        click.echo("no dead letters")


@dlq.command("show")
@click.argument("letter_id", type=int)
def dlq_show(letter_id: int) -> None:
    with _jobs() as jobs:
        letter = jobs.dead_letter(letter_id)
    if letter is None:
        raise click.ClickException(f"no dead letter {letter_id}")
    click.echo(json.dumps(letter, indent=2, default=str))


@dlq.command("replay")
@click.argument("letter_id", type=int)
def dlq_replay(letter_id: int) -> None:
    with _jobs() as jobs:
        letter = jobs.dead_letter(letter_id)
        if letter is None or letter["replayed_at"] or letter["dismissed_at"]:
            raise click.ClickException(f"no dead letter {letter_id} waiting (dlq list)")
        dismiss = f"nothing to replay: `dlq dismiss {letter_id}` settles it"
        if letter["job_id"] is None:
            raise click.ClickException(f"letter {letter_id} names no job; {dismiss}")
        job = jobs.get(letter["job_id"])
        if job is None:
            raise click.ClickException(f"job {letter['job_id']} is gone; {dismiss}")
        if job.status in UNFINISHED:
            raise click.ClickException(f"job {job.id} is {job.status}: it runs (or the sweeper ends it); try later")
        if letter["task"] == "pixelflow.notify":
            if "notify" in job.steps_done:
                raise click.ClickException(f"job {job.id}'s client was notified since; {dismiss}")
            from tasks.pipeline import notify_task

            notify_task.apply_async((str(job.id),))
            jobs.mark_replayed(letter_id)
            click.echo(f"job {job.id}: notification sent again")
            return
        if job.status == JobStatus.SUCCEEDED or not jobs.retry(job.id):
            raise click.ClickException(f"job {job.id} is {job.status}; {dismiss}")
        jobs.mark_replayed(letter_id)
    click.echo(f"job {letter['job_id']} queued again")


@dlq.command("dismiss")
@click.argument("letter_ids", type=int, nargs=-1, required=True)
@click.option("--why", default="dismissed by an operator", show_default=True, help="kept with the letter")
def dlq_dismiss(letter_ids: tuple[int, ...], why: str) -> None:
    with _jobs() as jobs:
        for letter_id in letter_ids:
            if not jobs.dismiss_dead_letter(letter_id, why):
                raise click.ClickException(f"no dead letter {letter_id} waiting (dlq list)")
            click.echo(f"dead letter {letter_id} dismissed")


@dlq.command("purge")
@click.confirmation_option(prompt="Forget every dead letter?")
def dlq_purge() -> None:
    with _jobs() as jobs:
        click.echo(f"{jobs.purge_dead_letters()} dead letters removed")


@click.group(help="Jobs, from the operator's side.")
def jobs() -> None:
    pass


@jobs.command("stuck")
@click.option("--older-than", default=900.0, show_default=True, help="seconds since created or started")
@click.option("--redrive", is_flag=True, help="send each one's chain again now")
def jobs_stuck(older_than: float, redrive: bool) -> None:
    with _jobs() as store:
        stuck = store.stuck(older_than)
        for job in stuck:
            click.echo(f"{job.id}  {job.status:<10} created {job.created_at:%Y-%m-%d %H:%M:%S}")
            if redrive and store.redrive(job.id, max_redrives=job.redrives + 1):
                click.echo(f"{job.id}  sent again (re-drive {job.redrives + 1})")
    if not stuck:
        click.echo("no stuck jobs")
