"""Choosing the Pillow build this CPU runs (the amd64 image carries an AVX2 and an SSE4.1 build)."""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

import pytest

from tasks.imaging import cpu


@pytest.fixture()
def dying_build(tmp_path: Path) -> str:
    """A "build" whose first render kills the process with SIGILL, as AVX2 code does on a CPU without it."""
    package = tmp_path / "PIL"
    package.mkdir()
    (package / "__init__.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGILL)\n")
    return str(tmp_path)


def test_the_installed_build_renders_on_this_machine() -> None:
    assert cpu.runs(None)


def test_a_build_that_dies_on_its_first_render_is_found_out_without_killing_the_caller(dying_build: str) -> None:
    assert cpu.runs(dying_build) is False
    assert cpu.runs(None)  # still here, PIL untouched


def test_the_first_build_that_runs_is_chosen_and_none_running_is_a_refusal(dying_build: str) -> None:
    site = sysconfig.get_paths()["purelib"]  # the real build, already on sys.path
    before = list(sys.path)
    assert cpu.select([dying_build, site]) == site
    assert sys.path == before
    with pytest.raises(cpu.UnsupportedCPUError, match=r"SSE4\.1"):
        cpu.select([dying_build])


def test_a_development_install_has_one_build() -> None:
    assert cpu.builds() == [None]
