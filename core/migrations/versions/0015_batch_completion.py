"""A batch's ending: the relay asks a worker to finish it once (finish_sent_at), its batch.completed webhook's
outcome, and webhook deliveries that belong to a batch rather than a job.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE batches ADD COLUMN finish_sent_at timestamptz,
            ADD COLUMN webhook_status integer, ADD COLUMN webhook_error text;
        -- The relay's look for batches to finish: those whose ending is not yet told, oldest first.
        CREATE INDEX batches_untold ON batches (created_at) WHERE notified_at IS NULL;
        ALTER TABLE webhook_deliveries ALTER COLUMN job_id DROP NOT NULL,
            ADD COLUMN batch_id uuid REFERENCES batches (id) ON DELETE CASCADE,
            ADD CONSTRAINT webhook_deliveries_subject CHECK ((job_id IS NULL) <> (batch_id IS NULL));
        CREATE INDEX webhook_deliveries_batch ON webhook_deliveries (batch_id, id) WHERE batch_id IS NOT NULL;
        CREATE INDEX webhook_deliveries_message ON webhook_deliveries (message_id);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX webhook_deliveries_message;
        DROP INDEX webhook_deliveries_batch;
        DELETE FROM webhook_deliveries WHERE job_id IS NULL;
        ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_subject, DROP COLUMN batch_id,
            ALTER COLUMN job_id SET NOT NULL;
        DROP INDEX batches_untold;
        ALTER TABLE batches DROP COLUMN webhook_error, DROP COLUMN webhook_status, DROP COLUMN finish_sent_at;
        """
    )
