"""The effect ledger: one row per (job, step) whose effect is recorded.

Written in the transaction of the step's own state change; a repeated step
(a redelivery, a re-driven chain) finds its row and does not run again.
A retried job starts with an empty ledger.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE job_steps (
            job_id  uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            step    text NOT NULL CHECK (step IN ('fetch', 'validate', 'transform', 'upload', 'notify')),
            done_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (job_id, step)
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE job_steps;")
