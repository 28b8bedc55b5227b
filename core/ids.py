"""Job ids: UUIDv7, so that ids sort by creation time."""

from __future__ import annotations

import uuid

from uuid6 import uuid7


def new_id() -> uuid.UUID:
    return uuid.UUID(int=uuid7().int)
