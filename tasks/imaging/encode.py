"""Encoders, per format, and ``auto``: the smallest of the candidates that keep what must be kept."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pillow_avif  # noqa: F401  (registers AVIF with Pillow; it ships its own libavif)
from PIL import Image

from core.spec import AUTO_FORMATS, OutputSpec
from tasks.imaging import jxl  # noqa: F401  (registers JPEG XL with Pillow)
from tasks.imaging import quality as searched
from tasks.imaging.operations import colour

# libwebp's effort (0 fast … 6 small). 3, not Pillow's default 4: over make bench's corpus at the standard outputs
# (32 encodes at q80, encoding alone) 3 wrote 0.999 × the bytes of 4 at a SSIMULACRA2 median 0.09 lower (75.09 /
# 75.18) for 0.94 × the CPU; make bench's quality section keeps 4 as a row (per output with its render the two come
# out alike). 2 halves the encode's CPU, for 1.6 % more bytes and half a point less: a trade, not the default.
WEBP_METHOD = 3

_SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


@dataclass(frozen=True)
class Metadata:
    """What the encoder may carry over: the ICC profile, and EXIF/XMP when asked."""

    icc: bytes | None = None
    exif: bytes | None = None
    xmp: bytes | None = None


def has_alpha(image: Image.Image) -> bool:
    if image.mode in ("RGBA", "LA"):
        low, _ = image.getchannel("A").getextrema()
        return bool(low < 255)  # type: ignore[operator]
    return False


def flatten(image: Image.Image, background: str) -> Image.Image:
    if image.mode in ("RGB", "L"):
        return image
    base_mode = "L" if image.mode == "LA" else "RGB"
    out = Image.new(base_mode, image.size, colour(background, base_mode))
    out.paste(image.convert(base_mode), mask=image.getchannel("A"))
    return out


def encode(
    frames: list[Image.Image],
    fmt: str,
    spec: OutputSpec,
    meta: Metadata,
    durations: list[int],
    quality: int | None = None,
) -> bytes:
    """One image, or the frames of an animation (GIF and WebP); ``quality`` over the output's own."""
    image = frames[0]
    out = io.BytesIO()
    # Explicit values, always: some encoders fall back to the image's own info (the source's
    # profile and EXIF, carried along by every resize), which would defeat stripping.
    extra: dict[str, object] = {"icc_profile": meta.icc}
    if fmt in ("jpeg", "webp", "png", "avif"):
        extra["exif"] = meta.exif or b""
    if fmt in ("jpeg", "webp", "png"):
        extra["xmp"] = meta.xmp or b""
    quality = quality if quality is not None else spec.effective_quality(fmt)
    if fmt == "jpeg":
        flatten(image, spec.background).save(
            out,
            "JPEG",
            quality=quality,
            progressive=spec.progressive,
            optimize=spec.progressive or spec.optimize,
            subsampling=_SUBSAMPLING.get(spec.subsampling or "", -1),
            **extra,
        )
    elif fmt == "png":
        target = image
        if spec.palette:
            target = image.quantize(spec.palette, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        target.save(out, "PNG", optimize=spec.optimize, compress_level=9 if spec.optimize else 6, **extra)
    elif fmt == "webp":
        animation = {"save_all": True, "append_images": frames[1:], "duration": durations, "loop": 0}
        image.save(
            out,
            "WEBP",
            quality=quality,
            lossless=spec.lossless,
            method=WEBP_METHOD,
            **(animation if len(frames) > 1 else {}),
            **extra,
        )
    elif fmt == "gif":
        paletted = [_gif_frame(f) for f in frames]
        animation = {"save_all": True, "append_images": paletted[1:], "duration": durations, "loop": 0}
        paletted[0].save(out, "GIF", optimize=False, disposal=2, **(animation if len(frames) > 1 else {}))
    elif fmt == "avif":
        image.save(out, "AVIF", quality=quality, speed=8, **extra)
    elif fmt == "jxl":
        # Effort 4 of 9: as fast as AVIF at speed 8; higher efforts cost 4-10x the time for no fewer bytes at the
        # same distance. The profile and metadata cannot be written (the API refuses keep_icc/keep_metadata).
        image.save(out, "JXL", quality=quality, lossless=spec.lossless, effort=4)
    else:
        raise ValueError(f"no encoder for {fmt!r}")
    return out.getvalue()


def _gif_frame(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") and has_alpha(image):
        rgba = image.convert("RGBA")
        paletted = rgba.convert("RGB").quantize(255, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        # Index 255 is transparent wherever alpha is below half.
        mask = rgba.getchannel("A").point(lambda a: 255 if a < 128 else 0)
        paletted.paste(255, mask=mask)
        paletted.info["transparency"] = 255
        return paletted
    return image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def candidates(image: Image.Image, allowed: tuple[str, ...] | None = None, metadata: bool = False) -> list[str]:
    """``auto``: WebP and AVIF, and JPEG when there is no alpha to keep, PNG when there is; or the formats the
    output allows (JPEG XL only there: most browsers do not show it), less those that cannot keep what must be
    kept: JPEG the alpha, JPEG XL the profile and metadata (``metadata``). PNG when none is left."""
    alpha = has_alpha(image)
    if allowed is None:
        return ["webp", "avif", "png" if alpha else "jpeg"]
    chosen = [f for f in AUTO_FORMATS if f in allowed and not (alpha and f == "jpeg") and not (metadata and f == "jxl")]
    return chosen or ["png"]


@dataclass(frozen=True)
class Encoded:
    format: str
    data: bytes
    found: searched.Found | None = None
    """quality "auto": the quality chosen and its score."""


def encode_output(
    frames: list[Image.Image], fmt: str, spec: OutputSpec, meta: Metadata, durations: list[int]
) -> Encoded:
    """At the output's quality, or with quality "auto" (``spec.target``) at the lowest that reaches the target."""
    if spec.target is None or fmt not in searched.RANGES:
        return Encoded(fmt, encode(frames, fmt, spec, meta, durations))
    if min(frames[0].size) < searched.SMALLEST:
        default = spec.effective_quality(fmt) or 0
        return Encoded(fmt, encode(frames, fmt, spec, meta, durations, default), searched.Found(b"", default, None, 1))
    # Compared as the encoder sees it: JPEG flattens alpha over the background, the others keep it (both images
    # are then compared over grey).
    background = colour(spec.background, "RGB") if fmt == "jpeg" else searched.GREY
    reference = searched.Reference(searched.comparable(frames[0], background))  # type: ignore[arg-type]

    def score_of(data: bytes) -> float:
        with Image.open(io.BytesIO(data)) as decoded:
            decoded.load()
            return reference.score(searched.comparable(decoded, background))  # type: ignore[arg-type]

    low, high = searched.RANGES[fmt]
    found = searched.search(lambda q: encode(frames, fmt, spec, meta, durations, q), score_of, spec.target, low, high)
    return Encoded(fmt, found.data, found)


def encode_auto(frames: list[Image.Image], spec: OutputSpec, meta: Metadata, durations: list[int]) -> Encoded:
    """The smallest candidate; with quality "auto", the smallest of those that reached the target, if any did."""
    kept = spec.keep_icc or spec.keep_metadata
    formats = candidates(frames[0], spec.formats, kept)
    results = [encode_output(frames[:1], fmt, spec, meta, durations[:1]) for fmt in formats]
    target = spec.target
    met = [r for r in results if target is None or r.found is None or (r.found.score or 0) >= target]
    return min(met or results, key=lambda r: len(r.data))
