"""Migrations started by several pods at once (the chart's init containers) apply once."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from config import Settings
from tests.support.stack import ROOT


def test_migrations_started_together_take_turns(settings: Settings) -> None:
    name = "pixelflow_migrations_race"
    admin = make_conninfo(settings.database_url, dbname="postgres")
    url = make_conninfo(settings.database_url, dbname=name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PIXELFLOW_DATABASE_URL": url}
        runners = [
            subprocess.Popen(
                [sys.executable, "-m", "core.migrations"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
            )
            for _ in range(4)
        ]
        errors = [runner.communicate(timeout=120)[1] for runner in runners]
        assert [runner.returncode for runner in runners] == [0, 0, 0, 0], errors
        with psycopg.connect(url) as conn:
            versions = conn.execute("SELECT version_num FROM alembic_version").fetchall()
            tables = conn.execute(
                "SELECT count(*) FROM pg_tables WHERE tablename IN ('jobs', 'outbox', 'usage')"
            ).fetchone()
        assert len(versions) == 1 and tables == (3,)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
