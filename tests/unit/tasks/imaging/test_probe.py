import pytest

from core.errors import CorruptImage, ImageTooLarge, UnsupportedFormat
from tasks.imaging.probe import probe, sniff
from tests import images


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (images.jpeg(64, 48), "jpeg"),
        (images.png_with_alpha(64, 48), "png"),
        (images.encode(images.picture(64, 48), "WEBP"), "webp"),
        (images.encode(images.picture(64, 48).convert("P"), "GIF"), "gif"),
    ],
)
def test_the_format_is_read_from_the_bytes(data: bytes, fmt: str) -> None:
    info = probe(data, 10_000)
    assert (info.format, info.width, info.height) == (fmt, 64, 48)


@pytest.mark.parametrize(
    "data",
    [b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"%PDF-1.4", b"BM" + bytes(60), b"just text"],
)
def test_anything_else_is_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedFormat):
        sniff(data)


def test_an_empty_file_is_corrupt() -> None:
    with pytest.raises(CorruptImage):
        probe(b"", 10_000)


def test_pixels_are_limited_from_the_header_before_decoding() -> None:
    with pytest.raises(ImageTooLarge, match="MP"):
        probe(images.jpeg(400, 300), 100_000)


def test_a_png_declaring_100k_by_100k_is_refused_without_decoding() -> None:
    # A valid PNG signature and IHDR claiming 100000x100000, and nothing else.
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(bytes(100_000 * 3 + 1) * 4)  # a few rows of zeros: tiny compressed, huge declared
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    assert len(bomb) < 2000
    with pytest.raises(ImageTooLarge):
        probe(bomb, 50_000_000)


def test_a_header_cut_short_is_corrupt() -> None:
    with pytest.raises(CorruptImage):
        probe(images.jpeg(64, 48)[:20], 10_000)


def test_animation_limits_count_frames_and_pixels_over_all_frames() -> None:
    from core.errors import TooManyFrames
    from tasks.imaging.probe import SourceInfo, limit_frames

    limit_frames(SourceInfo("gif", 100, 100, 50), max_frames=50, max_pixels=500_000)
    with pytest.raises(TooManyFrames):
        limit_frames(SourceInfo("gif", 10, 10, 51), max_frames=50, max_pixels=10**9)
    with pytest.raises(ImageTooLarge, match="frames"):
        limit_frames(SourceInfo("gif", 1000, 1000, 40), max_frames=50, max_pixels=30_000_000)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"BM" + bytes(60), "BMP"),
        (b"<?xml version='1.0'?><svg/>", "SVG"),
    ],
)
def test_known_but_refused_formats_say_which_they_are(data: bytes, reason: str) -> None:
    with pytest.raises(UnsupportedFormat, match=reason):
        sniff(data)


def test_tiff_and_avif_sources_are_read() -> None:
    tiff = images.encode(images.picture(64, 48), "TIFF")
    avif = images.encode(images.picture(64, 48), "AVIF")
    assert (probe(tiff, 10_000).format, probe(avif, 10_000).format) == ("tiff", "avif")
