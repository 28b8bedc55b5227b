"""A placeholder of the image: a few dozen characters a client paints while the real image loads.

BlurHash (base83, the colours only) or ThumbHash (base64 of ~25 bytes: the colours, the aspect ratio and the
alpha too), each from a copy of at most 32 x 32 pixels: both keep only the lowest frequencies (ThumbHash at
most 7 per side), which 32 samples a side carry, and the encoders are pure Python, paid per pixel.
"""

from __future__ import annotations

import base64

import blurhash
from PIL import Image, ImageOps
from thumbhash.encode import rgba_to_thumbhash


def placeholder(image: Image.Image, kind: str = "blurhash", components: tuple[int, int] = (4, 3)) -> str:
    if kind == "thumbhash":
        return thumbhash_of(image)
    small = ImageOps.contain(image.convert("RGB"), (32, 32), Image.Resampling.BILINEAR)
    width, height = small.size
    pixels = list(small.get_flattened_data())
    rows = [[list(pixels[y * width + x]) for x in range(width)] for y in range(height)]  # type: ignore[call-overload]
    return str(blurhash.encode(rows, components[0], components[1]))


def thumbhash_of(image: Image.Image) -> str:
    """The ThumbHash of the image (with its alpha, if any), base64 as the reference implementation prints it."""
    small = ImageOps.contain(image.convert("RGBA"), (32, 32), Image.Resampling.BILINEAR)
    return base64.b64encode(rgba_to_thumbhash(small.width, small.height, list(small.tobytes()))).decode()
