"""Typed settings read from ``PIXELFLOW_*`` environment variables.

Every setting has one declaration here (name, type, default, bounds). The
defaults work against the services of a development machine. All invalid
variables are reported together, each with its environment name.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PREFIX = "PIXELFLOW_"

Positive = Annotated[int, Field(gt=0)]
Seconds = Annotated[float, Field(gt=0)]


# Named output sets a job can ask for with "presets"; PIXELFLOW_PRESETS (JSON) replaces them.
DEFAULT_PRESETS: dict[str, list[dict[str, Any]]] = {
    "thumbnails": [
        {"name": "thumb-webp", "format": "webp", "width": 200},
        {"name": "thumb-jpeg", "format": "jpeg", "width": 200},
        {"name": "large-webp", "format": "webp", "width": 800},
        {"name": "large-jpeg", "format": "jpeg", "width": 800},
    ],
}


class SettingsError(Exception):
    """One or more environment variables are missing or invalid."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", frozen=True)

    # PostgreSQL (psycopg conninfo or URL).
    database_url: str = "postgresql://postgres@127.0.0.1:5432/pixelflow"
    db_pool_min: Annotated[int, Field(ge=0)] = 1
    db_pool_max: Positive = 10
    # python -m core.migrations waits this long for PostgreSQL to answer (a database starting beside it).
    migrate_wait: Annotated[float, Field(ge=0)] = 60

    # RabbitMQ. A cluster's nodes, every one, separated by ";": amqp://u:p@a//;amqp://u:p@b//;amqp://u:p@c//.
    # Every part connects to the first that answers and fails over to the next when its node goes.
    broker_url: str = "amqp://guest:guest@127.0.0.1:5672//"
    queue: str = "pixelflow"

    # Across hosts: how long a silent peer may hold work (core/timeouts.py, docs/deploy.md "Running across hosts").
    # The worker's consumer heartbeat: RabbitMQ drops a worker host that vanished after about twice this and
    # requeues its steps; the worker drops a broker that went silent. 0 turns heartbeats off.
    broker_heartbeat: Annotated[float, Field(ge=0)] = 10
    # The longest a statement's bytes may go unacknowledged by PostgreSQL before the call fails (TCP_USER_TIMEOUT),
    # and the API's wait for a pooled connection: a partitioned database costs a request about this long, then
    # 503 database_unavailable. A connect waits for this rounded up, at least 2 s (libpq's connect_timeout).
    db_timeout: Seconds = 1.5
    # Idle connections (PostgreSQL, AMQP) are probed after this many seconds of silence; a peer that answers no
    # probe is dropped (keepalive: idle + 3 probes, 1/2 idle apart).
    tcp_keepalive: Annotated[float, Field(ge=1)] = 10
    # Ask PostgreSQL to bound its side too (keepalives, TCP_USER_TIMEOUT, idle in transaction), so that it frees
    # the locks of a client host that vanished. Sent as startup options: turn off behind a pooler that refuses
    # them (PgBouncer without options in ignore_startup_parameters).
    db_server_timeouts: bool = True

    # Redis: rate-limit counters.
    redis_url: str = "redis://127.0.0.1:6379/0"
    rate_limit_jobs: str = "600/minute"
    rate_limit_uploads: str = "600/minute"
    # A batch counts its items against this limit (one batch of the largest size a minute by default).
    rate_limit_batch_items: str = "10000/minute"

    # An API process keeps a key it has looked up for this many seconds, so a request costs no PostgreSQL round
    # trip to authenticate: a revoked key is refused by every API process within this time. 0: look up every time.
    api_key_cache_seconds: Annotated[float, Field(ge=0, le=300)] = 5

    # Object storage (S3 API).
    s3_endpoint: str = "127.0.0.1:9000"
    s3_public_endpoint: str = ""
    # Static keys; both empty: credentials come from the environment the AWS way, with no key stored anywhere:
    # web identity (EKS IRSA: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, exchanged with STS
    # AssumeRoleWithWebIdentity and renewed before they expire), else the ECS or EC2 instance role.
    s3_access_key: str = "pixelflow"
    s3_secret_key: str = "pixelflow-secret"  # noqa: S105  (the local S3 server's development default)
    # STS for web identity; empty: AWS's regional endpoint for s3_region (a VPC endpoint or a stand-in here).
    s3_sts_endpoint: str = ""
    s3_bucket: str = "pixelflow"
    s3_region: str = "us-east-1"
    s3_secure: bool = False
    upload_url_ttl: Seconds = 900
    result_url_ttl: Seconds = 3600

    # Limits.
    max_source_bytes: Positive = 50 * 1024 * 1024
    max_source_pixels: Positive = 50_000_000
    max_output_dimension: Positive = 8192
    max_frames: Positive = 100
    max_animation_pixels: Positive = 400_000_000
    max_outputs: Positive = 10
    # Items in one batch (POST /v1/batches), and the size of its request body (a job's body is bounded at 1 MiB).
    batch_max_items: Positive = 10_000
    batch_max_bytes: Positive = 16 * 1024 * 1024
    presets: dict[str, list[dict[str, Any]]] = DEFAULT_PRESETS
    # Event streams (GET /v1/jobs/{id}/events, /v1/batches/{id}/events): a heartbeat comment this often, and a
    # stream closed after this long (the client resumes from Last-Event-ID, on any API process).
    events_heartbeat: Seconds = 15
    events_max_seconds: Seconds = 300

    # Network peers (URL sources and webhooks).
    fetch_timeout: Seconds = 10
    webhook_timeout: Seconds = 10
    # Standard Webhooks secrets ("whsec_" + base64); every one signs, so a receiver can rotate.
    webhook_secrets: Annotated[list[str], NoDecode] = []
    webhook_max_retries: Annotated[int, Field(ge=0)] = 16
    # Hosts or CIDRs a URL source may reach although they are not public.
    fetch_allow: Annotated[list[str], NoDecode] = []

    # Workers.
    task_events: bool = False
    # Each worker serves its metrics here (its pool children's, summed); port 0 serves none.
    # (The container image sets both hosts to 0.0.0.0: Prometheus scrapes from elsewhere.)
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: Annotated[int, Field(ge=0, le=65535)] = 9808
    # The exporter (python -m tasks.exporter): queue depth, outbox backlog, unfinished jobs.
    exporter_host: str = "127.0.0.1"
    exporter_port: Annotated[int, Field(ge=1, le=65535)] = 9809
    # The relay's counters (chains published, dead letters, re-drives, the jobs it ends); port 0 serves none.
    relay_metrics_host: str = "127.0.0.1"
    relay_metrics_port: Annotated[int, Field(ge=0, le=65535)] = 9810
    # The sweeper (in the relay): a job queued or processing for stuck_after seconds is sent again,
    # up to max_redrives times, then failed with "stuck".
    stuck_after: Seconds = 900
    sweep_interval: Seconds = 60
    # The relay feeds the work queues at the workers' pace: it publishes a chain only while every work queue holds
    # fewer ready messages than this many per consumer, taking the tenants in turn, so that a tenant's big batch
    # waits in the outbox, not in front of another tenant's job in the queue. 0: publish everything at once.
    relay_ready_per_consumer: Annotated[int, Field(ge=0)] = 2
    # The bound while tenants share the workers (more than one served in the last SHARED_SECONDS, tasks/relay.py),
    # when lower: a job of one waits behind fewer of another's. Alone, a tenant keeps the fuller queue.
    relay_ready_per_consumer_shared: Annotated[int, Field(ge=1)] = 1
    # While the queues are full, a tenant the relay has not served for this many seconds still gets its next
    # chain out (one per tenant at a time, core/turns.py): a tenant's occasional job does not wait for room the
    # batch of another fills. 0: every tenant waits for room.
    relay_pass_after: Annotated[float, Field(ge=0)] = 0.5
    max_redrives: Annotated[int, Field(ge=0)] = 2
    # Retention: a job's images (outputs, its upload, its staged source) are deleted this many days after it
    # ended, and an upload no job kept after it was written; the job's record stays (purged_at). The sweeper
    # does it in batches (core/purge.py). 0 keeps everything.
    retention_days: Annotated[float, Field(ge=0)] = 0
    # Deliveries of one message before RabbitMQ dead-letters it (a child that dies on it every time).
    delivery_limit: Annotated[int, Field(ge=1)] = 3
    # Test hooks, off unless set (core/failpoints.py), e.g. "transform:kill" or "upload.before-commit:exit:first".
    failpoints: Annotated[list[str], NoDecode] = []
    # Retries of a step on a transient error; the backoff doubles from 2 s (tasks/pipeline.py): 8 wait >= 255 s.
    task_max_retries: Annotated[int, Field(ge=0)] = 8
    task_soft_time_limit: Seconds = 120
    task_time_limit: Seconds = 150
    worker_max_tasks_per_child: Positive = 1000
    # A step whose queue this worker consumes runs inside the task of the step before it, as long as that task
    # has used under a tenth of its soft time limit (tasks/pipeline.py): on a worker of both queues a job is one
    # message, not five; worker-io and worker-transform pass it between them in three. false: a task per step.
    worker_inline_steps: bool = True
    # A cold shutdown (SIGQUIT) that has not ended after this long kills the pool children still alive (their
    # steps are delivered again), and after as long again ends the worker (tasks/shutdown.py).
    worker_cold_shutdown_seconds: Seconds = 30
    worker_max_memory_per_child_kb: Positive = 1_000_000

    log_level: str = "INFO"
    # Errors to Sentry when set (events are scrubbed of secrets first: core/redact.py).
    sentry_dsn: str | None = None
    sentry_environment: str = "production"
    sentry_traces_sample_rate: Annotated[float, Field(ge=0, le=1)] = 0.0

    @field_validator("fetch_allow", "failpoints", "webhook_secrets", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("webhook_secrets")
    @classmethod
    def _secrets_decode(cls, value: list[str]) -> list[str]:
        import base64
        import binascii

        for secret in value:
            try:
                key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
            except binascii.Error:
                raise ValueError("each secret is 'whsec_' followed by base64") from None
            if len(key) < 24:
                raise ValueError("each secret needs at least 24 bytes of key")
        return value

    @model_validator(mode="after")
    def _keys_together(self) -> Settings:
        if bool(self.s3_access_key) != bool(self.s3_secret_key):
            raise ValueError(
                "PIXELFLOW_S3_ACCESS_KEY and PIXELFLOW_S3_SECRET_KEY go together: give both, or neither for "
                "credentials from the environment (web identity, instance role)"
            )
        return self

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @property
    def presign_endpoint(self) -> str:
        return self.s3_public_endpoint or self.s3_endpoint


def load_settings() -> Settings:
    """Read the environment now; raise SettingsError naming every bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_context=False):
            field = str(error["loc"][0]) if error["loc"] else ""
            problems.append(f"{PREFIX}{field.upper()}: {error['msg']} ({_shown(field, error.get('input'))})")
        raise SettingsError(problems) from None


# Settings whose value is a secret: an error names the variable and the problem, never the value (one bad
# webhook secret must not print the good ones).
SECRETS = frozenset({"webhook_secrets", "s3_secret_key", "s3_access_key", "sentry_dsn"})


def _shown(field: str, value: object) -> str:
    return "the value is secret, not shown" if field in SECRETS else f"got {value!r}"


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read on first use (never at import)."""
    return load_settings()
