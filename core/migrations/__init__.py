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
    # configparser interpolates "%": a percent-encoded password or host list would be refused unescaped.
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    return config


def sqlalchemy_url(database_url: str) -> str:
    """The same database (a URL or a key=value conninfo), spelled for SQLAlchemy's psycopg 3 dialect. Several
    hosts (``host=a,b port=1,2``, or ``postgresql://a:1,b:2/db``: a primary and its standbys) become SQLAlchemy's
    ``?host=a:1&host=b:2``."""
    params = {k: str(v) for k, v in conninfo_to_dict(database_url).items() if v is not None}
    user, password, dbname = params.pop("user", None), params.pop("password", None), params.pop("dbname", None)
    host, port = params.pop("host", None), params.pop("port", None)
    query: dict[str, str | list[str]] = dict(params)
    if host and "," in host:
        hosts, ports = host.split(","), (port or "").split(",")
        ports = ports * len(hosts) if len(ports) == 1 else ports  # one port for every host, as libpq reads it
        query["host"] = [f"{h}:{p}" if p else h for h, p in zip(hosts, ports, strict=True)]
        host = port = None
    url = URL.create(
        "postgresql+psycopg",
        username=user,
        password=password,
        host=host,
        port=int(port) if port else None,
        database=dbname,
        query=query,
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
