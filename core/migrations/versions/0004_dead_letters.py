"""Dead letters moved out of RabbitMQ, and the canceled status.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE dead_letters (
            id             bigserial PRIMARY KEY,
            job_id         uuid,
            task           text NOT NULL,
            reason         text NOT NULL,
            delivery_count integer,
            message        jsonb NOT NULL,
            created_at     timestamptz NOT NULL DEFAULT now(),
            replayed_at    timestamptz
        );
        CREATE INDEX dead_letters_job ON dead_letters (job_id);

        ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;
        ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
            CHECK (status IN ('queued', 'processing', 'succeeded', 'failed', 'canceled'));
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE dead_letters;
        ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;
        ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
            CHECK (status IN ('queued', 'processing', 'succeeded', 'failed'));
        """
    )
