"""The ports' contract: every test here runs against the in-memory store and against PostgreSQL.

The PostgreSQL one gets a database of this module's own (no relay or worker
of the session reads it), so what a test sees is only what it did.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from core.jobstore import JobStore
from core.memory import MemoryJobs
from tests.support.database import fresh_database, named


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    from config import get_settings

    get_settings.cache_clear()
    with fresh_database(named(get_settings().database_url, "contract")) as url:
        yield url


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("postgres", marks=pytest.mark.integration),
    ]
)
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryJobs()
        return
    jobs = JobStore(request.getfixturevalue("postgres_url"), 1, 2, "pixelflow-contract")
    jobs.open()
    yield jobs
    jobs.close()
