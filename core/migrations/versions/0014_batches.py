"""Batches: many sources, one request; every item a job of its own that names its batch.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE batches (
            id              uuid PRIMARY KEY,
            tenant          text NOT NULL,
            items           integer NOT NULL CHECK (items > 0),
            webhook_url     text,
            created_at      timestamptz NOT NULL DEFAULT now(),
            canceled_at     timestamptz,
            -- Set once every item has ended (and cleared by a retry): the sweeper's guarded step.
            finished_at     timestamptz,
            manifest_key    text,
            notified_at     timestamptz,
            purged_at       timestamptz,
            idempotency_key text,
            request_hash    text,
            UNIQUE (tenant, idempotency_key)
        );
        CREATE INDEX batches_tenant_id ON batches (tenant, id DESC);
        CREATE INDEX batches_open ON batches (created_at) WHERE finished_at IS NULL;
        ALTER TABLE jobs ADD COLUMN batch_id uuid REFERENCES batches (id), ADD COLUMN batch_item integer;
        -- A batch's counts by state and its pages of jobs, from the index alone.
        CREATE INDEX jobs_batch ON jobs (batch_id, status, id) WHERE batch_id IS NOT NULL;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX jobs_batch;
        ALTER TABLE jobs DROP COLUMN batch_item, DROP COLUMN batch_id;
        DROP TABLE batches;
        """
    )
