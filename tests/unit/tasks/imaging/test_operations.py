"""Each operation on real images, against an independent computation with Pillow or a known pixel."""

from typing import Any

import blurhash
import pytest
from PIL import Image, ImageStat

from core.errors import CropOutOfBounds
from core.spec import OutputSpec
from tasks.imaging.probe import probe
from tasks.imaging.render import Rendered, render
from tests import images
from tests.unit.tasks.imaging.test_render import difference


def one(data: bytes, **fields: Any) -> tuple[Rendered, Image.Image]:
    spec = OutputSpec.from_fields({"name": "a", "format": "png", **fields})
    [result] = render(data, probe(data, 10**8), [spec], max_frames=100).outputs
    image = images.open_image(result.data)
    assert image.size == (result.width, result.height)
    return result, image


PICTURE = images.picture(600, 400)  # red top-left quarter, blue ellipse bottom-right
PNG = images.encode(PICTURE, "PNG")


def rgb(image: Image.Image, xy: tuple[int, int]) -> tuple[int, int, int]:
    return image.convert("RGB").getpixel(xy)  # type: ignore[return-value]


def is_red(pixel: tuple[int, ...]) -> bool:
    return pixel[0] > 200 and pixel[1] < 60 and pixel[2] < 60


def test_fill_stretches_to_the_exact_box() -> None:
    _, image = one(PNG, width=300, height=300, fit="fill")
    assert image.size == (300, 300)
    reference = PICTURE.resize((300, 300), Image.Resampling.LANCZOS)
    assert difference(image, reference) < 1.5


def test_pad_contains_on_a_canvas_of_the_box_in_the_background_colour() -> None:
    _, image = one(PNG, width=300, height=300, fit="pad", background="#00ff00")
    assert image.size == (300, 300)
    assert rgb(image, (150, 10)) == (0, 255, 0)  # the band above the 300x200 picture
    assert is_red(rgb(image, (10, 60)))  # the picture's red corner, pushed down by 50 px
    _, west = one(PNG, width=300, height=300, fit="pad", gravity="north", background="#00ff00")
    assert is_red(rgb(west, (10, 10))) and rgb(west, (150, 290)) == (0, 255, 0)


def test_pad_with_a_transparent_background_keeps_alpha() -> None:
    _, image = one(PNG, width=300, height=300, fit="pad", background="#00000000")
    assert image.mode == "RGBA" and image.getpixel((150, 10))[3] == 0


@pytest.mark.parametrize(
    ("gravity", "red_at_origin"),
    [("west", True), ("east", False), ("center", False)],
)
def test_cover_keeps_the_side_gravity_names(gravity: str, red_at_origin: bool) -> None:
    _, image = one(PNG, width=200, height=400, fit="cover", gravity=gravity)
    assert image.size == (200, 400)
    assert is_red(rgb(image, (5, 5))) is red_at_origin


def test_cover_with_a_focal_point_centres_the_region_on_it() -> None:
    _, image = one(PNG, width=100, height=100, fit="cover", gravity="focal", focal={"x": 0.05, "y": 0.05})
    # A 400x400 region as near the top-left as the edges allow: the red quarter fills its corner.
    reference = PICTURE.crop((0, 0, 400, 400)).resize((100, 100), Image.Resampling.LANCZOS)
    assert difference(image, reference) < 1.5


def test_smart_gravity_finds_the_detailed_part() -> None:
    flat = Image.new("RGB", (800, 400), (128, 128, 128))
    flat.paste(images.picture(200, 200).rotate(30), (600, 100))  # the only detail is on the right
    _, image = one(images.encode(flat, "PNG"), width=200, height=200, fit="cover", gravity="smart")
    assert ImageStat.Stat(image.convert("L")).stddev[0] > 20
    _, centred = one(images.encode(flat, "PNG"), width=200, height=200, fit="cover")
    assert ImageStat.Stat(centred.convert("L")).stddev[0] < 5


def test_outputs_are_not_enlarged_unless_asked() -> None:
    _, image = one(PNG, width=1200)
    assert image.size == (600, 400)
    _, bigger = one(PNG, width=1200, enlarge=True)
    assert bigger.size == (1200, 800)


def test_crop_takes_source_pixels_before_resizing() -> None:
    _, image = one(PNG, crop={"x": 0, "y": 0, "width": 150, "height": 100})
    assert image.size == (150, 100)
    assert difference(image, PICTURE.crop((0, 0, 150, 100))) < 0.5
    assert all(is_red(rgb(image, xy)) for xy in ((0, 0), (149, 99)))


def test_crop_on_a_drafted_jpeg_maps_onto_the_decoded_scale() -> None:
    source = images.picture(3200, 2400)
    data = images.encode(source, "JPEG", quality=95)
    _, image = one(data, crop={"x": 1600, "y": 1200, "width": 1600, "height": 1200}, width=200)
    reference = source.crop((1600, 1200, 3200, 2400)).resize((200, 150), Image.Resampling.LANCZOS)
    assert image.size == (200, 150)
    assert difference(image, reference) < 3


def test_a_crop_outside_the_source_is_refused() -> None:
    with pytest.raises(CropOutOfBounds):
        one(PNG, crop={"x": 500, "y": 0, "width": 200, "height": 100})


def test_rotate_by_right_angles_is_exact() -> None:
    _, image = one(PNG, rotate=90)
    assert image.size == (400, 600)
    assert difference(image, PICTURE.transpose(Image.Transpose.ROTATE_270)) == 0
    assert is_red(rgb(image, (395, 5)))  # the top-left corner turned clockwise to the top-right


def test_any_angle_expands_the_canvas_and_fills_the_corners() -> None:
    _, image = one(PNG, rotate=45, background="#00ff00")
    assert image.size[0] == pytest.approx((600 + 400) / 2**0.5, abs=2)
    assert rgb(image, (0, 0)) == (0, 255, 0)


def test_flip_and_flop_mirror() -> None:
    _, flipped = one(PNG, flip=True)
    _, flopped = one(PNG, flop=True)
    assert is_red(rgb(flipped, (5, 395))) and is_red(rgb(flopped, (595, 5)))


def test_blur_smooths_and_sharpen_adds_edge_contrast() -> None:
    plain_l = ImageStat.Stat(one(PNG)[1].convert("L").filter(__import__("PIL.ImageFilter").ImageFilter.FIND_EDGES))
    blurred = one(PNG, blur=4)[1].convert("L")
    sharpened = one(PNG, sharpen=2)[1].convert("L")
    edges = __import__("PIL.ImageFilter").ImageFilter.FIND_EDGES
    assert ImageStat.Stat(blurred.filter(edges)).mean[0] < plain_l.mean[0]
    assert ImageStat.Stat(sharpened.filter(edges)).mean[0] > plain_l.mean[0]


def test_jpeg_options_progressive_and_subsampling() -> None:
    _, image = one(PNG, format="jpeg", progressive=True, subsampling="4:4:4", quality=90)
    from PIL import JpegImagePlugin

    assert image.format == "JPEG" and image.info.get("progressive") == 1
    assert JpegImagePlugin.get_sampling(image) == 0  # 4:4:4
    _, default = one(PNG, format="jpeg")
    assert JpegImagePlugin.get_sampling(default) == 2  # 4:2:0


def test_png_palette_and_webp_lossless() -> None:
    _, paletted = one(PNG, palette=16)
    assert paletted.mode == "P" and len(paletted.getcolors()) <= 16  # type: ignore[arg-type]
    _, lossless = one(PNG, format="webp", lossless=True)
    assert lossless.format == "WEBP" and difference(lossless, PICTURE) == 0


def test_gif_and_avif_outputs() -> None:
    _, gif = one(PNG, format="gif", width=300)
    assert gif.format == "GIF" and gif.size == (300, 200)
    _, avif = one(PNG, format="avif", width=300)
    assert avif.format == "AVIF" and avif.size == (300, 200)
    assert difference(avif, PICTURE.resize((300, 200), Image.Resampling.LANCZOS)) < 6


def test_auto_picks_the_smallest_and_keeps_alpha_when_there_is_some() -> None:
    opaque, _ = one(images.jpeg(800, 600), format="auto", width=400)
    assert opaque.format in ("webp", "avif", "jpeg")
    translucent, image = one(images.png_with_alpha(400, 300), format="auto")
    assert translucent.format in ("webp", "avif", "png") and image.mode == "RGBA"


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif", "gif"])
def test_every_format_strips_exif_and_profiles_by_default(fmt: str) -> None:
    from PIL import ImageCms

    exif = Image.Exif()
    exif[0x010F] = "PixelCam"
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = images.encode(PICTURE, "PNG", exif=exif, icc_profile=srgb)
    _, image = one(data, format=fmt, width=100)
    assert not image.getexif(), fmt
    assert not image.info.get("icc_profile"), fmt
    _, kept = one(data, format=fmt, width=100, keep_metadata=True, keep_icc=True)
    if fmt != "gif":  # GIF carries neither
        assert kept.getexif()[0x010F] == "PixelCam" and kept.info["icc_profile"] == srgb, fmt


def test_metadata_is_stripped_by_default_and_kept_when_asked() -> None:
    exif = Image.Exif()
    exif[0x010F] = "PixelCam"  # Make
    exif[0x0112] = 6
    data = images.encode(PICTURE, "JPEG", quality=90, exif=exif)
    _, stripped = one(data, format="jpeg")
    assert not stripped.getexif()
    _, kept = one(data, format="jpeg", keep_metadata=True)
    assert kept.getexif()[0x010F] == "PixelCam"
    assert kept.getexif()[0x0112] == 1  # applied, so upright
    assert kept.size == (400, 600)


def test_an_icc_profile_is_converted_away_by_default_and_kept_when_asked() -> None:
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = images.encode(PICTURE, "JPEG", quality=95, icc_profile=srgb)
    _, converted = one(data, format="jpeg")
    assert "icc_profile" not in converted.info
    assert difference(converted, PICTURE) < 3
    _, kept = one(data, format="jpeg", keep_icc=True)
    assert kept.info["icc_profile"] == srgb


def test_an_animation_stays_animated_in_gif_and_webp_and_flattens_elsewhere() -> None:
    frames = [Image.new("RGB", (120, 80), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    data = images.encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    for fmt in ("gif", "webp"):
        _, animated = one(data, format=fmt, width=60)
        assert getattr(animated, "n_frames", 1) == 3, fmt
        animated.seek(1)
        assert rgb(animated, (30, 20))[1] > 200
    _, still = one(data, format="gif", width=60, animated=False)
    assert getattr(still, "n_frames", 1) == 1
    _, jpeg = one(data, format="jpeg", width=60)
    assert is_red(rgb(jpeg, (30, 20)))


def test_a_placeholder_is_a_blurhash_of_the_picture() -> None:
    red = images.encode(Image.new("RGB", (320, 240), (220, 20, 20)), "PNG")
    rendering = render(red, probe(red, 10**6), [OutputSpec("a", "png")], placeholder="blurhash")
    assert rendering.placeholder
    decoded = blurhash.decode(rendering.placeholder, 4, 3)
    r, g, b = decoded[1][1][:3]
    assert r > 180 and g < 60 and b < 60


def test_a_wide_profile_is_converted_to_srgb_pixels() -> None:
    from tests.icc import SRGB_PRIMARIES, rgb_profile

    # A profile whose red channel is sRGB's green: a red pixel under it is green in sRGB.
    swapped = rgb_profile((SRGB_PRIMARIES[1], SRGB_PRIMARIES[0], SRGB_PRIMARIES[2]), name="swapped")
    data = images.encode(Image.new("RGB", (64, 64), (255, 0, 0)), "PNG", icc_profile=swapped)
    _, converted = one(data)
    r, g, b = rgb(converted, (32, 32))
    assert g > 240 and r < 20 and b < 20
    assert "icc_profile" not in converted.info
    _, kept = one(data, keep_icc=True)
    assert rgb(kept, (32, 32)) == (255, 0, 0) and kept.info["icc_profile"] == swapped


def test_png_and_jpeg_optimise_when_asked() -> None:
    plain, _ = one(PNG)
    optimised, image = one(PNG, optimize=True)
    assert len(optimised.data) <= len(plain.data)
    assert difference(image, PICTURE) == 0
