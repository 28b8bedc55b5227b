"""The retention sweep's question of batches: finished, not purged yet, oldest first.

Revision ID: 0017
Revises: 0016
"""

from alembic import op

revision = "0017"
down_revision = "0016"


def upgrade() -> None:
    op.execute("CREATE INDEX batches_expirable ON batches (finished_at) WHERE purged_at IS NULL")


def downgrade() -> None:
    op.execute("DROP INDEX batches_expirable")
