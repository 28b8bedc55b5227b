"""The locks (scripts/lock) hold every pin of pyproject.toml, each release with its hashes."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement

from tests.support.stack import ROOT


def locked(path: str) -> dict[str, tuple[str, int]]:
    """name → (version, number of hashes) for every release in a lock."""
    text = (ROOT / path).read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 1)[1])
    found = {}
    for entry in entries:
        match = re.match(r"([A-Za-z0-9._-]+)==([^\s;\\]+)", entry)
        assert match, entry[:80]
        found[match.group(1).lower().replace("_", "-")] = (match.group(2), entry.count("--hash=sha256:"))
    return found


def test_every_pin_of_pyproject_is_in_its_lock_and_every_release_there_has_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for path, pins in (
        ("requirements.txt", project["dependencies"]),
        ("requirements-dev.txt", project["dependencies"] + project["optional-dependencies"]["dev"]),
    ):
        lock = locked(path)
        for pin in map(Requirement, pins):
            version = next(iter(pin.specifier)).version
            assert lock.get(pin.name.lower()) is not None, f"{path} lacks {pin}: run scripts/lock"
            assert lock[pin.name.lower()][0] == version, f"{path} has {pin.name} {lock[pin.name.lower()][0]}"
        assert all(hashes >= 1 for _, hashes in lock.values()), path
    assert set(locked("requirements.txt")) <= set(locked("requirements-dev.txt"))
