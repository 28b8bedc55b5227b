"""API keys (stored as hashes) and tenants: every job belongs to the tenant of the key that made it.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE api_keys (
            id         uuid PRIMARY KEY,
            tenant     text NOT NULL,
            name       text NOT NULL,
            prefix     text NOT NULL,
            key_hash   text NOT NULL UNIQUE,
            scope      text NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
            created_at timestamptz NOT NULL DEFAULT now(),
            revoked_at timestamptz
        );

        ALTER TABLE jobs ADD COLUMN tenant text NOT NULL DEFAULT 'default';
        CREATE INDEX jobs_tenant_id ON jobs (tenant, id DESC);

        ALTER TABLE idempotency_keys ADD COLUMN tenant text NOT NULL DEFAULT 'default';
        ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
        ALTER TABLE idempotency_keys ADD PRIMARY KEY (tenant, key);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
        ALTER TABLE idempotency_keys DROP COLUMN tenant;
        ALTER TABLE idempotency_keys ADD PRIMARY KEY (key);
        DROP INDEX jobs_tenant_id;
        ALTER TABLE jobs DROP COLUMN tenant;
        DROP TABLE api_keys;
        """
    )
