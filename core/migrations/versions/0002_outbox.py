"""The outbox: a job's chain is published by the relay after the job's transaction commits.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE outbox (
            id         bigserial PRIMARY KEY,
            job_id     uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            created_at timestamptz NOT NULL DEFAULT now(),
            sent_at    timestamptz
        );
        CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE outbox;")
