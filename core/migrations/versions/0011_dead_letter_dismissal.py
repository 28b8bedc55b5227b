"""A dead letter an operator settled: replayed, or dismissed with a reason.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE dead_letters ADD COLUMN dismissed_at timestamptz, ADD COLUMN dismissed_why text;
        CREATE INDEX dead_letters_pending ON dead_letters (id) WHERE replayed_at IS NULL AND dismissed_at IS NULL;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX dead_letters_pending;
        ALTER TABLE dead_letters DROP COLUMN dismissed_at, DROP COLUMN dismissed_why;
        """
    )
