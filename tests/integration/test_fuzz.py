"""The whole API fuzzed from its own OpenAPI document by the schemathesis command, as an operator runs it.

Every check (``--checks all``), every phase (examples, coverage, fuzzing, and
stateful runs that follow the document's links), over every operation the
document has, with an admin key of its tenant: no 5xx, and every response --
status, content type, headers, body -- one the document declares; schema-valid
requests accepted, invalid ones refused. tests/integration/schemathesis.toml
names the two narrowings (422s for rules JSON Schema cannot state, on two
operations; no use-after-free check, a purged job being readable). Bounded:
a fixed number of examples per operation, one seed.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from config import Settings
from core.keystore import KeyStore
from tests import images
from tests.integration.conftest import authed
from tests.support.api import upload
from tests.support.database import fresh_database

EXAMPLES = 25


@pytest.fixture(scope="module")
def fuzz_app(services_up: None, settings: Settings) -> Iterator[Flask]:
    """The API on a database of its own that no relay reads: fuzzed jobs are accepted, never fetched."""
    from app import create_app

    url = make_conninfo(settings.database_url, dbname=f"{conninfo_to_dict(settings.database_url)['dbname']}_fuzz")
    with fresh_database(url):
        # Event streams close after a second: schemathesis reads every response to its end.
        update = {"database_url": url, "events_max_seconds": 1.0, "events_heartbeat": 0.5}
        flask_app = create_app(settings.model_copy(update=update))
        yield flask_app
        flask_app.extensions["pixelflow"].jobs.close()


@pytest.fixture(scope="module")
def fuzz_key(fuzz_app: Flask) -> str:
    return KeyStore(fuzz_app.extensions["pixelflow"].jobs).create("tenant-fuzz", "fuzz", "admin")[1]


@pytest.fixture(scope="module")
def served_api(fuzz_app: Flask) -> Iterator[str]:
    """The fuzzed API over real HTTP, for the schemathesis command line."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *_: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, fuzz_app, threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def test_schemathesis_with_every_check_and_stateful_links_finds_nothing(
    served_api: str, fuzz_app: Flask, fuzz_key: str, tmp_path: Path
) -> None:
    # What an operator runs: the schemathesis command, every check, every phase (examples, coverage, fuzzing, and
    # stateful runs that follow the document's links: upload → job → its deliveries, retry, cancel), over every
    # operation the document has.
    uploaded = upload(authed(fuzz_app, fuzz_key), images.jpeg(64, 48))
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        Path(__file__).with_name("schemathesis.toml").read_text()
        + f'\n[dictionaries.uploaded]\nvalues = ["{uploaded}"]\n'
    )
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "--config-file",
            str(config),
            "run",
            f"{served_api}/openapi.json",
            "--checks",
            "all",
            # DELETE /v1/jobs/{id} deletes a job's images, not its record (schemathesis.toml says why).
            "--exclude-checks",
            "use_after_free",
            "--header",
            f"Authorization: Bearer {fuzz_key}",
            "--generation-with-security-parameters",
            "false",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            "1",
            "--workers",
            "1",
            "--no-color",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    (tmp_path / "schemathesis.txt").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
