"""A job's placeholder type: blurhash or thumbhash. NULL with placeholder_requested is blurhash (the jobs made
before there was a choice), so old rows and old code go on as they were.

Revision ID: 0018
Revises: 0017
"""

from alembic import op

revision = "0018"
down_revision = "0017"


def upgrade() -> None:
    op.execute(
        "ALTER TABLE jobs ADD COLUMN placeholder_type text"
        " CONSTRAINT jobs_placeholder_type CHECK (placeholder_type IN ('blurhash', 'thumbhash'))"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE jobs DROP COLUMN placeholder_type")
