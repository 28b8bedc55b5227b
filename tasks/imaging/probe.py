"""Recognise an image from its bytes and read its header, before any decode.

The format is sniffed from the leading bytes, never taken from a file name
or a content type. Pixel and frame counts come from the header, so a
decompression bomb is refused before anything large is allocated.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import pillow_avif  # noqa: F401  (registers AVIF with Pillow)
from PIL import Image

from core.errors import CorruptImage, ImageTooLarge, TooManyFrames, UnsupportedFormat

# Leading bytes → (our name, Pillow's format name).
_SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\xff\xd8\xff", 0, "jpeg", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", 0, "png", "PNG"),
    (b"GIF87a", 0, "gif", "GIF"),
    (b"GIF89a", 0, "gif", "GIF"),
    (b"WEBP", 8, "webp", "WEBP"),
    (b"II*\x00", 0, "tiff", "TIFF"),
    (b"MM\x00*", 0, "tiff", "TIFF"),
    (b"ftypavif", 4, "avif", "AVIF"),
    (b"ftypavis", 4, "avif", "AVIF"),
)
# Recognised, and refused with a reason.
_REFUSED = (
    (b"ftypheic", 4, "HEIC"),
    (b"ftypheix", 4, "HEIC"),
    (b"ftypmif1", 4, "HEIF"),
    (b"<svg", 0, "SVG"),
    (b"<?xml", 0, "XML/SVG"),
    (b"%PDF", 0, "PDF"),
    (b"BM", 0, "BMP"),
)
PILLOW_FORMATS = {name: pil for _, _, name, pil in _SIGNATURES}


@dataclass(frozen=True)
class SourceInfo:
    format: str
    width: int
    height: int
    frames: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def limit_frames(info: SourceInfo, max_frames: int, max_pixels: int) -> None:
    """Animations: at most ``max_frames`` frames and ``max_pixels`` pixels over all of them."""
    if info.frames > max_frames:
        raise TooManyFrames(f"the animation has {info.frames} frames; the limit is {max_frames}")
    if info.frames * info.pixels > max_pixels:
        raise ImageTooLarge(
            f"the animation has {info.frames} frames of {info.width}x{info.height}"
            f" = {info.frames * info.pixels / 1e6:.0f} MP in all; the limit is {max_pixels / 1e6:.0f} MP"
        )


def sniff(data: bytes) -> str:
    if not data:
        raise CorruptImage("the source is empty (0 bytes)")
    for magic, offset, name, _ in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic and (name != "webp" or data[:4] == b"RIFF"):
            return name
    for magic, offset, name in _REFUSED:
        if data[offset : offset + len(magic)] == magic:
            raise UnsupportedFormat(f"{name} sources are not accepted (format read from the bytes)")
    raise UnsupportedFormat("the source is not a JPEG, PNG, WebP, GIF, TIFF or AVIF image (format read from its bytes)")


def probe(data: bytes, max_pixels: int) -> SourceInfo:
    fmt = sniff(data)
    try:
        with warnings.catch_warnings():
            # Our own limit below replaces Pillow's bomb warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[fmt]]) as img:
                width, height = img.size
                frames = getattr(img, "n_frames", 1)
    except Image.DecompressionBombError:
        raise ImageTooLarge("the source declares more pixels than any limit allows") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptImage(f"the {fmt.upper()} header cannot be read: {exc}") from None
    if width < 1 or height < 1:
        raise CorruptImage(f"the {fmt.upper()} header declares an empty image")
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"the source is {width}x{height} = {width * height / 1e6:.1f} MP; the limit is {max_pixels / 1e6:.1f} MP"
        )
    return SourceInfo(fmt, width, height, frames)
