"""Webhook secrets a client manages and rotates through the API (every live one signs).

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE webhook_secrets (
            id         uuid PRIMARY KEY,
            tenant     text NOT NULL,
            secret     text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX webhook_secrets_tenant ON webhook_secrets (tenant, created_at);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE webhook_secrets;")
