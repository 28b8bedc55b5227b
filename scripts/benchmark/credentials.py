"""Storage credentials without keys: minio's provider (what PixelFlow uses; its HEAD goes through obstore) against
botocore's credential chain, both on web identity from the same local STS stand-in, interleaved round by round, in
this process.

For each session lifetime: CPU per signed HEAD to the S3 server, and STS calls over the run. botocore renews a
session inside its refresh windows (15 and 10 minutes before expiry), so a session shorter than that is renewed
on every request; minio renews 10 s before expiry.
"""

from __future__ import annotations

import functools
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.support.stack import S3Server, free_port
from tests.support.sts import ROLE, STS, TOKEN

ROUNDS, HEADS = 6, 300


def measure(lifetimes_s: tuple[int, ...] = (3600, 900)) -> list[dict[str, Any]]:
    import boto3
    from botocore.config import Config

    from config import Settings
    from core.objectstore import S3ObjectStore

    data = Path(tempfile.mkdtemp(prefix="pixelflow-bench-creds-"))
    port = free_port()
    s3 = S3Server(f"127.0.0.1:{port}", "bench-key", "bench-secret-key", data, data.with_suffix(".log"))
    s3.start()
    (data / "token").write_text(TOKEN)
    saved = dict(os.environ)
    rows = []
    try:
        for lifetime in lifetimes_s:
            sts = STS("bench-key", "bench-secret-key", timedelta(seconds=lifetime))
            thread = threading.Thread(target=sts.serve_forever, daemon=True)
            thread.start()
            os.environ.update(
                AWS_WEB_IDENTITY_TOKEN_FILE=str(data / "token"),
                AWS_ROLE_ARN=ROLE,
                AWS_ROLE_SESSION_NAME="pixelflow-bench",
                AWS_ENDPOINT_URL_STS=sts.url,
                AWS_DEFAULT_REGION="us-east-1",
            )
            settings = Settings(
                s3_endpoint=f"127.0.0.1:{port}",
                s3_bucket="bench-credentials",
                s3_access_key="",
                s3_secret_key="",
                s3_sts_endpoint=sts.url,
            )
            ours = S3ObjectStore(settings)
            ours.ensure_bucket()
            ours.put("uploads/a.jpg", b"x" * 1000, "image/jpeg")
            config = Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 3})
            theirs = boto3.session.Session().client("s3", endpoint_url=f"http://127.0.0.1:{port}", config=config)
            heads: dict[str, Callable[[], object]] = {
                "PixelFlow (obstore, minio's provider)": functools.partial(ours.head, "uploads/a.jpg"),
                "botocore": functools.partial(theirs.head_object, Bucket="bench-credentials", Key="uploads/a.jpg"),
            }
            cpu: dict[str, list[float]] = {name: [] for name in heads}
            calls = dict.fromkeys(heads, 0)
            for name in heads:
                heads[name]()  # the first exchange, outside the count
            for n in range(ROUNDS):
                for name in list(heads)[:: 1 if n % 2 == 0 else -1]:
                    before, started = len(sts.calls), time.process_time()
                    for _ in range(HEADS):
                        heads[name]()
                    cpu[name].append((time.process_time() - started) * 1000 / HEADS)
                    calls[name] += len(sts.calls) - before
            for name in heads:
                rows.append(
                    {
                        "session_s": lifetime,
                        "client": name,
                        "cpu_ms_per_head": round(statistics.median(cpu[name]), 3),
                        "sts_calls": calls[name],
                        "heads": ROUNDS * HEADS,
                    }
                )
            sts.shutdown()
            sts.server_close()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        s3.stop()
    return rows
