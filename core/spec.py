"""What a job asks for, as plain values shared by the API and the workers.

An output is a name, a format and the operations that make it, applied in
this order: EXIF orientation → crop → rotate → flip/flop → resize (fit,
gravity) → blur → sharpen → watermark → encode.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

FORMATS = ("jpeg", "png", "webp", "gif", "avif", "jxl")
REQUESTABLE_FORMATS = (*FORMATS, "auto")
FITS = ("contain", "cover", "fill", "pad")
GRAVITIES = (
    "center",
    "north",
    "south",
    "east",
    "west",
    "northeast",
    "northwest",
    "southeast",
    "southwest",
    "focal",
    "smart",
)
SUBSAMPLINGS = ("4:4:4", "4:2:2", "4:2:0")
EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "gif": "gif", "avif": "avif", "jxl": "jxl"}
CONTENT_TYPES = {f: f"image/{f}" for f in FORMATS}
DEFAULT_QUALITY = {"jpeg": 85, "webp": 80, "avif": 60, "jxl": 75}
# quality "auto": the formats it applies to, the named SSIMULACRA2 targets (libjxl's own scale: 30 low, 50 medium,
# 70 high, 90 visually lossless), the range of a numeric one, and the default: the median score of q85 JPEG, the
# fixed default this mode is measured against, over make bench's corpus at the standard outputs' sizes (76.0).
AUTO_QUALITY_FORMATS = ("jpeg", "webp", "avif", "jxl", "auto")
QUALITY_TARGETS = {"low": 30.0, "medium": 50.0, "high": 70.0, "very_high": 90.0}
TARGET_RANGE = (30.0, 95.0)
DEFAULT_TARGET = 76.0
ALPHA_FORMATS = ("png", "webp", "gif", "avif", "jxl")
# What ``auto`` may choose from, when an output names them (``formats``), in the order tried.
AUTO_FORMATS = ("webp", "avif", "jxl", "jpeg", "png")


POSITIONS = ("center", "north", "south", "east", "west", "northeast", "northwest", "southeast", "southwest")


@dataclass(frozen=True)
class Watermark:
    """Text in the shipped font, or an uploaded image, laid over the finished output."""

    text: str | None = None
    image_key: str | None = None
    size: int | None = None
    """Text: font size in pixels (default: 5 % of the output's shorter side)."""
    scale: float = 0.25
    """Image: its width as a fraction of the output's width."""
    color: str = "#ffffff"
    opacity: float = 0.5
    position: str = "southeast"
    margin: int = 16

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) != f.default}


@dataclass(frozen=True)
class OutputSpec:
    name: str
    format: str
    width: int | None = None
    height: int | None = None
    fit: str = "contain"
    quality: int | None = None
    gravity: str = "center"
    focal: tuple[float, float] | None = None
    enlarge: bool = False
    background: str = "#ffffff"
    crop: tuple[int, int, int, int] | None = None
    """x, y, width, height in source pixels (after EXIF orientation)."""
    rotate: float = 0
    """Degrees clockwise."""
    flip: bool = False
    """Top to bottom."""
    flop: bool = False
    """Left to right."""
    blur: float | None = None
    sharpen: float | None = None
    progressive: bool = False
    subsampling: str | None = None
    lossless: bool = False
    optimize: bool = False
    palette: int | None = None
    """PNG: quantise to this many colours."""
    keep_metadata: bool = False
    keep_icc: bool = False
    animated: bool = True
    watermark: Watermark | None = None
    formats: tuple[str, ...] | None = None
    """auto: the formats it may choose from (default WebP, AVIF and JPEG, or PNG instead of JPEG with alpha)."""
    target: float | None = None
    """quality "auto": the SSIMULACRA2 score to reach (``quality`` is then None)."""

    def focused(self, focal: tuple[float, float] | None) -> OutputSpec:
        """The output for a batch item with its own focal point: outputs that crop keep that point."""
        if focal is None or self.fit not in ("cover", "pad"):
            return self
        return dataclasses.replace(self, gravity="focal", focal=focal)

    def effective_quality(self, fmt: str) -> int | None:
        return self.quality if self.quality is not None else DEFAULT_QUALITY.get(fmt)

    def options(self) -> dict[str, Any]:
        """Every field beyond the basic columns that differs from its default, as JSON values."""
        basic = {"name", "format", "width", "height", "fit", "quality"}
        return {
            f.name: _json(value)
            for f in dataclasses.fields(self)
            if f.name not in basic and (value := getattr(self, f.name)) != f.default
        }

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> OutputSpec:
        """From the API's or the database's dict: lists become tuples, dicts of x/y become pairs."""
        values = dict(fields)
        if isinstance(values.get("focal"), dict):
            values["focal"] = (values["focal"]["x"], values["focal"]["y"])
        if isinstance(values.get("crop"), dict):
            c = values["crop"]
            values["crop"] = (c["x"], c["y"], c["width"], c["height"])
        if values.get("quality") == "auto":  # the API's form: the quality is searched for, to the target
            values["quality"] = None
            values["target"] = float(values.get("target") or DEFAULT_TARGET)
        for key in ("focal", "crop", "formats"):
            if isinstance(values.get(key), list):
                values[key] = tuple(values[key])
        if isinstance(values.get("watermark"), dict):
            mark = dict(values["watermark"])
            if isinstance(mark.get("image"), dict):
                mark["image_key"] = mark.pop("image")["key"]
            values["watermark"] = Watermark(**mark)
        return cls(**values)


def _json(value: object) -> object:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Watermark):
        return value.to_json()
    return value


def extension(fmt: str) -> str:
    return EXTENSIONS[fmt]


def staging_prefix(job_id: object) -> str:
    """Everything a job writes before it succeeds lives under this prefix."""
    return f"staging/{job_id}/"


def staged_key(job_id: object, name: str, fmt: str) -> str:
    return f"{staging_prefix(job_id)}outputs/{name}.{extension(fmt)}"


def result_key(tenant: str, job_id: object, name: str, fmt: str) -> str:
    """Results are namespaced by tenant, then job: one prefix to list or purge either."""
    return f"results/{tenant}/{job_id}/{name}.{extension(fmt)}"


def manifest_key(tenant: str, batch_id: object) -> str:
    """A batch's results manifest (JSON Lines), beside its tenant's results."""
    return f"results/{tenant}/batches/{batch_id}/manifest.jsonl"


# What an upload slot may declare, and what a job's uploaded source must have been stored as.
UPLOAD_CONTENT_TYPES = (
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "image/tiff",
    "image/avif",
    "image/heic",
    "image/heif",
    "image/jxl",
)


def upload_prefix(tenant: str) -> str:
    return f"uploads/{tenant}/"


def staged_source_key(job_id: object) -> str:
    return f"{staging_prefix(job_id)}source"
