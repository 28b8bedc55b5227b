"""Re-drives by the sweeper.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE jobs ADD COLUMN redrives integer NOT NULL DEFAULT 0,
                         ADD COLUMN redriven_at timestamptz;
        CREATE INDEX jobs_unfinished ON jobs (created_at) WHERE status IN ('queued', 'processing');
        """
    )


def downgrade() -> None:
    op.execute("DROP INDEX jobs_unfinished; ALTER TABLE jobs DROP COLUMN redrives, DROP COLUMN redriven_at;")
