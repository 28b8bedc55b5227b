"""What loads with what, in a fresh interpreter: the import graph (lint-imports) says what may import what;
these say what a process actually pulls in."""

from __future__ import annotations

import subprocess
import sys

from tests.support.stack import ROOT


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


def test_the_commands_the_image_runs_are_installed_entry_points() -> None:
    from importlib.metadata import entry_points

    scripts = {e.name: e for e in entry_points(group="console_scripts") if e.name.startswith("pixelflow-")}
    assert set(scripts) == {"pixelflow-relay", "pixelflow-exporter", "pixelflow-migrate"}
    assert all(callable(e.load()) for e in scripts.values())
    commands = {e.name for e in entry_points(group="celery.commands") if e.value.startswith("tasks.")}
    assert commands == {"dlq", "jobs"}
    entrypoint = (ROOT / "scripts/container-entrypoint").read_text()
    assert all(f"exec {name} " in entrypoint for name in scripts)


def test_the_commit_hooks_are_valid_and_run_what_make_lint_runs() -> None:
    import yaml

    config = ROOT / ".pre-commit-config.yaml"
    subprocess.run([sys.executable, "-m", "pre_commit", "validate-config", str(config)], check=True, cwd=ROOT)
    hooks = {h["id"]: h["entry"] for repo in yaml.safe_load(config.read_text())["repos"] for h in repo["hooks"]}
    assert set(hooks) == {"ruff", "ruff-format", "mypy", "import-linter"}
    lint = (ROOT / "scripts/lint").read_text()
    for entry in hooks.values():
        tool = entry.split()[0].removeprefix(".venv/bin/")
        assert tool in lint, f"make lint does not run {tool}"
