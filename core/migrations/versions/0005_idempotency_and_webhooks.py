"""Idempotency keys for job creation; webhook delivery attempts and disabled endpoints.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE idempotency_keys (
            key          text PRIMARY KEY,
            request_hash text NOT NULL,
            job_id       uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            created_at   timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE webhook_deliveries (
            id          bigserial PRIMARY KEY,
            job_id      uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            message_id  text NOT NULL,
            url         text NOT NULL,
            attempt     integer NOT NULL,
            status_code integer,
            error       text,
            duration_ms integer NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX webhook_deliveries_job ON webhook_deliveries (job_id, id);

        CREATE TABLE webhook_endpoints_disabled (
            url         text PRIMARY KEY,
            reason      text NOT NULL,
            disabled_at timestamptz NOT NULL DEFAULT now()
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE webhook_endpoints_disabled; DROP TABLE webhook_deliveries; DROP TABLE idempotency_keys;")
