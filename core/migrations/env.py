from alembic import context
from sqlalchemy import create_engine, pool, text

# Every pod may run the migrations as it starts (the chart's init container):
# one at a time, each reading the schema's revision only once it holds the lock.
LOCK = 0x50584D49  # "PXMI"

url = context.config.get_main_option("sqlalchemy.url")
engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, transactional_ddl=True)
    with context.begin_transaction():
        connection.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": LOCK})
        context.run_migrations()
engine.dispose()
