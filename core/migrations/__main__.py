"""python -m core.migrations [revision]: wait for PostgreSQL, then upgrade the database to head (or revision)."""

import sys

from config import get_settings
from core.migrations import upgrade, wait_for_database

settings = get_settings()
wait_for_database(settings.database_url, settings.migrate_wait)
upgrade(settings.database_url, sys.argv[1] if len(sys.argv) > 1 else "head")
