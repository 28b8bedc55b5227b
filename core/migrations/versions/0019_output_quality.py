"""An output's quality "auto" result: the quality chosen and the SSIMULACRA2 score it reached (NULL otherwise).

Revision ID: 0019
Revises: 0018
"""

from alembic import op

revision = "0019"
down_revision = "0018"


def upgrade() -> None:
    op.execute("ALTER TABLE job_outputs ADD COLUMN result_quality smallint, ADD COLUMN result_score real")


def downgrade() -> None:
    op.execute("ALTER TABLE job_outputs DROP COLUMN result_quality, DROP COLUMN result_score")
