"""HEIC/HEIF sources (pi-heif): recognised from the bytes, limits from the header, the primary image upright in sRGB."""

from __future__ import annotations

import struct

import pytest

from core.errors import CorruptImage, ImageTooLarge, UnsupportedFormat
from core.spec import OutputSpec
from tasks.imaging.probe import probe, sniff
from tasks.imaging.render import render
from tests import images
from tests.icc import SRGB_PRIMARIES, rgb_profile
from tests.unit.tasks.imaging.test_operations import is_red, one, rgb


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + bytes(4) + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + bytes(32)


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (ftyp(b"heic", b"mif1", b"heic"), "heic"),
        (ftyp(b"heix", b"mif1"), "heic"),
        (ftyp(b"mif1", b"heic"), "heic"),
        (ftyp(b"msf1", b"hevc"), "heic"),
        (ftyp(b"mif1", b"avif", b"miaf"), "avif"),  # an AVIF whose major brand is the generic one
        (ftyp(b"avif", b"mif1"), "avif"),
    ],
)
def test_the_kind_of_an_iso_media_file_comes_from_its_brands(data: bytes, fmt: str) -> None:
    assert sniff(data) == fmt


def test_other_iso_media_files_are_refused() -> None:
    with pytest.raises(UnsupportedFormat):
        sniff(ftyp(b"isom", b"mp41"))  # an MP4 video


def test_the_size_and_the_limit_come_from_the_header_alone() -> None:
    data = images.heic(640, 480)
    header = data[: data.find(b"mdat")]  # everything before the coded pixels: nothing here can be decoded
    info = probe(header, 10**7)
    assert (info.format, info.width, info.height, info.frames) == ("heic", 640, 480, 1)
    with pytest.raises(ImageTooLarge, match="640x480"):
        probe(header, 100_000)


def test_a_huge_declared_size_is_too_large_before_anything_is_decoded() -> None:
    with pytest.raises(ImageTooLarge):
        probe(images.heic_declaring(images.heic(64, 64), 100_000, 100_000), 10**8)
    with pytest.raises(ImageTooLarge, match="12000x9000"):
        probe(images.heic_declaring(images.heic(64, 64), 12_000, 9_000), 10**8)


def test_huge_extents_behind_a_small_clean_aperture_are_too_large_too() -> None:
    # 64x48 is coded as 64x64 cropped by a clap box: libheif reports 64x48 whatever the extents say.
    liar = images.heic_declaring(images.heic(64, 48), 30_000, 30_000)
    with pytest.raises(ImageTooLarge, match=r"30000x30000 .*\(shown as 64x48\)"):
        probe(liar, 10**8)


def test_a_truncated_heic_is_corrupt() -> None:
    data = images.heic(320, 240)
    spec = OutputSpec.from_fields({"name": "a", "format": "png"})
    cut = data[: len(data) - 200]
    with pytest.raises(CorruptImage):
        render(cut, probe(cut, 10**7), [spec])
    with pytest.raises(CorruptImage):
        probe(data[:40], 10**7)  # the header itself cut short


@pytest.mark.parametrize(("orientation", "size", "red_at"), [(1, (300, 200), (10, 10)), (6, (200, 300), (190, 10))])
def test_the_primary_image_comes_out_upright(orientation: int, size: tuple[int, int], red_at: tuple[int, int]) -> None:
    # The picture's top-left quarter is red; turned by orientation 6 (90° clockwise) it is at the top right. The
    # two images before the primary one are plain green.
    data = images.heic(300, 200, orientation=orientation, others=2, quality=90)
    result, image = one(data, width=size[0])
    assert image.size == size
    assert is_red(rgb(image, red_at))
    assert result.format == "png"


def test_its_icc_profile_is_converted_to_srgb() -> None:
    from PIL import Image

    # A profile whose red channel is sRGB's green: the file's red is green in sRGB.
    swapped = rgb_profile((SRGB_PRIMARIES[1], SRGB_PRIMARIES[0], SRGB_PRIMARIES[2]), name="swapped")
    data = images.heic(image=Image.new("RGB", (64, 64), (255, 0, 0)), icc_profile=swapped, quality=95)
    _, image = one(data)
    r, g, b = rgb(image, (32, 32))
    assert g > 200 and r < 60 and b < 60


def test_without_the_plugin_heic_is_refused_with_the_reason_and_the_rest_works() -> None:
    first, second = images.sniff_without("pi_heif", "heic(64, 48)")
    assert first == "jpeg"
    assert second.startswith("UnsupportedFormat HEIC sources cannot be read by this worker: pi-heif cannot be loaded")
