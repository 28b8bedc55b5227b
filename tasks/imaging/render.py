"""Decode once, render every requested output, encode.

One decode serves all outputs of a job. For JPEG the decoder is asked for
the smallest DCT scale that is still at least as large as the largest
output needs (shrink-on-load), which is most of the speed on big photos.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageOps

from core.errors import CorruptImage
from core.spec import OutputSpec
from tasks.imaging.geometry import Plan, plan
from tasks.imaging.probe import PILLOW_FORMATS, SourceInfo

_TRANSPOSED = {5, 6, 7, 8}
_ORIENTATION = 0x0112
_WHITE = (255, 255, 255)


@dataclass(frozen=True)
class Rendered:
    spec: OutputSpec
    data: bytes
    width: int
    height: int


def render(data: bytes, info: SourceInfo, specs: Sequence[OutputSpec]) -> list[Rendered]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[info.format]])
            orientation = image.getexif().get(_ORIENTATION, 1)
            width, height = (info.height, info.width) if orientation in _TRANSPOSED else (info.width, info.height)
            plans = [plan(spec, width, height) for spec in specs]
            if image.format == "JPEG":
                _draft(image, max(p.scale for p in plans))
            # Truncated data raises here (Pillow's LOAD_TRUNCATED_IMAGES stays off).
            image.load()
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise CorruptImage(f"the {info.format.upper()} data is corrupt or truncated: {exc}") from None
    if orientation != 1:
        image = ImageOps.exif_transpose(image)
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if _has_alpha(image) else "RGB")
    # The draft may have decoded a smaller image: map each plan's box onto it.
    fx, fy = image.width / width, image.height / height
    return [
        _render_one(image, spec, Plan(p.size, (p.box[0] * fx, p.box[1] * fy, p.box[2] * fx, p.box[3] * fy)))
        for spec, p in zip(specs, plans, strict=True)
    ]


def _draft(image: Image.Image, scale: float) -> None:
    """Ask the JPEG decoder for the smallest DCT scale that still covers every output."""
    if scale < 1:
        image.draft(image.mode, (math.ceil(image.width * scale), math.ceil(image.height * scale)))


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _render_one(image: Image.Image, spec: OutputSpec, geometry: Plan) -> Rendered:
    resized = _resize(image, geometry)
    out = io.BytesIO()
    icc = image.info.get("icc_profile")
    if spec.format == "jpeg":
        _flatten(resized).save(out, "JPEG", quality=spec.effective_quality, icc_profile=icc)
    elif spec.format == "webp":
        resized.save(out, "WEBP", quality=spec.effective_quality, method=4, icc_profile=icc)
    else:
        resized.save(out, "PNG", compress_level=6, icc_profile=icc)
    return Rendered(spec, out.getvalue(), resized.width, resized.height)


def _resize(image: Image.Image, geometry: Plan) -> Image.Image:
    if geometry.size == image.size and geometry.box == (0, 0, *image.size):
        return image
    # Pillow resamples RGBA and LA in premultiplied alpha, so transparent pixels do not bleed colour.
    return image.resize(geometry.size, Image.Resampling.LANCZOS, box=geometry.box)


def _flatten(image: Image.Image) -> Image.Image:
    """JPEG has no alpha: composite on white."""
    if image.mode in ("RGB", "L"):
        return image
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, _WHITE)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background
