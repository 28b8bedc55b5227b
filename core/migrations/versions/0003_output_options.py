"""Output operations and options, the format an output got, and placeholders.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE job_outputs
            ADD COLUMN options       jsonb NOT NULL DEFAULT '{}',
            ADD COLUMN result_format text;
        ALTER TABLE jobs
            ADD COLUMN placeholder_requested boolean NOT NULL DEFAULT false,
            ADD COLUMN placeholder           text,
            ADD COLUMN source_frames         integer;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        ALTER TABLE job_outputs DROP COLUMN options, DROP COLUMN result_format;
        ALTER TABLE jobs DROP COLUMN placeholder_requested, DROP COLUMN placeholder, DROP COLUMN source_frames;
        """
    )
