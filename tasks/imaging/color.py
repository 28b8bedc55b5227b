"""Colour: convert an embedded ICC profile to sRGB, so that outputs without a profile look right."""

from __future__ import annotations

import io
from functools import cache

from PIL import Image, ImageCms


@cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """The image in sRGB; unchanged when it has no profile or the profile cannot be read."""
    if not icc or image.mode not in ("RGB", "RGBA", "L", "LA", "CMYK"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (OSError, ImageCms.PyCMSError):
        return image  # an unreadable profile: keep the pixels as they are
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    base = image.convert({"RGBA": "RGB", "LA": "L"}.get(image.mode, image.mode))
    try:
        converted = ImageCms.profileToProfile(
            base, source, _srgb(), renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode="RGB"
        )
    except ImageCms.PyCMSError:
        return image
    assert converted is not None
    if alpha is not None:
        converted.putalpha(alpha)
    return converted
