"""Usage: one row per succeeded job, written in the same transaction that marks it done.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE jobs ADD COLUMN compute_ms integer;
        CREATE TABLE usage (
            job_id      uuid PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
            tenant      text NOT NULL,
            pixels      bigint NOT NULL,
            bytes_in    bigint NOT NULL,
            bytes_out   bigint NOT NULL,
            bytes_saved bigint NOT NULL,
            compute_ms  integer NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX usage_tenant_time ON usage (tenant, created_at);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE usage; ALTER TABLE jobs DROP COLUMN compute_ms;")
