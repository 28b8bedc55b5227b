"""Watermarks: text in the font that ships with PixelFlow, or an image, over the finished output."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from core.spec import Watermark
from tasks.imaging.geometry import ANCHORS
from tasks.imaging.operations import colour

FONT = Path(__file__).parent / "fonts" / "DejaVuSans.ttf"


@cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT), size)


def _place(canvas: tuple[int, int], mark: tuple[int, int], position: str, margin: int) -> tuple[int, int]:
    ax, ay = ANCHORS[position]
    x = margin + (canvas[0] - mark[0] - 2 * margin) * ax
    y = margin + (canvas[1] - mark[1] - 2 * margin) * ay
    return round(x), round(y)


def apply(image: Image.Image, mark: Watermark, overlay: Image.Image | None) -> Image.Image:
    """The image with the watermark composited on it, in the image's own mode."""
    mode = image.mode
    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    if mark.text:
        size = mark.size or max(10, round(min(base.size) * 0.05))
        font = _font(size)
        left, top, right, bottom = ImageDraw.Draw(layer).textbbox((0, 0), mark.text, font=font)
        x, y = _place(base.size, (round(right - left), round(bottom - top)), mark.position, mark.margin)
        r, g, b, a = colour(mark.color, "RGBA")  # type: ignore[misc]
        ImageDraw.Draw(layer).text((x - left, y - top), mark.text, font=font, fill=(r, g, b, round(a * mark.opacity)))
    elif overlay is not None:
        width = max(1, round(base.width * mark.scale))
        height = max(1, round(overlay.height * width / overlay.width))
        scaled = overlay.convert("RGBA").resize((width, height), Image.Resampling.LANCZOS)
        alpha = scaled.getchannel("A").point(lambda v: round(v * mark.opacity))
        scaled.putalpha(alpha)
        layer.paste(scaled, _place(base.size, scaled.size, mark.position, mark.margin))
    out = Image.alpha_composite(base, layer)
    return out if mode == "RGBA" else out.convert(mode)
