import pytest
from PIL import Image, ImageChops, ImageStat

from core.errors import CorruptImage
from core.spec import OutputSpec
from tasks.imaging.probe import probe
from tasks.imaging.render import render
from tests import images

# What the decoder must do to a stored image so that it shows upright, per
# EXIF orientation; the test stores the inverse.
_STORE_AS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel, 0..255."""
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


def render_one(data: bytes, spec: OutputSpec) -> Image.Image:
    [result] = render(data, probe(data, 50_000_000), [spec]).outputs
    image = images.open_image(result.data)
    assert image.size == (result.width, result.height)
    return image


def test_one_decode_renders_every_output_in_its_format_and_size() -> None:
    data = images.jpeg(1200, 800)
    specs = [
        OutputSpec("thumb", "webp", width=200),
        OutputSpec("large", "jpeg", width=800),
        OutputSpec("square", "png", width=300, height=300, fit="cover"),
    ]
    results = render(data, probe(data, 50_000_000), specs).outputs
    got = [(images.open_image(r.data).format, images.open_image(r.data).size) for r in results]
    assert got == [("WEBP", (200, 133)), ("JPEG", (800, 533)), ("PNG", (300, 300))]


def test_shrink_on_load_gives_the_same_picture_as_a_full_decode() -> None:
    data = images.jpeg(3200, 2400)
    drafted = render_one(data, OutputSpec("a", "png", width=400))
    reference = images.open_image(data).resize((400, 300), Image.Resampling.LANCZOS)
    assert difference(drafted, reference) < 2.0


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(orientation: int) -> None:
    upright = images.picture(300, 200)
    stored = upright.transpose(_STORE_AS[orientation]) if orientation != 1 else upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = images.encode(stored, "JPEG", quality=95, exif=exif)
    result = render_one(data, OutputSpec("a", "png", width=150))
    assert result.size == (150, 100)
    assert difference(result, upright.resize((150, 100), Image.Resampling.LANCZOS)) < 4.0
    red, green, blue = result.convert("RGB").getpixel((5, 5))  # type: ignore[misc]
    assert red > 200 and green < 60 and blue < 60


def test_alpha_is_kept_in_png_and_webp_and_flattened_on_white_for_jpeg() -> None:
    source = Image.new("RGBA", (400, 200), (255, 0, 0, 0))
    source.paste((0, 0, 255, 255), (0, 0, 200, 200))
    data = images.encode(source, "PNG")
    specs = [OutputSpec(n, n, width=100) for n in ("png", "webp", "jpeg")]
    png, webp, jpg = (images.open_image(r.data) for r in render(data, probe(data, 10**6), specs).outputs)
    assert png.mode == "RGBA" and png.getpixel((90, 25))[3] == 0
    assert webp.mode == "RGBA" and webp.getpixel((90, 25))[3] == 0
    assert jpg.mode == "RGB"
    assert min(jpg.getpixel((90, 25))) > 240  # type: ignore[arg-type]  # transparent → white
    b = jpg.getpixel((10, 25))
    assert b[2] > 200 and b[0] < 50  # opaque blue stays blue


def test_transparent_pixels_do_not_bleed_their_colour_into_edges() -> None:
    # Transparent but green pixels next to opaque red: premultiplied resampling keeps the edge red.
    source = Image.new("RGBA", (400, 400), (0, 255, 0, 0))
    source.paste((255, 0, 0, 255), (0, 0, 200, 400))
    data = images.encode(source, "PNG")
    result = render_one(data, OutputSpec("a", "png", width=50))
    r, g, _, a = result.getpixel((24, 25))  # type: ignore[misc]
    assert a > 0 and g < 30 and r > 200


def test_quality_changes_the_jpeg_size() -> None:
    data = images.jpeg(800, 600)
    low, high = (
        render(data, probe(data, 10**7), [OutputSpec("a", "jpeg", width=400, quality=q)]).outputs[0].data
        for q in (30, 95)
    )
    assert len(low) < len(high)


def test_truncated_data_is_corrupt() -> None:
    data = images.jpeg(800, 600)
    info = probe(data, 10**7)
    with pytest.raises(CorruptImage, match="truncated"):
        render(data[: len(data) // 2], info, [OutputSpec("a", "jpeg", width=100)])
