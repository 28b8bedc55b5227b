"""Schema migrations (Alembic). ``python -m core.migrations`` upgrades to head."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import URL

HERE = Path(__file__).parent


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url))
    return config


def sqlalchemy_url(database_url: str) -> str:
    """The same database (a URL or a key=value conninfo), spelled for SQLAlchemy's psycopg 3 dialect."""
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix) :]
    params = {k: str(v) for k, v in conninfo_to_dict(database_url).items() if v is not None}
    url = URL.create(
        "postgresql+psycopg",
        username=params.pop("user", None),
        password=params.pop("password", None),
        host=params.pop("host", None),
        port=int(params.pop("port")) if "port" in params else None,
        database=params.pop("dbname", None),
        query={k: str(v) for k, v in params.items()},
    )
    return url.render_as_string(hide_password=False)


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def wait_for_database(database_url: str, seconds: float) -> None:
    """Return once PostgreSQL accepts a connection; SystemExit after ``seconds`` of refusals.

    Beside a database that is still starting (compose, a pod next to a new
    server), the first attempts fail; the schema is only touched once it answers.
    """
    deadline = time.monotonic() + seconds
    said = False
    while True:
        try:
            psycopg.connect(database_url, connect_timeout=3).close()
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() >= deadline:
                raise SystemExit(f"migrations: PostgreSQL did not answer within {seconds:.0f} s: {exc}") from None
            if not said:
                print(f"migrations: waiting for PostgreSQL ({str(exc).strip()})", file=sys.stderr)
                said = True
            time.sleep(1)


def main(argv: list[str] | None = None) -> None:
    """pixelflow-migrate [revision]: wait for PostgreSQL, then upgrade the database to head (or revision)."""
    from config import get_settings

    args = sys.argv[1:] if argv is None else argv
    settings = get_settings()
    wait_for_database(settings.database_url, settings.migrate_wait)
    upgrade(settings.database_url, args[0] if args else "head")
