"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis).

Every operation gets generated requests, valid and not, with a key of its
tenant: no 5xx, and every response -- status, content type, headers, body --
must be one the document declares. Bounded: a fixed number of examples per
operation and no deadline (the machine is shared). Driven through
Hypothesis directly: schemathesis's pytest plugin does not run on pytest 9.

Left out: the check that schema-valid requests are accepted. A 422 is the
documented answer to requests the schema cannot judge -- an upload key that
was never uploaded, both or neither of key and url, 'from' after 'to'.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from config import Settings
from core.keystore import KeyStore
from tests.integration.conftest import fresh_database

EXAMPLES = 25


@pytest.fixture(scope="module")
def fuzz_app(services_up: None, settings: Settings) -> Iterator[Flask]:
    """The API on a database of its own that no relay reads: fuzzed jobs are accepted, never fetched."""
    from app import create_app

    url = make_conninfo(settings.database_url, dbname=f"{conninfo_to_dict(settings.database_url)['dbname']}_fuzz")
    with fresh_database(url):
        flask_app = create_app(settings.model_copy(update={"database_url": url}))
        yield flask_app
        flask_app.extensions["pixelflow"].jobs.close()


@pytest.fixture(scope="module")
def fuzz_key(fuzz_app: Flask) -> str:
    return KeyStore(fuzz_app.extensions["pixelflow"].jobs).create("tenant-fuzz", "fuzz")[1]


@pytest.fixture(scope="module")
def api_schema(fuzz_app: Flask) -> Any:
    loaded = schemathesis.openapi.from_wsgi("/openapi.json", fuzz_app)
    # The key is sent with every request; the Authorization header is not fuzzed (test_tenants.py covers auth).
    loaded.config.generation.update(with_security_parameters=False)
    return loaded


def test_every_operation_is_fuzzed(api_schema: Any) -> None:
    labels = {result.ok().label for result in api_schema.get_all_operations()}
    assert {"POST /v1/jobs", "GET /v1/jobs/{job_id}", "POST /v1/uploads", "GET /v1/usage"} <= labels, labels


VALID, INVALID = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
OPERATIONS = [
    *[
        pytest.param(label, mode, id=f"{label} {mode.value}")
        for label in (
            "POST /v1/uploads",
            "POST /v1/jobs",
            "GET /v1/jobs",
            "GET /v1/jobs/{job_id}",
            "GET /v1/jobs/{job_id}/deliveries",
            "POST /v1/jobs/{job_id}/retry",
            "POST /v1/jobs/{job_id}/cancel",
            "GET /v1/usage",
        )
        for mode in (VALID, INVALID)
    ],
    # Nothing in these requests can be made invalid.
    pytest.param("GET /healthz", VALID, id="GET /healthz positive"),
    pytest.param("GET /readyz", VALID, id="GET /readyz positive"),
]


@pytest.mark.parametrize(("label", "mode"), OPERATIONS)
def test_no_request_breaks_the_api_or_its_documented_contract(
    api_schema: Any, fuzz_key: str, label: str, mode: GenerationMode
) -> None:
    method, path = label.split(" ", 1)
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def run(case: Any) -> None:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {fuzz_key}"}, excluded_checks=[positive_data_acceptance]
        )

    run()
