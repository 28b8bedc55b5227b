"""Which Pillow build this CPU runs: ``python -m tasks.imaging.cpu`` names it.

A Pillow-SIMD built for AVX2 imports fine on a CPU without AVX2 and dies
with SIGILL on its first resize. A worker would take every job and lose it
(the pool child dies, and after the delivery limit the job fails as
``worker_lost``) while every probe stays green. So before a worker starts,
each build it has is tried in a forked child, fastest first. The first that
survives a small render is the one ``import PIL`` finds from then on. With
none, the worker refuses to start and says why.

The amd64 image has two builds: AVX2 in the virtualenv, and SSE4.1 only in
``{sys.prefix}/pillow-sse4``. A development install has one, built for the
machine it runs on.
"""

from __future__ import annotations

import faulthandler
import io
import os
import sys
from pathlib import Path

FALLBACKS = ("pillow-sse4",)


class UnsupportedCPUError(RuntimeError):
    """No Pillow build present runs on this CPU."""


def builds() -> list[str | None]:
    """Candidate builds, fastest first: None is the one on the default path."""
    found: list[str | None] = [None]
    for name in FALLBACKS:
        path = Path(sys.prefix) / name
        if (path / "PIL").is_dir():
            found.append(str(path))
    return found


def exercise() -> None:
    """A small render through the code paths a job takes: resampling, filters, colour, encoders."""
    from PIL import Image, ImageFilter

    image = Image.linear_gradient("L").resize((317, 211)).convert("RGB")
    image = image.resize((97, 61), Image.Resampling.LANCZOS).filter(ImageFilter.GaussianBlur(2))
    alpha = Image.new("RGBA", (64, 64), (200, 100, 50, 128)).convert("RGBa")
    alpha.resize((31, 17), Image.Resampling.BICUBIC).convert("RGBA").convert("L")
    for fmt in ("JPEG", "WEBP", "PNG"):
        image.save(io.BytesIO(), fmt)


def runs(path: str | None) -> bool:
    """Whether the build at ``path`` renders in a forked child without dying."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover  (the child)
        code = 1
        try:
            faulthandler.disable()  # the death being tested for is expected: no traceback dump
            if path:
                sys.path.insert(0, path)
                for name in [m for m in sys.modules if m == "PIL" or m.startswith("PIL.")]:
                    del sys.modules[name]  # in this child only: import the build at path afresh
            exercise()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def select(candidates: list[str | None] | None = None) -> str | None:
    """Make the fastest build this CPU runs the one imported; return its directory (None: the default)."""
    for path in builds() if candidates is None else candidates:
        if runs(path):
            if path and path not in sys.path:
                if "PIL" in sys.modules:
                    raise RuntimeError("PIL was imported before the build for this CPU was chosen")
                sys.path.insert(0, path)  # pool children fork from here and inherit it
            return path
    raise UnsupportedCPUError(
        "no Pillow build in this installation runs on this CPU (each died on a test render): "
        "the amd64 image needs at least SSE4.1 (x86-64-v2), and runs fastest with AVX2 (x86-64-v3). "
        "Run the worker on such a CPU (the chart's worker.nodeSelector or affinity), or on arm64."
    )


def main() -> int:
    try:
        path = select()
    except UnsupportedCPUError as exc:
        print(exc, file=sys.stderr)
        return 78
    print(path or "default")
    return 0


if __name__ == "__main__":
    sys.exit(main())
