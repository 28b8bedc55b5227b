"""The built image (``make image``), run against this machine's services: ``make image-check``.

The services are the integration tests' own (a database, a queue, a bucket
and an S3 server process of this run's own); the image's roles reach them
over the host's loopback, as containers on a host network would.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from config import Settings
from tests.image.container import Image, available
from tests.integration.conftest import broker_queue, s3_server, settings

__all__ = ["broker_queue", "s3_server", "settings"]

ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


@pytest.fixture(scope="session")
def image() -> Image:
    assert available(), "buildah, unshare, nsenter and chroot are needed (scripts/image installs buildah)"
    return Image(os.environ.get("PIXELFLOW_IMAGE", f"localhost/pixelflow:{ARCH}"))


@pytest.fixture(scope="session")
def empty_database(settings: Settings) -> Iterator[str]:
    """A database of this run's own with no schema: the image's migrate role makes it."""
    name = str(conninfo_to_dict(settings.database_url)["dbname"])
    admin = make_conninfo(settings.database_url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield settings.database_url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("containers")
