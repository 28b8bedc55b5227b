"""The standard job on one engine variant, on one core: decode, orient, 800 px
and 200 px wide, each as JPEG q85 and WebP q80.

Runs as its own process (`python engine.py VARIANT`) so that stock Pillow,
Pillow-SIMD and pyvips (Debian's libvips, or a current one from the
pyvips-binary wheel) each load in their own interpreter. It serves passes:
for each corpus directory read from stdin it runs the job once over every
source there and prints one JSON line (ms per source). make bench drives
all variants together, one pass of each in turn, so that the machine's
drift over the run hits every variant alike. Needs only the engine it
measures.
"""

from __future__ import annotations

import io
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

WIDTHS = (800, 200)
JPEG_Q, WEBP_Q = 85, 80
# PixelFlow's WebP effort (tasks/imaging/encode.py WEBP_METHOD; these variants run without the project on their path):
# every variant encodes what PixelFlow's transform encodes.
WEBP_EFFORT = 3
_TRANSPOSED = {5, 6, 7, 8}


def pillow_job(draft: bool) -> Callable[[bytes], int]:
    from PIL import Image, ImageOps

    def job(data: bytes) -> int:
        image: Image.Image = Image.open(io.BytesIO(data))
        orientation = image.getexif().get(0x0112, 1)
        if draft and image.format == "JPEG":
            width = image.height if orientation in _TRANSPOSED else image.width
            scale = max(WIDTHS) / width
            image.draft(image.mode, (math.ceil(image.width * scale), math.ceil(image.height * scale)))
        image = ImageOps.exif_transpose(image)
        produced = 0
        for width in WIDTHS:
            resized = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
            flat = resized
            if resized.mode == "RGBA":
                flat = Image.new("RGB", resized.size, (255, 255, 255))
                flat.paste(resized, mask=resized.getchannel("A"))
            for fmt, target, options in (
                ("JPEG", flat, {"quality": JPEG_Q}),
                ("WEBP", resized, {"quality": WEBP_Q, "method": WEBP_EFFORT}),
            ):
                out = io.BytesIO()
                target.save(out, fmt, **options)
                produced += out.tell()
        return produced

    return job


def vips_job(shrink_on_load: bool) -> Callable[[bytes], int]:
    import pyvips

    pyvips.cache_set_max(0)
    unbounded = 10_000_000

    def encode(image: pyvips.Image) -> int:
        flat = image.flatten(background=[255, 255, 255]) if image.hasalpha() else image
        return len(flat.jpegsave_buffer(Q=JPEG_Q)) + len(image.webpsave_buffer(Q=WEBP_Q, effort=WEBP_EFFORT))

    def job(data: bytes) -> int:
        if shrink_on_load:
            large = pyvips.Image.thumbnail_buffer(data, WIDTHS[0], height=unbounded, size="down").copy_memory()
            small = large.thumbnail_image(WIDTHS[1], height=unbounded)
            return encode(large) + encode(small)
        image = pyvips.Image.new_from_buffer(data, "", access="sequential").autorot()
        image = image.copy_memory()
        return sum(encode(image.resize(width / image.width, kernel="lanczos3")) for width in WIDTHS)

    return job


def pixelflow_job() -> Callable[[bytes], int]:
    from core.spec import OutputSpec
    from tasks.imaging.probe import probe
    from tasks.imaging.render import render

    specs = [OutputSpec(f"{fmt}{w}", fmt, width=w) for w in WIDTHS for fmt in ("jpeg", "webp")]

    def job(data: bytes) -> int:
        return sum(len(r.data) for r in render(data, probe(data, 100_000_000), specs).outputs)

    return job


VARIANTS: dict[str, Callable[[], Callable[[bytes], int]]] = {
    "pillow": lambda: pillow_job(draft=False),
    "pillow+draft": lambda: pillow_job(draft=True),
    "vips": lambda: vips_job(shrink_on_load=False),
    "vips+shrink-on-load": lambda: vips_job(shrink_on_load=True),
    "pixelflow-transform": pixelflow_job,
}


def engine_name() -> str:
    """The Pillow this process imports: the one first on the path, whatever else is installed."""
    try:
        import PIL
    except ImportError:
        return ""
    # Pillow-SIMD's versions carry a .postN that stock Pillow's never do.
    return f"{'Pillow-SIMD' if '.post' in PIL.__version__ else 'Pillow'} {PIL.__version__.split('.post')[0]}"


def engine_label(variant: str) -> str:
    if variant.startswith("vips"):
        import pyvips

        return f"libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"
    return engine_name()


def serve(variant: str) -> None:
    """One pass per corpus directory read from stdin: {"ms": ms per source, "engine": ...} on stdout."""
    job = VARIANTS[variant]()
    label = engine_label(variant)
    sources: dict[str, list[bytes]] = {}
    for line in sys.stdin:
        group = line.strip()
        if group not in sources:
            sources[group] = [p.read_bytes() for p in sorted(Path(group).iterdir())]
            job(sources[group][0])  # warm-up: imports, codec set-up
        start = time.perf_counter()
        for data in sources[group]:
            job(data)
        ms = (time.perf_counter() - start) * 1000 / len(sources[group])
        print(json.dumps({"ms": ms, "engine": label}), flush=True)


def summary(variant: str, engine: str, group: str, sources: int, per_pass: list[float]) -> dict[str, Any]:
    median = statistics.median(per_pass)
    return {
        "variant": variant,
        "engine": engine,
        "group": group,
        "sources": sources,
        "passes": len(per_pass),
        "ms_median": round(median, 2),
        "ms_min": round(min(per_pass), 2),
        "ms_max": round(max(per_pass), 2),
        "images_per_s_per_core": round(1000 / median, 2),
    }


if __name__ == "__main__":
    serve(sys.argv[1])
