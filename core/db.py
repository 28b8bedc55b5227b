"""PostgreSQL: a pool of connections, a statement, a transaction (psycopg 3 + psycopg_pool).

Every PostgreSQL implementation of a port (core/jobstore.py and its
neighbours) and every other store (API keys, webhook secrets) works through
a Database: one pool per process, bounded against a silent peer
(core/timeouts.py), and a failure to reach the server is DatabaseUnavailable.
"""

from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from config import Settings
from core import timeouts
from core.errors import DatabaseUnavailable

Cursor = psycopg.Cursor[dict[str, Any]]


class Database:
    def __init__(
        self,
        database_url: str,
        min_size: int = 1,
        max_size: int = 10,
        name: str = "pixelflow",
        timeout: float = 10,
        connect_options: dict[str, Any] | None = None,
    ) -> None:
        # Connections are in autocommit: a single statement needs no BEGIN and COMMIT around it, and tx()
        # opens a transaction where several statements must be one.
        self.pool = ConnectionPool(
            database_url,
            min_size=min_size,
            max_size=max_size,
            kwargs={
                **(connect_options or {}),
                "application_name": name,
                "row_factory": dict_row,
                "autocommit": True,
            },
            check=self._check,
            timeout=timeout,  # waiting for a connection, then DatabaseUnavailable
            open=False,
        )

    @classmethod
    def for_settings(cls, settings: Settings, min_size: int, max_size: int, name: str, timeout: float = 10) -> Self:
        """The settings' database, its connections bounded against a silent peer (core/timeouts.py)."""
        return cls(settings.database_url, min_size, max_size, name, timeout, timeouts.postgres(settings))

    def open(self) -> None:
        self.pool.open()

    def close(self) -> None:
        self.pool.close()

    @staticmethod
    def _check(conn: psycopg.Connection[Any]) -> None:
        """Test a connection taken from the pool only if the server has said something on it since.

        An idle connection has nothing to read unless the server ended it (a restart, an
        administrator, an idle timeout sends its goodbye and closes): then it is tested (one
        empty query), found dead and replaced, and no call fails for it. A silent socket is
        trusted without a round trip; a peer that vanished without a word is bounded by the
        connection's timeouts (core/timeouts.py) instead.
        """
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
        if readable:
            ConnectionPool.check_connection(conn)

    @contextmanager
    def tx(self) -> Iterator[Cursor]:
        """A transaction (BEGIN … COMMIT): for several statements that must be one."""
        with self.statement() as cur, cur.connection.transaction():
            yield cur

    @contextmanager
    def statement(self) -> Iterator[Cursor]:
        """A cursor in autocommit: each statement is its own transaction, one round trip."""
        try:
            with self.pool.connection() as conn, conn.cursor() as cur:
                yield cur
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise DatabaseUnavailable(f"database unreachable: {exc}") from None

    def ping(self) -> None:
        with self.statement() as cur:
            cur.execute("SELECT 1")
