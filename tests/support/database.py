"""A PostgreSQL database of a test's own on the machine's server: created, migrated, dropped."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from core.migrations import upgrade


@contextmanager
def fresh_database(url: str) -> Iterator[str]:
    """The database named in url, created anew and migrated; dropped at the end."""
    name = sql.Identifier(str(conninfo_to_dict(url)["dbname"]))
    admin = make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    upgrade(url)
    try:
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def named(url: str, suffix: str) -> str:
    """url with its database name extended by suffix: a database beside the run's own."""
    return make_conninfo(url, dbname=f"{conninfo_to_dict(url)['dbname']}_{suffix}")
