"""Recognise an image from its bytes and read its header, before any decode.

The format is sniffed from the leading bytes, never taken from a file name
or a content type. Pixel and frame counts come from the header, so a
decompression bomb is refused before anything large is allocated.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass

import pillow_avif  # noqa: F401  (registers AVIF with Pillow)
from PIL import Image

from core.errors import CorruptImage, ImageTooLarge, TooManyFrames, UnsupportedFormat
from tasks.imaging import jxl  # registers JPEG XL with Pillow, where its library loads

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
    (jxl.JXL_CODESTREAM, 0, "jxl", "JXL"),
    (jxl.JXL_CONTAINER, 0, "jxl", "JXL"),
)
# HEIF files (ISO BMFF, like AVIF) name their kind in the ftyp box's brands: HEVC-coded still images and
# sequences, and the generic image brands (which an AVIF also lists, with "avif" beside them).
_HEIC_BRANDS = frozenset((b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"))
_AVIF_BRANDS = frozenset((b"avif", b"avis"))
# Recognised, and refused with a reason.
_REFUSED = (
    (b"<svg", 0, "SVG"),
    (b"<?xml", 0, "XML/SVG"),
    (b"%PDF", 0, "PDF"),
    (b"BM", 0, "BMP"),
)
PILLOW_FORMATS = {name: pil for _, _, name, pil in _SIGNATURES} | {"heic": "HEIF"}
ACCEPTED = "JPEG, PNG, WebP, GIF, TIFF, AVIF, HEIC/HEIF or JPEG XL"

# HEIC through pi-heif (libheif and libde265, decode only). A file's primary image is the one read; its
# thumbnails, depth and auxiliary images are not decoded. One decode thread: a worker runs a job per core.
# libheif applies the file's rotation and mirroring (irot, imir) as it decodes and reports the size turned,
# and pi-heif marks the EXIF orientation upright, so nothing turns it twice.
# Where its wheel is missing (a platform pi-heif does not build for), HEIC sources are refused with a reason, the
# rest works, and the worker says so as it starts (tasks/pipeline.py).
HEIC_MISSING: str | None = None
try:
    import pi_heif

    pi_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False, decode_threads=1)
except ImportError as missing:
    HEIC_MISSING = f"pi-heif cannot be loaded here ({missing}): HEIC/HEIF sources fail unsupported_format"


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


def _brands(data: bytes) -> set[bytes]:
    """An ISO BMFF file's ftyp brands (major and compatible), or none."""
    if data[4:8] != b"ftyp":
        return set()
    end = min(int.from_bytes(data[:4], "big"), len(data), 1024)
    return {data[8:12]} | {data[i : i + 4] for i in range(16, end - 3, 4)}


def _declared_extents(data: bytes) -> tuple[int, int]:
    """The largest image extents (ispe) a HEIF's meta box declares, for any of its images, grid or tile.

    libheif reports the clean aperture (clap) as the size, and a file may pair a small aperture with huge extents:
    the decoder would allocate the extents. Every ispe box is 20 bytes: size, "ispe", version and flags, width,
    height.
    """
    at, largest = 0, (0, 0)
    while at + 8 <= len(data):  # the top-level boxes, to the meta box
        size, kind = int.from_bytes(data[at : at + 4], "big"), data[at + 4 : at + 8]
        if size == 1 and at + 16 <= len(data):
            size = int.from_bytes(data[at + 8 : at + 16], "big")
        if kind == b"meta":
            meta = data[at : at + size]
            box = meta.find(b"ispe")
            while box >= 4:
                if meta[box - 4 : box] == b"\x00\x00\x00\x14" and box + 16 <= len(meta):
                    width, height = struct.unpack(">II", meta[box + 8 : box + 16])
                    if width * height > largest[0] * largest[1]:
                        largest = (width, height)
                box = meta.find(b"ispe", box + 1)
            break
        if size < 8:  # 0: the box runs to the end of the file (or a broken size): no meta box after it
            break
        at += size
    return largest


def sniff(data: bytes) -> str:
    if not data:
        raise CorruptImage("the source is empty (0 bytes)")
    for magic, offset, name, _ in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic and (name != "webp" or data[:4] == b"RIFF"):
            if name == "jxl" and jxl.MISSING:
                raise UnsupportedFormat(f"JPEG XL sources cannot be read by this worker: {jxl.MISSING}")
            return name
    brands = _brands(data)
    if brands & _AVIF_BRANDS:
        return "avif"
    if brands & _HEIC_BRANDS:
        if HEIC_MISSING:
            raise UnsupportedFormat(f"HEIC sources cannot be read by this worker: {HEIC_MISSING}")
        return "heic"
    for magic, offset, name in _REFUSED:
        if data[offset : offset + len(magic)] == magic:
            raise UnsupportedFormat(f"{name} sources are not accepted (format read from the bytes)")
    raise UnsupportedFormat(f"the source is not a {ACCEPTED} image (format read from its bytes)")


def probe(data: bytes, max_pixels: int) -> SourceInfo:
    fmt = sniff(data)
    try:
        with warnings.catch_warnings():
            # Our own limit below replaces Pillow's bomb warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[fmt]]) as img:
                width, height = img.size
                # A HEIF's other images are alternatives (bursts, edits), not an animation: only the primary counts.
                # A JPEG XL animation is read as its first frame.
                frames = 1 if fmt in ("heic", "jxl") else getattr(img, "n_frames", 1)
    except Image.DecompressionBombError:
        raise ImageTooLarge("the source declares more pixels than any limit allows") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptImage(f"the {fmt.upper()} header cannot be read: {exc}") from None
    if width < 1 or height < 1:
        raise CorruptImage(f"the {fmt.upper()} header declares an empty image")
    if fmt == "heic":
        declared = _declared_extents(data)
        if declared[0] * declared[1] > max_pixels:
            raise ImageTooLarge(
                f"the HEIC declares an image of {declared[0]}x{declared[1]} = {declared[0] * declared[1] / 1e6:.1f} MP"
                f" (shown as {width}x{height}); the limit is {max_pixels / 1e6:.1f} MP"
            )
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"the source is {width}x{height} = {width * height / 1e6:.1f} MP; the limit is {max_pixels / 1e6:.1f} MP"
        )
    return SourceInfo(fmt, width, height, frames)
