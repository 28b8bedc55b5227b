"""quality "auto" against the fixed defaults, on the corpus at the standard outputs' sizes (800 and 200 px wide).

Each source is rendered once per variant (tasks/imaging/render.py, the worker's own code), single-threaded, timed
in process CPU. Every output is scored the same way the search scores (tasks/imaging/quality.py): against the same
render stored losslessly (PNG), JPEG over its white background, the others over grey. The fixed variants are each
format's default quality; the auto variants have the default target, the median of q85 JPEG's scores (reported
here as ``q85 median``). Bytes and CPU are each variant's sum over the corpus ÷ q85 JPEG's.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import time
from collections.abc import Iterator
from typing import Any

from PIL import Image

from core.spec import DEFAULT_QUALITY, DEFAULT_TARGET, OutputSpec
from scripts.benchmark.corpus import Source
from tasks.imaging import encode, quality
from tasks.imaging.probe import probe
from tasks.imaging.render import render

WIDTHS = (800, 200)
VARIANTS: dict[str, dict[str, Any]] = {
    "jpeg q85": {"format": "jpeg"},
    "webp q80": {"format": "webp"},
    "webp q80, effort 4 (Pillow's default)": {"format": "webp"},
    "avif q60": {"format": "avif"},
    "jxl q75": {"format": "jxl"},
    "jpeg auto": {"format": "jpeg", "quality": "auto"},
    "webp auto": {"format": "webp", "quality": "auto"},
    "avif auto": {"format": "avif", "quality": "auto"},
    "jxl auto": {"format": "jxl", "quality": "auto"},
    "format auto, quality auto": {"format": "auto", "quality": "auto"},
}
# Variants that encode WebP with another libwebp effort than PixelFlow's (tasks/imaging/encode.py WEBP_METHOD).
WEBP_EFFORT = {"webp q80, effort 4 (Pillow's default)": 4}


@contextlib.contextmanager
def _webp_effort(effort: int | None) -> Iterator[None]:
    """While this runs, WebP is encoded with ``effort`` (None: PixelFlow's own)."""
    kept = encode.WEBP_METHOD
    encode.WEBP_METHOD = effort if effort is not None else kept
    try:
        yield
    finally:
        encode.WEBP_METHOD = kept


def _score(lossless: bytes, encoded: bytes, fmt: str) -> float:
    background = (255, 255, 255) if fmt == "jpeg" else quality.GREY
    reference = quality.comparable(Image.open(io.BytesIO(lossless)), background)
    with Image.open(io.BytesIO(encoded)) as decoded:
        decoded.load()
        return quality.Reference(reference).score(quality.comparable(decoded, background))


def measure(sources: list[Source]) -> dict[str, Any]:
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
    for source in sources:
        data = source.data
        info = probe(data, 10**9)
        for width in WIDTHS:
            lossless = render(data, info, [OutputSpec("ref", "png", width=width)]).outputs[0].data
            for name, fields in VARIANTS.items():
                spec = OutputSpec.from_fields({"name": "o", "width": width, **fields})
                with _webp_effort(WEBP_EFFORT.get(name)):
                    started = time.process_time()
                    out = render(data, info, [spec]).outputs[0]
                    cpu = time.process_time() - started
                rows[name].append(
                    {
                        "group": source.group,
                        "width": width,
                        "bytes": len(out.data),
                        "cpu_s": cpu,
                        "format": out.format,
                        "quality": out.quality or DEFAULT_QUALITY.get(out.format),
                        "score": _score(lossless, out.data, out.format),
                    }
                )
    base = rows["jpeg q85"]
    q85_median = statistics.median(r["score"] for r in base)
    summary = []
    for name, variant in rows.items():
        target = DEFAULT_TARGET if "auto" in name.split(", ")[-1] else None
        summary.append(
            {
                "variant": name,
                "outputs": len(variant),
                "bytes_ratio": sum(r["bytes"] for r in variant) / sum(r["bytes"] for r in base),
                "cpu_ratio": sum(r["cpu_s"] for r in variant) / sum(r["cpu_s"] for r in base),
                "cpu_ms_per_output": 1000 * sum(r["cpu_s"] for r in variant) / len(variant),
                "median_score": statistics.median(r["score"] for r in variant),
                "p10_score": statistics.quantiles([r["score"] for r in variant], n=10)[0],
                "met": sum(r["score"] >= (target or q85_median) for r in variant) / len(variant),
                "target": target,
                "formats": sorted({r["format"] for r in variant}),
            }
        )
    return {"q85_median": q85_median, "default_target": DEFAULT_TARGET, "summary": summary, "rows": rows}
