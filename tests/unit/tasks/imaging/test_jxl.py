"""JPEG XL sources and outputs: made and read back by libjxl's reference tools (cjxl, djxl), not only by ours."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops

from core.errors import CorruptImage, ImageTooLarge, UnsupportedFormat
from core.spec import OutputSpec
from tasks.imaging import jxl
from tasks.imaging.color import to_srgb
from tasks.imaging.encode import candidates
from tasks.imaging.probe import probe, sniff
from tasks.imaging.render import render
from tests import images
from tests.icc import SRGB_PRIMARIES, rgb_profile
from tests.unit.tasks.imaging.test_operations import is_red, one, rgb

PICTURE = images.picture(300, 200)  # red top-left quarter
# Display P3's primaries (D50), gamma 2.2: cjxl stores it as an enumerated colour space, not as an ICC profile.
P3 = rgb_profile(((0.5151, 0.2412, -0.0011), (0.2919, 0.6922, 0.0419), (0.1571, 0.0666, 0.7841)), name="P3")
SWAPPED = rgb_profile((SRGB_PRIMARIES[1], SRGB_PRIMARIES[0], SRGB_PRIMARIES[2]), name="swapped")


def difference(a: Image.Image, b: Image.Image) -> float:
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    return max(hi for _, hi in diff.getextrema())  # type: ignore[misc]


@pytest.mark.parametrize("options", [(), ("--container=1",), ("-d", "0")])
def test_a_jxl_is_recognised_from_its_bytes_and_sized_from_its_header(options: tuple[str, ...]) -> None:
    data = images.jxl(images.picture(321, 123), *options)
    assert sniff(data) == "jxl"
    info = probe(data, 10**7)
    assert (info.format, info.width, info.height, info.frames) == ("jxl", 321, 123, 1)


@pytest.mark.parametrize(("width", "height"), [(100_000, 100_000), (12_000, 9_000), (40_000, 3_000)])
def test_a_huge_declared_size_is_too_large_from_the_header_alone(width: int, height: int) -> None:
    header = images.jxl_declaring(width, height)  # a header and nothing else: no pixel could be decoded
    assert jxl.header(header).width == width
    with pytest.raises(ImageTooLarge, match=f"{width}x{height}|more pixels than any limit allows"):
        probe(header, 10**8)


def test_a_truncated_jxl_is_corrupt() -> None:
    data = images.jxl(images.picture(640, 480), "-d", "1")
    cut = data[: len(data) // 2]
    with pytest.raises(CorruptImage):
        render(cut, probe(cut, 10**7), [OutputSpec("a", "png")])
    with pytest.raises(CorruptImage):
        probe(data[:3], 10**7)  # the header itself cut short


def test_the_codestream_orientation_is_applied_once() -> None:
    # A JPEG turned by EXIF orientation 6 (90° clockwise), recompressed lossy: the orientation moves into the
    # codestream, the red top-left quarter ends at the top right.
    data = images.jxl(images.jpeg(300, 200, orientation=6), "--lossless_jpeg=0", "-d", "1")
    assert probe(data, 10**7).width == 200
    _, image = one(data, width=200)
    assert image.size == (200, 300)
    assert is_red(rgb(image, (190, 10)))
    assert not is_red(rgb(image, (10, 10)))


def test_a_recompressed_jpeg_is_read_as_the_jpeg_it_rebuilds() -> None:
    original = images.jpeg(1200, 800, orientation=6, quality=90)
    data = images.jxl(original)  # cjxl's default for a JPEG: lossless recompression, bit for bit
    assert len(data) < len(original)
    assert jxl.jpeg_bytes(data) == original
    specs = [OutputSpec("a", "webp", width=300), OutputSpec("b", "jpeg", width=120)]
    from_jxl = render(data, probe(data, 10**7), specs).outputs
    from_jpeg = render(original, probe(original, 10**7), specs).outputs
    assert [o.data for o in from_jxl] == [o.data for o in from_jpeg]
    assert (from_jxl[0].width, from_jxl[0].height) == (300, 450)  # upright


@pytest.mark.parametrize("options", [("-d", "1"), ("-d", "0")], ids=["lossy", "lossless"])
@pytest.mark.parametrize("profile", [P3, SWAPPED], ids=["p3", "icc"])
def test_its_colour_space_is_converted_to_srgb(profile: bytes, options: tuple[str, ...]) -> None:
    tagged = Image.new("RGB", (64, 64), (200, 120, 60))
    tagged.info["icc_profile"] = profile
    data = images.jxl(tagged, *options)
    _, image = one(data)
    # What littlecms makes of the same pixels under the same profile.
    expected = rgb(to_srgb(tagged, profile), (32, 32))
    assert all(abs(a - b) <= 4 for a, b in zip(rgb(image, (32, 32)), expected, strict=True)), (
        rgb(image, (32, 32)),
        expected,
    )
    assert rgb(image, (32, 32)) != (200, 120, 60)  # both profiles move this colour


def test_alpha_is_kept() -> None:
    data = images.jxl(images.picture(200, 100, "RGBA"), "-d", "0")
    _, image = one(data, format="webp")
    assert image.mode == "RGBA"
    assert image.getpixel((100, 1))[3] < 16 and image.getpixel((100, 98))[3] > 240  # transparent at the top


def test_a_jxl_output_is_read_by_the_reference_decoder() -> None:
    for spec in (OutputSpec("a", "jxl", width=150), OutputSpec("b", "jxl", width=150, quality=95)):
        [result] = render(images.jpeg(300, 200), probe(images.jpeg(300, 200), 10**7), [spec]).outputs
        assert result.data[:2] == jxl.JXL_CODESTREAM
        reference = images.djxl(result.data)
        assert reference.size == (150, 100)
        assert difference(reference, images.open_image(result.data)) <= 2
        assert is_red(rgb(reference, (10, 10)))
    small, large = (
        render(images.jpeg(), probe(images.jpeg(), 10**7), [OutputSpec("a", "jxl", width=600, quality=q)]).outputs[0]
        for q in (50, 95)
    )
    assert len(small.data) < len(large.data)


def test_a_lossless_jxl_output_is_exact() -> None:
    [result] = render(
        images.encode(PICTURE, "PNG"),
        probe(images.encode(PICTURE, "PNG"), 10**7),
        [OutputSpec("a", "jxl", lossless=True)],
    ).outputs
    assert difference(images.djxl(result.data), PICTURE) == 0


def test_auto_considers_jxl_only_when_the_output_names_it() -> None:
    opaque, transparent = PICTURE, images.picture(64, 64, "RGBA")
    assert "jxl" not in candidates(opaque) and "jxl" not in candidates(transparent)
    assert candidates(opaque, ("jpeg", "jxl")) == ["jxl", "jpeg"]
    assert candidates(transparent, ("jpeg", "jxl")) == ["jxl"]
    assert candidates(transparent, ("jpeg",)) == ["png"]  # nothing named keeps alpha
    assert candidates(opaque, ("jpeg", "jxl"), metadata=True) == ["jpeg"]  # JPEG XL cannot keep a profile here
    data = images.jpeg(800, 600)
    [named] = render(data, probe(data, 10**7), [OutputSpec("a", "auto", width=400, formats=("jxl",))]).outputs
    assert named.format == "jxl"


def test_a_metadata_box_that_inflates_beyond_the_bound_is_dropped() -> None:
    import imagecodecs

    bomb = imagecodecs.brotli_encode(b"\x00\x00\x00\x00" + b"x" * (jxl.METADATA_BYTES + 1))
    box = (8 + 4 + len(bomb)).to_bytes(4, "big") + b"brob" + b"Exif" + bomb
    data = images.jxl(PICTURE, "--container=1", "-d", "1")
    boxes = jxl._boxes(data + box)
    assert boxes[b"Exif"] == b""
    assert b"Exif" not in Image.open(io.BytesIO(data + box)).info.get("exif", b"")


def test_without_its_library_jxl_is_refused_with_the_reason_and_the_rest_works() -> None:
    first, second = images.sniff_without("imagecodecs", "jxl_declaring(64, 48)")
    assert first == "jpeg"
    assert second.startswith("UnsupportedFormat JPEG XL sources cannot be read by this worker: imagecodecs cannot")
    assert UnsupportedFormat.__name__ in second


def test_the_header_layout_matches_the_library() -> None:
    # Sizes across SizeHeader's encodings (multiples of 8 below 256, ratios, 9 to 30 bits) and grey and alpha.
    for size, mode in (((8, 8), "RGB"), ((256, 144), "L"), ((257, 1), "RGBA"), ((1, 600), "LA"), ((1920, 1080), "RGB")):
        data = images.jxl(Image.new(mode, size), "-d", "1")
        head = jxl.header(data)
        assert (head.width, head.height, head.mode) == (*size, mode), size
        assert Image.open(io.BytesIO(data)).convert(mode).size == size
