"""The error tree is the README's error table: every code a client can meet is in both, with its status."""

from __future__ import annotations

import re
from pathlib import Path

from app.errors import HTTP_CODES
from core import errors

README = Path(__file__).resolve().parents[3] / "README.md"


def tree() -> dict[str, type[errors.PixelFlowError]]:
    found: dict[str, type[errors.PixelFlowError]] = {}
    todo = [errors.PixelFlowError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.code, cls)
        todo += cls.__subclasses__()
    return found


def table() -> dict[str, str]:
    text = README.read_text().split("## Error codes", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `([a-z_]+)` \| ([^|]+) \|", text, re.MULTILINE))


def test_every_code_of_the_tree_and_of_the_http_layer_is_in_the_readme_and_nothing_else() -> None:
    documented = table()
    expected = set(tree()) | set(HTTP_CODES.values()) | {"conflict"}
    expected -= {"unavailable"}  # the HTTP layer's 503 is always one of the *_unavailable codes
    assert set(documented) == expected, (set(documented) - expected, expected - set(documented))


def test_the_readme_gives_each_api_error_its_status() -> None:
    documented = table()
    for code, cls in tree().items():
        statuses = documented[code]
        # A row with a status is one the API answers with: the class's. Job-only and delivery-only rows say so.
        if any(ch.isdigit() for ch in statuses):
            assert str(cls.status) in statuses, (code, statuses)
        else:
            assert statuses.strip() in ("job", "delivery"), (code, statuses)


def test_the_tree_docstring_lists_every_class() -> None:
    doc = errors.__doc__ or ""
    names = {cls.__name__ for cls in tree().values()} | {cls.__name__ for cls in errors.PixelFlowError.__subclasses__()}
    missing = [name for name in names if name not in doc]
    assert not missing, missing
