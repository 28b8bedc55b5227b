"""quality "auto": the lowest encoder quality whose output reaches a SSIMULACRA2 score.

The score is the ssimulacra2 package's (BSD-3, numpy and scipy; see Reference for the one thing done here), checked
against libjxl's own ssimulacra2 tool in tests/unit/tasks/imaging/test_quality.py: on JPEG and WebP outputs of photos
it reads a little below the tool, so a target it reports met is met by the tool too.

The comparison is made at the output's own size, on its central ``COMPARED`` pixels at most: a crop keeps the pixel
scale the artefacts are at. A downscaled comparison is not faithful: halving both images raised the scores of the
same encodes by 10 to 25 points (q30 JPEG from 47 to 74), far more than the step between two qualities.

The search is a bisection of the format's range, at most ``MAX_ENCODES`` encodes, the last of which is the result:
the lowest quality tried that reached the target or, when none did, the top of the range.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:
    import numpy as np

# The range searched, per format: below it outputs are too poor to be anyone's target, above it they only grow.
RANGES = {"jpeg": (30, 95), "webp": (30, 95), "avif": (20, 90), "jxl": (30, 95)}
MAX_ENCODES = 6
# Compared: at most this square of the output's centre (a 512 x 512 output or smaller is compared whole).
COMPARED = 512
# Below this shorter side the metric is not faithful (a 64 x 43 output scores 8 to 19 below libjxl's tool): such an
# output is encoded at its format's default quality, with no score.
SMALLEST = 96
# Images with alpha are compared composited over mid grey (both of them).
GREY = (128, 128, 128)


def _metric() -> ModuleType:
    # Imported on first use: scipy costs a worker's start and its children's memory only once an output asks.
    import importlib

    return importlib.import_module("ssimulacra2.ssimulacra2")


@dataclass(frozen=True)
class Found:
    data: bytes
    quality: int
    score: float | None
    """None: not measured (an output under SMALLEST)."""
    encodes: int


def comparable(image: Image.Image, background: tuple[int, int, int] = GREY) -> Image.Image:
    """RGB, flattened over ``background`` when it has alpha, cut to its central COMPARED x COMPARED."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, background)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    elif image.mode != "RGB":
        image = image.convert("RGB")
    w, h = image.size
    if w > COMPARED or h > COMPARED:
        left, top = max((w - COMPARED) // 2, 0), max((h - COMPARED) // 2, 0)
        image = image.crop((left, top, left + min(w, COMPARED), top + min(h, COMPARED)))
    return image


class Reference:
    """The reference image's side of the metric, computed once for every encode a search compares with it.

    The ssimulacra2 package's own ``compute_ssimulacra2`` stops one scale early on an image whose shorter side is
    under 256 px: it checks the size after halving, libjxl's tool before. Every later weight then applies to the
    wrong scale, and a 200 px q95 JPEG scores 61 where the tool says 83. So the scales are walked here as the tool
    walks them, with the package's own colour transform, blur, maps and weights.
    """

    def __init__(self, image: Image.Image) -> None:
        metric = _metric()
        self.size = image.size
        self.scales: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # per scale: XYB, its blur, its square's
        for xyb in _pyramid(image):
            self.scales.append((xyb, metric.blur_image(xyb), metric.blur_image(xyb * xyb)))

    def score(self, distorted: Image.Image) -> float:
        """SSIMULACRA2 of ``distorted`` against this reference (both already comparable()): 100 is identical, 90
        visually lossless, 70 high quality, 50 medium, 30 low (libjxl's scale)."""
        if distorted.size != self.size:
            raise ValueError(f"compared images differ in size: {self.size} and {distorted.size}")
        metric = _metric()
        result = metric.Msssim()
        for (img1, mu1, sigma1_sq), img2 in zip(self.scales, _pyramid(distorted), strict=True):
            mu2 = metric.blur_image(img2)
            scale = metric.MsssimScale()
            sigma2_sq, sigma12 = metric.blur_image(img2 * img2), metric.blur_image(img1 * img2)
            scale.avg_ssim = metric.ssim_map(mu1, mu2, sigma1_sq, sigma2_sq, sigma12)
            scale.avg_edgediff = metric.edge_diff_map(img1, mu1, img2, mu2)
            result.scales.append(scale)
        value = float(result.score())
        return value if math.isfinite(value) else 0.0


def _pyramid(image: Image.Image) -> list[np.ndarray]:
    """The positive XYB image at each scale, halved in linear RGB, while the scale before it is 8 px or more."""
    import numpy as np

    metric = _metric()
    linear = metric.srgb_to_linear(np.asarray(image, dtype=np.float64))
    scales = []
    for n in range(metric.kNumScales):
        if min(linear.shape[:2]) < 8:
            break
        if n:
            linear = metric.downsample(linear, 2, 2)
        scales.append(metric.make_positive_xyb(metric.linear_rgb_to_xyb(linear)))
    return scales


def score(reference: Image.Image, distorted: Image.Image) -> float:
    """SSIMULACRA2 of ``distorted`` against ``reference`` (both already comparable())."""
    return Reference(reference).score(distorted)


def search(
    encode_at: Callable[[int], bytes],
    score_of: Callable[[bytes], float],
    target: float,
    low: int,
    high: int,
    max_encodes: int = MAX_ENCODES,
) -> Found:
    """The lowest quality in [low, high] whose encode scores ``target`` or more, by bisection, in at most
    ``max_encodes`` encodes (scores rise with quality, near enough). When no quality tried reaches it, the
    encode at ``high``."""
    if max_encodes < 2:
        raise ValueError("the search needs two encodes at least")
    best: Found | None = None  # the lowest quality seen that reached the target
    top: Found | None = None  # the encode at ``high``, when it was made
    encodes = 0
    lo, hi = low, high
    while lo <= hi and encodes < max_encodes - (0 if best or top else 1):
        # Until a quality reached the target (or ``high`` was tried), one encode stays in hand for ``high``.
        q = (lo + hi + 1) // 2 if encodes == 0 else (lo + hi) // 2
        data = encode_at(q)
        encodes += 1
        value = score_of(data)
        found = Found(data, q, value, encodes)
        if q == high:
            top = found
        if value >= target:
            best, hi = found, q - 1
        else:
            lo = q + 1
    if best is not None:
        return Found(best.data, best.quality, best.score, encodes)
    if top is None:
        data = encode_at(high)
        encodes += 1
        top = Found(data, high, score_of(data), encodes)
    return Found(top.data, top.quality, top.score, encodes)
