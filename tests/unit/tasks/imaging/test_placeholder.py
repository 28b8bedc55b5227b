"""Placeholders: a ThumbHash decoded by the reference implementation (evanw/thumbhash, in Node.js) looks like the
image, keeps its aspect ratio and its alpha, and renders as the reference encoder's own hash of the same pixels
does; BlurHash stays what `placeholder: true` gives."""

from __future__ import annotations

import base64
import json
import subprocess
from typing import Any

import blurhash
import pytest
from PIL import Image, ImageChops, ImageOps, ImageStat

from core.spec import OutputSpec
from tasks.imaging.placeholder import placeholder
from tasks.imaging.probe import probe
from tasks.imaging.render import render
from tests import images
from tests.support.stack import ROOT

REFERENCE = ROOT / "tests" / "reference"


def reference_decode(*hashes: str) -> list[dict[str, Any]]:
    run = subprocess.run(
        ["node", str(REFERENCE / "thumbhash-decode.mjs"), *hashes],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [json.loads(line) for line in run.stdout.splitlines()]


def rendered(decoded: dict[str, Any]) -> Image.Image:
    return Image.frombytes("RGBA", (decoded["w"], decoded["h"]), base64.b64decode(decoded["rgba"]))


def reference_encode(image: Image.Image) -> str:
    """The reference encoder's hash of the same 32 px copy the service encodes."""
    small = ImageOps.contain(image.convert("RGBA"), (32, 32), Image.Resampling.BILINEAR)
    pixels = base64.b64encode(small.tobytes()).decode()
    argv = ["node", str(REFERENCE / "thumbhash-encode.mjs"), str(small.width), str(small.height), pixels]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout.strip()


@pytest.mark.parametrize(
    "image",
    [
        images.picture(1200, 800),
        images.picture(640, 427),
        images.picture(500, 500, "RGBA"),
        Image.new("RGB", (320, 240), (220, 20, 20)),
        images.picture(300, 600, "RGBA"),
    ],
    ids=["3:2", "photo", "square-alpha", "plain", "portrait-alpha"],
)
def test_it_renders_as_the_reference_encoders_hash_of_the_same_pixels(image: Image.Image) -> None:
    ours, theirs = reference_decode(placeholder(image, "thumbhash"), reference_encode(image))
    shown, expected = rendered(ours), rendered(theirs)
    # Where a value falls exactly on .5, Python rounds to even and JavaScript up: one step of one 4-bit
    # coefficient, or of the luminance count of one side (the portrait: 2 or 3 of 5), apart.
    assert ours["ratio"] == pytest.approx(theirs["ratio"], abs=0.21)
    difference = ImageStat.Stat(ImageChops.difference(shown.resize(expected.size), expected)).mean
    assert max(difference) < 8, difference


def test_a_thumbhash_decodes_to_the_picture_in_small_with_its_aspect_ratio() -> None:
    picture = images.picture(1200, 800)  # red top-left quarter, blue ellipse bottom-right, gradients
    [decoded] = reference_decode(placeholder(picture, "thumbhash"))
    assert decoded["ratio"] == pytest.approx(1.5, rel=0.1)
    shown = rendered(decoded).convert("RGB")
    r, g, b = shown.getpixel((2, 2))  # type: ignore[misc]
    assert r > 150 and r > g + 20 and r > b + 60  # the red corner, blurred into its neighbours but red
    r, g, b = shown.getpixel((shown.width - 3, shown.height - 3))  # type: ignore[misc]
    assert b > r and b > g  # the blue ellipse
    average = [round(255 * c) for c in decoded["average"][:3]]
    expected = ImageStat.Stat(picture).mean
    assert all(abs(a - e) < 20 for a, e in zip(average, expected, strict=True)), (average, expected)


def test_a_thumbhash_keeps_the_alpha_and_a_portrait_stays_a_portrait() -> None:
    picture = images.picture(300, 600, "RGBA")  # alpha: a gradient from transparent (top) to opaque (bottom)
    [decoded] = reference_decode(placeholder(picture, "thumbhash"))
    assert decoded["ratio"] < 0.7  # 1:2, in the coarse steps the hash has
    alpha = rendered(decoded).getchannel("A")
    top, bottom = alpha.crop((0, 0, alpha.width, 3)), alpha.crop((0, alpha.height - 3, alpha.width, alpha.height))
    assert ImageStat.Stat(top).mean[0] < 80 and ImageStat.Stat(bottom).mean[0] > 170


def test_the_render_gives_the_placeholder_asked_for() -> None:
    data = images.encode(Image.new("RGB", (320, 240), (220, 20, 20)), "PNG")
    spec = [OutputSpec("a", "png")]
    thumb = render(data, probe(data, 10**6), spec, placeholder="thumbhash").placeholder
    blur = render(data, probe(data, 10**6), spec, placeholder="blurhash").placeholder
    assert render(data, probe(data, 10**6), spec).placeholder is None
    assert thumb and blur
    [decoded] = reference_decode(thumb)
    r, g, b, a = decoded["average"]
    assert r > 0.75 and g < 0.2 and b < 0.2 and a == pytest.approx(1)
    r8, g8, b8 = blurhash.decode(blur, 4, 3)[1][1][:3]
    assert r8 > 180 and g8 < 60 and b8 < 60
