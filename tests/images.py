"""Real images made by the tests: photo-like JPEGs, PNGs with alpha, EXIF orientations."""

from __future__ import annotations

import io
import struct

import pillow_avif  # noqa: F401  (registers AVIF with Pillow)
from PIL import Image, ImageDraw


def picture(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """A picture with structure in every region: gradients and shapes, so resizes can be compared."""
    base = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize((width, height)),
            Image.radial_gradient("L").resize((width, height)),
            Image.linear_gradient("L").rotate(90).resize((width, height)),
        ),
    )
    draw = ImageDraw.Draw(base)
    draw.rectangle((0, 0, width // 4, height // 4), fill=(255, 0, 0))  # a red top-left corner
    draw.ellipse((width // 2, height // 2, width - 1, height - 1), fill=(0, 0, 255))
    if mode == "RGBA":
        alpha = Image.linear_gradient("L").resize((width, height))
        base.putalpha(alpha)
    return base


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def jpeg(width: int = 1200, height: int = 800, orientation: int = 1, quality: int = 90) -> bytes:
    image = picture(width, height)
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    return encode(image, "JPEG", quality=quality, exif=exif)


def png_with_alpha(width: int = 640, height: int = 480) -> bytes:
    return encode(picture(width, height, "RGBA"), "PNG")


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def heic(
    width: int = 1008,
    height: int = 756,
    orientation: int = 1,
    icc_profile: bytes | None = None,
    others: int = 0,
    image: Image.Image | None = None,
    quality: int = 80,
) -> bytes:
    """A HEIC as a phone writes one: its orientation as an EXIF tag and as the container's rotation (irot/imir,
    which pillow-heif writes from the tag), an ICC profile, and ``others`` images before the primary one (a
    burst's alternatives). Encoded by pillow-heif's x265 (tests only)."""
    import pillow_heif

    primary = (image or picture(width, height)).copy()
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    if icc_profile:
        primary.info["icc_profile"] = icc_profile
    alternatives = [Image.new("RGB", (width // 2, height // 2), (0, 255, 0)) for _ in range(others)]
    heif = pillow_heif.from_pillow((alternatives or [primary])[0])
    for item in [*alternatives[1:], primary] if alternatives else []:
        heif.add_from_pillow(item)
    out = io.BytesIO()
    heif.save(out, quality=quality, primary_index=others, exif=exif.tobytes() if len(exif) else None)
    return out.getvalue()


def heic_declaring(data: bytes, width: int, height: int) -> bytes:
    """The same HEIC with its image extents (every ispe box) changed: a header that lies."""
    out = bytearray(data)
    at = out.find(b"ispe")
    assert at > 0
    while at > 0:
        out[at + 8 : at + 16] = struct.pack(">II", width, height)
        at = out.find(b"ispe", at + 1)
    return bytes(out)
