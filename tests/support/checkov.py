"""checkov, from the tools virtualenv scripts/bootstrap makes (its pins would clash with the project's)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

CHECKOV = Path(__file__).resolve().parents[2] / ".venv-tools/bin/checkov"


def scan(target: Path, framework: str, *, skipped: bool = False) -> dict[str, Any]:
    """checkov's JSON report on a file (a rendered manifest) or a directory (Terraform): its failed checks, and
    with ``skipped`` its passed and skipped ones too (``--quiet`` leaves them out)."""
    assert CHECKOV.exists(), "checkov is missing: scripts/bootstrap installs it into .venv-tools"
    where = ["-d", str(target)] if target.is_dir() else ["-f", str(target)]
    result = subprocess.run(
        [str(CHECKOV), *where, "--framework", framework, *([] if skipped else ["--quiet"]), "--compact", "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stdout)
    report = report[0] if isinstance(report, list) else report
    assert report["summary"]["parsing_errors"] == 0, report["summary"]
    return report  # type: ignore[no-any-return]
