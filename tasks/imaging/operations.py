"""The operations between decoding and encoding, each a function of an image."""

from __future__ import annotations

import math

from PIL import Image, ImageColor, ImageFilter, ImageOps

from core.spec import OutputSpec

_RIGHT_ANGLES = {
    90: Image.Transpose.ROTATE_270,  # PIL turns counter-clockwise; the API's degrees are clockwise
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}


def colour(value: str, mode: str) -> tuple[int, ...] | int:
    """A ``#rrggbb`` or ``#rrggbbaa`` colour in the image's mode."""
    rgba = ImageColor.getrgb(value)
    rgba = (*rgba, 255) if len(rgba) == 3 else rgba
    if mode in ("L", "LA"):
        grey = round(0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2])
        return grey if mode == "L" else (grey, rgba[3])
    return rgba if mode == "RGBA" else rgba[:3]


def rotated_size(width: float, height: float, degrees: float) -> tuple[float, float]:
    angle = degrees % 360
    if angle in (90, 270):
        return height, width
    if angle in (0, 180):
        return width, height
    rad = math.radians(angle)
    return abs(width * math.cos(rad)) + abs(height * math.sin(rad)), abs(width * math.sin(rad)) + abs(
        height * math.cos(rad)
    )


def prepare(image: Image.Image, spec: OutputSpec, scale: float) -> Image.Image:
    """Crop, rotate, flip and flop; ``scale`` maps source pixels onto the decoded image (draft)."""
    if spec.crop:
        x, y, w, h = spec.crop
        image = image.crop((round(x * scale), round(y * scale), round((x + w) * scale), round((y + h) * scale)))
    angle = spec.rotate % 360
    if angle in _RIGHT_ANGLES:
        image = image.transpose(_RIGHT_ANGLES[int(angle)])
    elif angle:
        if spec.background and image.mode == "RGB" and ImageColor.getrgb(spec.background)[3:] not in ((), (255,)):
            image = image.convert("RGBA")
        image = image.rotate(
            -angle, Image.Resampling.BICUBIC, expand=True, fillcolor=colour(spec.background, image.mode)
        )
    if spec.flip:
        image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    if spec.flop:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return image


def finish(image: Image.Image, spec: OutputSpec) -> Image.Image:
    if spec.blur:
        image = image.filter(ImageFilter.GaussianBlur(spec.blur))
    if spec.sharpen:
        image = image.filter(ImageFilter.UnsharpMask(radius=spec.sharpen, percent=120, threshold=2))
    return image


def pad(image: Image.Image, canvas: tuple[int, int], offset: tuple[int, int], background: str) -> Image.Image:
    mode = image.mode
    if ImageColor.getrgb(background)[3:] not in ((), (255,)) and mode in ("RGB", "L"):
        mode = {"RGB": "RGBA", "L": "LA"}[mode]
    out = Image.new(mode, canvas, colour(background, mode))
    if image.mode in ("RGBA", "LA"):
        out.paste(image.convert(mode), offset, image.getchannel("A"))
    else:
        out.paste(image.convert(mode), offset)
    return out


def smart_focus(image: Image.Image) -> tuple[float, float]:
    """The centre of detail: the edge-energy-weighted centroid of a small greyscale copy."""
    small = ImageOps.contain(image.convert("L"), (64, 64), Image.Resampling.BILINEAR)
    edges = small.filter(ImageFilter.FIND_EDGES)
    width, height = edges.size
    data = edges.get_flattened_data()
    total = sx = sy = 0.0
    for i, value in enumerate(data):
        if value:
            weight = float(value) ** 2  # type: ignore[arg-type]
            total += weight
            sx += weight * (i % width + 0.5)
            sy += weight * (i // width + 0.5)
    if not total:
        return 0.5, 0.5
    return sx / total / width, sy / total / height
