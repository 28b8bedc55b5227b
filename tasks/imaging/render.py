"""Decode once, render every requested output, encode.

One decode serves all outputs of a job. For JPEG the decoder is asked for
the smallest DCT scale that still covers the largest output (shrink-on-load),
which is most of the speed on big photos. Crop rectangles are given in
source pixels and mapped onto the decoded image.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from PIL import Image, ImageOps, ImageSequence

from core.errors import CorruptImage, CropOutOfBounds
from core.spec import OutputSpec
from tasks.imaging import jxl, operations, watermark
from tasks.imaging.color import to_srgb
from tasks.imaging.encode import Metadata, encode_auto, encode_output
from tasks.imaging.geometry import plan
from tasks.imaging.placeholder import placeholder as placeholder_of
from tasks.imaging.probe import PILLOW_FORMATS, SourceInfo, probe

_TRANSPOSED = {5, 6, 7, 8}
_ORIENTATION = 0x0112
_ANIMATED_FORMATS = ("gif", "webp")


@dataclass(frozen=True)
class Rendered:
    spec: OutputSpec
    format: str
    data: bytes
    width: int
    height: int
    quality: int | None = None
    """quality "auto": the quality chosen, and the SSIMULACRA2 score reached."""
    score: float | None = None


@dataclass(frozen=True)
class Rendering:
    outputs: list[Rendered]
    placeholder: str | None = None


def render(
    data: bytes,
    info: SourceInfo,
    specs: Sequence[OutputSpec],
    placeholder: str | None = None,
    max_frames: int = 1,
    overlays: Mapping[str, bytes] | None = None,
) -> Rendering:
    """``placeholder``: blurhash, thumbhash or None; ``overlays``: the bytes of each image watermark, by key."""
    marks = {key: _decode_overlay(key, blob, info.pixels) for key, blob in (overlays or {}).items()}
    pillow_format = PILLOW_FORMATS[info.format]
    try:
        if info.format == "jxl" and (rebuilt := jxl.jpeg_bytes(data)) is not None:
            # A lossless recompression of a JPEG: that JPEG, rebuilt, is read (shrink-on-load, its EXIF and profile).
            data, pillow_format = rebuilt, "JPEG"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            source = Image.open(io.BytesIO(data), formats=[pillow_format])
            orientation = source.getexif().get(_ORIENTATION, 1)
            # The header's size (a JPEG rebuilt from a JPEG XL has its own, before its EXIF orientation).
            width, height = (source.height, source.width) if orientation in _TRANSPOSED else source.size
            for spec in specs:
                _check_crop(spec, width, height)
            if source.format == "JPEG":
                _draft(source, max(_needed_scale(spec, width, height) for spec in specs))
            # Truncated data raises here (Pillow's LOAD_TRUNCATED_IMAGES stays off).
            source.load()
            animation = _frames(source, specs, info, max_frames)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError, RuntimeError) as exc:
        # RuntimeError: libheif's errors that are not about the input's syntax (an allocation it refused).
        raise CorruptImage(f"the {info.format.upper()} data is corrupt or truncated: {exc}") from None
    image = ImageOps.exif_transpose(source) if orientation != 1 else source
    icc = source.info.get("icc_profile")
    meta_kept = _kept_metadata(image)
    image = _normalise(image)
    srgb = to_srgb(image, icc) if any(not s.keep_icc for s in specs) else image
    scale = image.width / width
    outputs = []
    for spec in specs:
        base = image if spec.keep_icc else srgb
        meta = Metadata(
            icc=icc if spec.keep_icc else None,
            exif=meta_kept.exif if spec.keep_metadata else None,
            xmp=meta_kept.xmp if spec.keep_metadata else None,
        )
        if animation and spec.animated and spec.format in _ANIMATED_FORMATS:
            frames, durations = [_render_frame(f, spec, 1.0, marks) for f in animation[0]], animation[1]
        else:
            frames, durations = [_render_frame(base, spec, scale, marks)], [0]
        if spec.format == "auto":
            encoded = encode_auto(frames, spec, meta, durations)
        else:
            encoded = encode_output(frames, spec.format, spec, meta, durations)
        found = encoded.found
        outputs.append(
            Rendered(
                spec,
                encoded.format,
                encoded.data,
                frames[0].width,
                frames[0].height,
                found.quality if found else None,
                round(found.score, 2) if found and found.score is not None else None,
            )
        )
    return Rendering(outputs, placeholder_of(srgb, placeholder) if placeholder else None)


def _check_crop(spec: OutputSpec, width: int, height: int) -> None:
    """The crop is in upright source pixels (after EXIF orientation)."""
    if spec.crop:
        x, y, w, h = spec.crop
        if x + w > width or y + h > height:
            raise CropOutOfBounds(f"output {spec.name!r}: crop {w}x{h}+{x}+{y} is outside the {width}x{height} source")


def _needed_scale(spec: OutputSpec, width: int, height: int) -> float:
    """How large, relative to the source, the decoded image must be for this output."""
    w, h = (spec.crop[2], spec.crop[3]) if spec.crop else (width, height)
    rw, rh = operations.rotated_size(w, h, spec.rotate)
    return plan(spec, max(1, round(rw)), max(1, round(rh))).scale


def _draft(image: Image.Image, scale: float) -> None:
    """Ask the JPEG decoder for the smallest DCT scale that still covers every output."""
    if scale < 1:
        image.draft(image.mode, (math.ceil(image.width * scale), math.ceil(image.height * scale)))


def _frames(
    source: Image.Image, specs: Sequence[OutputSpec], info: SourceInfo, max_frames: int
) -> tuple[list[Image.Image], list[int]] | None:
    """Every frame of an animation, composited, when an output keeps it; None otherwise."""
    if info.frames < 2 or not any(s.animated and s.format in _ANIMATED_FORMATS for s in specs):
        return None
    frames: list[Image.Image] = []
    durations: list[int] = []
    for frame in ImageSequence.Iterator(source):
        if len(frames) >= max_frames:
            break
        frames.append(_normalise(frame.convert("RGBA")))
        durations.append(int(frame.info.get("duration", 100)))
    source.seek(0)
    return frames, durations


def _kept_metadata(image: Image.Image) -> Metadata:
    """EXIF (with the orientation already applied, so marked upright) and XMP, for keep_metadata."""
    exif = image.getexif()
    exif_bytes = None
    if len(exif):
        exif[_ORIENTATION] = 1
        exif_bytes = exif.tobytes()
    xmp = image.info.get("xmp")
    return Metadata(exif=exif_bytes, xmp=xmp if isinstance(xmp, bytes) else None)


def _normalise(image: Image.Image) -> Image.Image:
    """Bring any decoded mode to one the operations and encoders share: L, LA, RGB or RGBA."""
    if image.mode in ("RGB", "RGBA", "L", "LA"):
        return image
    if image.mode.startswith("I;16") or image.mode == "I":
        # 16-bit grey: keep the top 8 bits (a plain convert would clip everything above 255 to white).
        return image.convert("I").point(lambda v: v / 256).convert("L")
    if image.mode == "1":
        return image.convert("L")
    has_alpha = image.mode in ("PA", "RGBa", "La") or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def _decode_overlay(key: str, data: bytes, max_pixels: int) -> Image.Image:
    """A watermark image, under the same limits as a source (at most as many pixels as the source)."""
    info = probe(data, max(max_pixels, 1_000_000))
    try:
        with Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[info.format]]) as image:
            return _normalise(image.convert("RGBA"))
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptImage(f"the watermark {key!r} is corrupt or truncated: {exc}") from None


def _render_frame(image: Image.Image, spec: OutputSpec, scale: float, marks: Mapping[str, Image.Image]) -> Image.Image:
    work = operations.prepare(image, spec, scale)
    focus = operations.smart_focus(work) if spec.gravity == "smart" else None
    width, height = max(1, round(work.width / scale)), max(1, round(work.height / scale))
    p = plan(spec, width, height, focus)
    box = (p.box[0] * scale, p.box[1] * scale, p.box[2] * scale, p.box[3] * scale)
    if p.size != work.size or box != (0, 0, *work.size):
        # Pillow resamples RGBA and LA in premultiplied alpha, so transparent pixels do not bleed colour.
        work = work.resize(p.size, Image.Resampling.LANCZOS, box=box)
    if p.canvas:
        work = operations.pad(work, p.canvas, p.offset, spec.background)
    work = operations.finish(work, spec)
    if spec.watermark:
        overlay = marks.get(spec.watermark.image_key or "")
        work = watermark.apply(work, spec.watermark, overlay)
    return work
