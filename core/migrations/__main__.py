"""python -m core.migrations [revision], or pixelflow-migrate: upgrade the database to head (or revision)."""

from core.migrations import main

main()
