"""What loads with what, in a fresh interpreter: the import graph (lint-imports) says what may import what;
these say what a process actually pulls in."""

from __future__ import annotations

import subprocess
import sys

from scripts.stack import ROOT


def loaded_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT)},
    )
    return set(result.stdout.split())


def test_the_imaging_loads_without_celery_a_broker_client_or_a_database_driver() -> None:
    loaded = loaded_after("import tasks.imaging.render, tasks.imaging.probe")
    assert not loaded & {"celery", "kombu", "psycopg", "psycopg_pool", "minio"}, loaded


def test_the_steps_load_without_celery_a_broker_database_or_storage_client() -> None:
    loaded = loaded_after("import tasks.steps, tasks.outcomes, core.memory")
    assert not loaded & {"celery", "kombu", "psycopg", "psycopg_pool", "minio"}, loaded


def test_celery_finds_the_app_when_asked_for_it() -> None:
    assert "celery" in loaded_after("import tasks; tasks.app")
    out = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "tasks", "report"], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout
    assert "pixelflow" in out and "tasks.pipeline" in out
