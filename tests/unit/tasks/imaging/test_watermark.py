"""Watermarks on real images: where they land, how opaque they are, what they leave alone."""

from PIL import Image, ImageChops

from core.spec import OutputSpec, Watermark
from tasks.imaging.probe import probe
from tasks.imaging.render import render
from tests import images

GREY = Image.new("RGB", (400, 300), (100, 100, 100))
GREY_PNG = images.encode(GREY, "PNG")


def rendered(spec: OutputSpec, overlays: dict[str, bytes] | None = None) -> Image.Image:
    [out] = render(GREY_PNG, probe(GREY_PNG, 10**6), [spec], overlays=overlays).outputs
    return images.open_image(out.data).convert("RGB")


def changed_box(image: Image.Image) -> tuple[int, int, int, int] | None:
    return ImageChops.difference(image, GREY).getbbox()


def test_text_lands_in_the_corner_it_is_given_inside_the_margin() -> None:
    mark = Watermark(text="PixelFlow", size=24, color="#ffffff", opacity=1.0, position="southeast", margin=10)
    box = changed_box(rendered(OutputSpec("a", "png", watermark=mark)))
    assert box is not None
    left, top, right, bottom = box
    assert right <= 390 and bottom <= 290 and left > 200 and top > 200


def test_text_opacity_scales_its_strength() -> None:
    strong = rendered(OutputSpec("a", "png", watermark=Watermark(text="X", size=80, opacity=1.0, position="center")))
    faint = rendered(OutputSpec("a", "png", watermark=Watermark(text="X", size=80, opacity=0.2, position="center")))
    assert max(strong.getpixel((200, 150))) > max(faint.getpixel((200, 150))) > 100  # type: ignore[arg-type]
    invisible = rendered(OutputSpec("a", "png", watermark=Watermark(text="X", size=80, opacity=0.0)))
    assert changed_box(invisible) is None


def test_an_image_watermark_is_scaled_to_the_output_and_placed() -> None:
    logo = images.encode(Image.new("RGBA", (50, 50), (255, 0, 0, 255)), "PNG")
    mark = Watermark(image_key="uploads/logo.png", scale=0.25, opacity=1.0, position="northwest", margin=0)
    image = rendered(OutputSpec("a", "png", width=200, watermark=mark), {"uploads/logo.png": logo})
    assert image.size == (200, 150)
    assert image.getpixel((2, 2)) == (255, 0, 0)
    assert changed_box(image.resize((400, 300))) is not None
    assert ImageChops.difference(image, GREY.resize((200, 150))).getbbox() == (0, 0, 50, 50)


def test_a_watermark_is_drawn_on_every_output_that_asks_and_only_those() -> None:
    mark = Watermark(text="©", size=40, opacity=1.0, position="center")
    specs = [OutputSpec("marked", "png", watermark=mark), OutputSpec("plain", "png")]
    marked, plain = (
        images.open_image(r.data).convert("RGB") for r in render(GREY_PNG, probe(GREY_PNG, 10**6), specs).outputs
    )
    assert changed_box(marked) is not None and changed_box(plain) is None
