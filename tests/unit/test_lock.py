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
        match = re.match(r"([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s;\\]+)", entry)  # name[extras]==version
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


def test_the_pillow_plugins_are_locked_alone_and_installed_after_the_rest_without_dependencies() -> None:
    for source, lock in (
        ("requirements-plugins.in", "requirements-plugins.txt"),
        ("requirements-plugins-dev.in", "requirements-plugins-dev.txt"),
    ):
        pins = [Requirement(line) for line in (ROOT / source).read_text().splitlines() if line[:1].isalpha()]
        versions = {pin.name: next(iter(pin.specifier)).version for pin in pins}
        assert {name: version for name, (version, _) in locked(lock).items()} == versions, f"run scripts/lock: {lock}"
        assert all(hashes >= 1 for _, hashes in locked(lock).values())
        # Not in the resolved locks: there they would ask for stock Pillow beside Pillow-SIMD.
        assert not set(versions) & (set(locked("requirements.txt")) | set(locked("requirements-dev.txt")))
    assert "pillow" not in locked("requirements-plugins.txt")
    bootstrap = (ROOT / "scripts/bootstrap").read_text()
    assert bootstrap.index("-r requirements-dev.txt") < bootstrap.index(
        "--no-deps -r requirements-plugins.txt -r requirements-plugins-dev.txt"
    )


def test_the_installer_every_virtualenv_starts_with_is_locked_with_its_hashes() -> None:
    pins = [Requirement(line) for line in (ROOT / "requirements-pip.in").read_text().splitlines() if line[:1].isalpha()]
    assert [pin.name for pin in pins] == ["pip"]
    assert locked("requirements-pip.txt") == {"pip": (next(iter(pins[0].specifier)).version, 2)}
    bootstrap = (ROOT / "scripts/bootstrap").read_text()
    first = bootstrap.index("install --require-hashes --no-deps -r requirements-pip.txt")
    assert first < bootstrap.index("--no-binary pillow-simd") < bootstrap.index("-r requirements-dev.txt")


def test_requires_python_is_the_range_the_checks_run_on() -> None:
    from packaging.specifiers import SpecifierSet

    supported = SpecifierSet(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"])
    listed = re.search(r'^PYTHONS="([^"]+)"', (ROOT / "scripts/pythons.sh").read_text(), re.MULTILINE)
    assert listed, "scripts/pythons.sh names no Pythons"
    versions = listed.group(1).split()
    assert all(f"{v}.0" in supported for v in versions) and "3.10.0" not in supported
    minor = int(versions[-1].split(".")[1])
    assert f"3.{minor + 1}.0" not in supported, "a Python the unit tier does not run on is declared"
