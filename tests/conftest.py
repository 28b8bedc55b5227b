"""Test-wide setup: every run gets its own database, queue, bucket and S3 port.

The names are put into the environment before anything reads settings, so
the Celery app in this process and the worker subprocesses agree on them.
"""

from __future__ import annotations

import base64
import os
import secrets

import pytest

from tests.support.stack import free_port

RUN_ID = secrets.token_hex(4)
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"pixelflow-tests-webhook-secret-32b").decode()


def pytest_configure(config: pytest.Config) -> None:
    os.environ.update(
        PIXELFLOW_DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/pixelflow_test_{RUN_ID}",
        PIXELFLOW_QUEUE=f"pixelflow-test-{RUN_ID}",
        PIXELFLOW_S3_ENDPOINT=f"127.0.0.1:{free_port()}",
        PIXELFLOW_S3_BUCKET=f"pixelflow-test-{RUN_ID}",
        PIXELFLOW_S3_ACCESS_KEY="pixelflow-test",
        PIXELFLOW_S3_SECRET_KEY="pixelflow-test-secret",
        PIXELFLOW_FETCH_ALLOW="127.0.0.1,::1,localhost",
        PIXELFLOW_TASK_MAX_RETRIES="2",
        PIXELFLOW_DB_POOL_MAX="4",
        PIXELFLOW_WEBHOOK_SECRETS=WEBHOOK_SECRET,
    )


# The tiers (pyproject's markers): make test-unit runs "unit", make test all of them.
_TOOLS = {"test_chart.py", "test_terraform.py", "test_alerts.py", "test_deploy.py"}
_FAULTS = {"test_fault_suite.py", "test_faults.py", "test_hosts.py", "test_worker_health.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.parts
        if item.get_closest_marker("unit") or item.get_closest_marker("integration"):
            continue  # chosen by the test itself (tests/contract: one parameter each)
        if "unit" in parts:
            item.add_marker(pytest.mark.tools if item.path.name in _TOOLS else pytest.mark.unit)
        elif "integration" in parts:
            item.add_marker(pytest.mark.integration)
            if item.path.name in _FAULTS:
                item.add_marker(pytest.mark.fault)
