"""A PixelFlow of the benchmark's own: its database, queue, bucket, S3 server, API and workers."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from config import Settings
from core.jobstore import JobStore
from core.keystore import KeyStore
from core.migrations import upgrade
from core.objectstore import S3ObjectStore
from tests.support.stack import ROOT, Api, Relay, S3Server, Worker, free_port


@dataclass
class BenchStack:
    run_dir: Path
    workers: int = os.cpu_count() or 2
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env = {
            "PIXELFLOW_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/pixelflow_bench",
            "PIXELFLOW_QUEUE": "pixelflow-bench",
            "PIXELFLOW_S3_ENDPOINT": f"127.0.0.1:{free_port()}",
            "PIXELFLOW_S3_BUCKET": "pixelflow-bench",
            "PIXELFLOW_DB_POOL_MAX": "8",
            # The benchmark is one tenant: its rate limits are out of the way (their cost is still paid).
            "PIXELFLOW_RATE_LIMIT_JOBS": "100000000/minute",
            "PIXELFLOW_RATE_LIMIT_UPLOADS": "100000000/minute",
            "PIXELFLOW_RATE_LIMIT_BATCH_ITEMS": "100000000/minute",
            **self.env,
        }
        self.settings = Settings.model_validate({k.removeprefix("PIXELFLOW_").lower(): v for k, v in self.env.items()})
        self.api_bind = f"127.0.0.1:{free_port()}"
        self.s3 = S3Server(
            self.settings.s3_endpoint,
            self.settings.s3_access_key,
            self.settings.s3_secret_key,
            self.run_dir / "s3-data",
            self.run_dir / "s3.log",
        )
        self.api = Api(self.api_bind, self.run_dir / "api.log", self.env)
        self.relay = Relay(self.run_dir / "relay.log", self.env)
        self.worker = self.new_worker()
        self.http = httpx.Client(base_url=f"http://{self.api_bind}", timeout=30)

    def new_worker(self, extra_env: dict[str, str] | None = None, root: Path = ROOT) -> Worker:
        env = {**self.env, **(extra_env or {})}
        return Worker("pixelflow-bench", self.run_dir / "worker.log", self.workers, env, root=root)

    def start(self) -> None:
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self.run_dir.mkdir(parents=True)
        self._recreate_database()
        self.s3.start()
        self.store = S3ObjectStore(self.settings)
        self.store.ensure_bucket()
        self.jobs = JobStore(self.settings.database_url, 1, 2, name="pixelflow-bench")
        self.jobs.open()
        self.api_key = KeyStore(self.jobs).create("bench", "bench")[1]
        self.http.headers["Authorization"] = f"Bearer {self.api_key}"
        self.api.start()
        self.relay.start()
        self.worker.start()

    def stop(self) -> None:
        for process in (self.worker, self.relay, self.api, self.s3):
            process.stop()
        self.jobs.close()
        self.http.close()
        from kombu import Connection

        from tasks.topology import delete_all

        with Connection(self.settings.broker_url) as conn:
            delete_all(conn, self.settings)
        self._drop_database()

    def _admin(self) -> tuple[str, str]:
        url = self.settings.database_url
        return make_conninfo(url, dbname="postgres"), conninfo_to_dict(url)["dbname"]  # type: ignore[return-value]

    def _recreate_database(self) -> None:
        self._drop_database()
        admin, name = self._admin()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        upgrade(self.settings.database_url)

    def _drop_database(self) -> None:
        admin, name = self._admin()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def submit(self, body: dict[str, Any]) -> str:
        response = self.http.post("/v1/jobs", json=body)
        if response.status_code != 202:
            raise RuntimeError(f"job refused: {response.status_code} {response.text}")
        return str(response.json()["id"])

    def wait(self, ids: list[str], timeout: float) -> list[dict[str, Any]]:
        """Wait until every job has ended; return their rows (status, created_at, started_at, finished_at)."""
        deadline = time.monotonic() + timeout
        uuids = [uuid.UUID(i) for i in ids]
        while True:
            with (
                psycopg.connect(self.settings.database_url) as conn,
                conn.cursor(row_factory=psycopg.rows.dict_row) as cur,
            ):
                cur.execute(
                    "SELECT id, status, error_code, created_at, started_at, finished_at FROM jobs WHERE id = ANY(%s)",
                    (uuids,),
                )
                rows = cur.fetchall()
            if all(r["status"] in ("succeeded", "failed") for r in rows) and len(rows) == len(ids):
                return rows
            if time.monotonic() > deadline:
                pending = sum(r["status"] not in ("succeeded", "failed") for r in rows)
                raise TimeoutError(f"{pending} of {len(ids)} jobs still running after {timeout}s")
            time.sleep(0.1)
