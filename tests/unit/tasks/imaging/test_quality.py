"""quality "auto": the metric against libjxl's own tool, and the search's bounds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from core.spec import OutputSpec
from tasks.imaging import quality
from tasks.imaging.encode import Metadata, encode_auto, encode_output
from tests import images

PAIRS = Path(__file__).resolve().parents[3] / "data" / "ssimulacra2"
REFERENCE = json.loads((PAIRS / "reference.json").read_text())


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_the_score_is_the_reference_tools_or_a_little_below(name: str) -> None:
    # reference.json: libjxl 0.11.2's ssimulacra2 on these pairs (scripts/ssimulacra2_reference.py).
    reference = Image.open(PAIRS / f"{name.split('-')[0]}.png").convert("RGB")
    distorted = Image.open(PAIRS / name).convert("RGB")
    ours, theirs = quality.score(reference, distorted), REFERENCE[name]
    assert theirs - 3.5 <= ours <= theirs + 0.1, (name, ours, theirs)


def test_an_image_scores_100_against_itself_and_less_as_it_is_damaged() -> None:
    reference = Image.open(PAIRS / "photo.png").convert("RGB")
    assert quality.score(reference, reference) == pytest.approx(100.0)
    ours = [
        quality.score(reference, Image.open(PAIRS / f"photo-{n}.png").convert("RGB"))
        for n in ("jpeg85", "webp60", "jpeg40")
    ]
    worse = [round(x, 6) for x in ours]
    assert worse == sorted(worse, reverse=True)
    with pytest.raises(ValueError, match="differ in size"):
        quality.score(reference, reference.resize((10, 10)))


def test_a_crop_keeps_the_pixel_scale_and_alpha_is_compared_over_grey() -> None:
    big = images.picture(1200, 300)
    compared = quality.comparable(big)
    assert compared.size == (quality.COMPARED, 300)
    assert compared.tobytes() == big.crop((344, 0, 856, 300)).tobytes()  # the centre, pixel for pixel
    clear = Image.new("RGBA", (20, 20), (255, 0, 0, 0))
    assert quality.comparable(clear).mode == "RGB"
    assert quality.comparable(clear).getpixel((5, 5)) == quality.GREY
    assert quality.comparable(clear, (255, 255, 255)).getpixel((5, 5)) == (255, 255, 255)


def linear(q: int) -> float:
    return float(q)  # a score that rises with quality, one point a step


def test_the_search_finds_the_lowest_quality_that_reaches_the_target_within_its_encodes() -> None:
    tried: list[int] = []

    def encode_at(q: int) -> bytes:
        tried.append(q)
        return bytes([q])

    found = quality.search(encode_at, lambda data: linear(data[0]), 70, 30, 95)
    assert found.quality == 70 and found.score == 70 and found.data == bytes([70])
    assert found.encodes == len(tried) <= quality.MAX_ENCODES


def test_a_target_out_of_reach_gives_the_top_of_the_range_in_the_same_bound() -> None:
    tried: list[int] = []

    def encode_at(q: int) -> bytes:
        tried.append(q)
        return bytes([q])

    found = quality.search(encode_at, lambda data: linear(data[0]) - 50, 90, 30, 95, max_encodes=4)
    assert found.quality == 95 and found.score == 45 and len(tried) == 4 and tried[-1] == 95
    easy = quality.search(encode_at, lambda data: 99.0, 50, 30, 95, max_encodes=3)
    assert easy.quality < 40 and easy.encodes == 3  # every try reached it: the lowest tried
    with pytest.raises(ValueError):
        quality.search(encode_at, lambda data: linear(data[0]), 50, 30, 95, max_encodes=1)


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif", "jxl"])
def test_an_output_meets_its_target_with_the_fewest_bytes_the_search_found(fmt: str) -> None:
    image = Image.open(PAIRS / "photo.png").convert("RGB")
    spec = OutputSpec.from_fields({"name": "o", "format": fmt, "quality": "auto", "target": 70})
    out = encode_output([image], fmt, spec, Metadata(), [0])
    assert out.found is not None and out.found.score is not None
    assert out.found.score >= 70 and out.found.encodes <= quality.MAX_ENCODES
    low, high = quality.RANGES[fmt]
    assert low <= out.found.quality < high
    # One step lower would not have reached it, or the search ran out of encodes before trying it.
    below = OutputSpec.from_fields({"name": "o", "format": fmt, "quality": max(out.found.quality - 8, low)})
    assert len(encode_output([image], fmt, below, Metadata(), [0]).data) < len(out.data)


def test_auto_format_takes_the_smallest_output_that_reached_the_target() -> None:
    image = Image.open(PAIRS / "photo.png").convert("RGB")
    spec = OutputSpec.from_fields({"name": "o", "format": "auto", "quality": "auto", "target": 75})
    out = encode_auto([image], spec, Metadata(), [0])
    each = {f: encode_output([image], f, spec, Metadata(), [0]) for f in ("webp", "avif", "jpeg")}
    assert out.format in each and out.found is not None and (out.found.score or 0) >= 75
    assert len(out.data) == min(len(e.data) for e in each.values() if ((e.found and e.found.score) or 0) >= 75)


def test_an_output_too_small_to_measure_is_encoded_at_the_default_quality() -> None:
    spec = OutputSpec.from_fields({"name": "o", "format": "webp", "quality": "auto"})
    assert spec.quality is None and spec.target == 76.0
    out = encode_output([images.picture(90, 60)], "webp", spec, Metadata(), [0])
    assert out.found is not None and out.found.quality == 80 and out.found.score is None
