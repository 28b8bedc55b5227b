"""python -m core.migrations [revision]: upgrade the database to head (or revision)."""

import sys

from config import get_settings
from core.migrations import upgrade

upgrade(get_settings().database_url, sys.argv[1] if len(sys.argv) > 1 else "head")
