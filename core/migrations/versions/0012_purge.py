"""Purge: a job whose images were deleted (on request or after the retention period), and the deletions counted.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE jobs ADD COLUMN purged_at timestamptz;
        -- The retention sweep's question: ended jobs not purged yet, oldest first.
        CREATE INDEX jobs_expirable ON jobs (finished_at)
            WHERE purged_at IS NULL AND status IN ('succeeded', 'failed', 'canceled');
        -- Is an upload still the source of a job that keeps its images?
        CREATE INDEX jobs_source_key ON jobs (source_key) WHERE source_key IS NOT NULL AND purged_at IS NULL;
        CREATE TABLE purges (
            job_id     uuid PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
            tenant     text NOT NULL,
            objects    integer NOT NULL,
            bytes      bigint NOT NULL,
            how        text NOT NULL CHECK (how IN ('request', 'retention')),
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX purges_tenant_time ON purges (tenant, created_at);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE purges;
        DROP INDEX jobs_source_key;
        DROP INDEX jobs_expirable;
        ALTER TABLE jobs DROP COLUMN purged_at;
        """
    )
