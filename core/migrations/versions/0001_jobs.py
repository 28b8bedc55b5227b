"""Jobs and their outputs.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE jobs (
            id             uuid PRIMARY KEY,
            status         text NOT NULL DEFAULT 'queued'
                           CHECK (status IN ('queued', 'processing', 'succeeded', 'failed')),
            source_key     text,
            source_url     text,
            webhook_url    text,
            source_format  text,
            source_width   integer,
            source_height  integer,
            source_bytes   bigint,
            error_code     text,
            error_message  text,
            created_at     timestamptz NOT NULL DEFAULT now(),
            started_at     timestamptz,
            finished_at    timestamptz,
            notified_at    timestamptz,
            webhook_status integer,
            webhook_error  text,
            CHECK ((source_key IS NULL) <> (source_url IS NULL))
        );
        CREATE INDEX jobs_status_id ON jobs (status, id DESC);

        CREATE TABLE job_outputs (
            job_id        uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            position      integer NOT NULL,
            name          text NOT NULL,
            format        text NOT NULL,
            width         integer,
            height        integer,
            fit           text NOT NULL,
            quality       integer,
            staged_key    text,
            key           text,
            result_width  integer,
            result_height integer,
            bytes         bigint,
            PRIMARY KEY (job_id, name)
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE job_outputs; DROP TABLE jobs;")
