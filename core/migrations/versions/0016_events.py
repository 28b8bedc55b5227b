"""Live events: triggers NOTIFY pixelflow_events when a job starts, a step ends, a job ends or a batch finishes.

The API's event streams (core/events.py) listen on the channel, from any
host; a notification is only a hint to read the job or the batch again, so a
lost one delays an event, it never loses it. Sent at commit, in the writing
statement's own transaction: no round trip more for the steps.

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = "0016"
down_revision = "0015"


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION pixelflow_job_event() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('pixelflow_events', json_build_object(
                'type', CASE WHEN NEW.status IN ('succeeded', 'failed', 'canceled') THEN 'job.ended'
                             WHEN NEW.status = 'processing' THEN 'job.started' ELSE 'job.queued' END,
                'job', NEW.id, 'batch', NEW.batch_id, 'status', NEW.status)::text);
            RETURN NULL;
        END $$;
        CREATE TRIGGER jobs_event AFTER UPDATE OF status ON jobs
            FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION pixelflow_job_event();

        CREATE FUNCTION pixelflow_step_event() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('pixelflow_events', json_build_object(
                'type', 'step.ended', 'job', NEW.job_id, 'step', NEW.step,
                'batch', (SELECT batch_id FROM jobs WHERE id = NEW.job_id))::text);
            RETURN NULL;
        END $$;
        CREATE TRIGGER job_steps_event AFTER INSERT ON job_steps
            FOR EACH ROW EXECUTE FUNCTION pixelflow_step_event();

        CREATE FUNCTION pixelflow_batch_event() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('pixelflow_events', json_build_object(
                'type', CASE WHEN NEW.finished_at IS NULL THEN 'batch.reopened' ELSE 'batch.finished' END,
                'batch', NEW.id)::text);
            RETURN NULL;
        END $$;
        -- A batch's stream reads its items' endings in order, from where the client was (Last-Event-ID).
        CREATE INDEX jobs_batch_endings ON jobs (batch_id, finished_at, id) WHERE batch_id IS NOT NULL;

        CREATE TRIGGER batches_event AFTER UPDATE OF finished_at, notified_at ON batches
            FOR EACH ROW WHEN (OLD.finished_at IS DISTINCT FROM NEW.finished_at
                               OR OLD.notified_at IS DISTINCT FROM NEW.notified_at)
            EXECUTE FUNCTION pixelflow_batch_event();
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER batches_event ON batches;
        DROP INDEX jobs_batch_endings;
        DROP FUNCTION pixelflow_batch_event();
        DROP TRIGGER job_steps_event ON job_steps;
        DROP FUNCTION pixelflow_step_event();
        DROP TRIGGER jobs_event ON jobs;
        DROP FUNCTION pixelflow_job_event();
        """
    )
