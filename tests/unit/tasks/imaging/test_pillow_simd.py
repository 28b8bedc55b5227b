"""The engine must be Pillow-SIMD, built with AVX2 where the CPU has it."""

import importlib.metadata
import shutil
import subprocess
from pathlib import Path

import PIL
import pytest
from PIL import features


def test_the_imported_pil_is_pillow_simd_and_stock_pillow_is_not_installed() -> None:
    assert importlib.metadata.version("pillow-simd") == PIL.__version__
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("pillow")
    dist_files = importlib.metadata.distribution("pillow-simd").files or []
    assert any(Path(str(f)).parts[0] == "PIL" for f in dist_files)
    assert Path(PIL.__file__).parent == Path(str(importlib.metadata.distribution("pillow-simd").locate_file("PIL")))


def test_the_codecs_the_pipeline_needs_are_built_in() -> None:
    for codec in ("jpg", "zlib", "webp"):
        assert features.check(codec), codec


@pytest.mark.skipif("avx2" not in Path("/proc/cpuinfo").read_text(), reason="this CPU has no AVX2")
def test_the_core_was_compiled_with_avx2() -> None:
    from PIL import _imaging

    objdump = shutil.which("objdump")
    assert objdump, "objdump (binutils) is installed by scripts/bootstrap"
    disassembly = subprocess.run([objdump, "-d", _imaging.__file__], capture_output=True, text=True, check=True)
    # AVX2 code works on 256-bit ymm registers; an SSE-only build has none.
    assert disassembly.stdout.count("ymm") > 1000
