"""A BlurHash of the image: a few dozen characters a client paints while the real image loads."""

from __future__ import annotations

import blurhash
from PIL import Image, ImageOps


def placeholder(image: Image.Image, components: tuple[int, int] = (4, 3)) -> str:
    small = ImageOps.contain(image.convert("RGB"), (32, 32), Image.Resampling.BILINEAR)
    width, height = small.size
    pixels = list(small.get_flattened_data())
    rows = [[list(pixels[y * width + x]) for x in range(width)] for y in range(height)]  # type: ignore[call-overload]
    return str(blurhash.encode(rows, components[0], components[1]))
