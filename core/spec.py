"""What a job asks for, as plain values shared by the API and the workers."""

from __future__ import annotations

from dataclasses import dataclass

FORMATS = ("jpeg", "png", "webp")
FITS = ("contain", "cover")
EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp"}
CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
DEFAULT_QUALITY = {"jpeg": 85, "png": None, "webp": 80}


@dataclass(frozen=True)
class OutputSpec:
    name: str
    format: str
    width: int | None = None
    height: int | None = None
    fit: str = "contain"
    quality: int | None = None

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    @property
    def effective_quality(self) -> int | None:
        return self.quality if self.quality is not None else DEFAULT_QUALITY[self.format]


def staging_prefix(job_id: object) -> str:
    """Everything a job writes before it succeeds lives under this prefix."""
    return f"staging/{job_id}/"


def staged_key(job_id: object, spec: OutputSpec) -> str:
    return f"{staging_prefix(job_id)}outputs/{spec.name}.{spec.extension}"


def result_key(job_id: object, spec: OutputSpec) -> str:
    return f"results/{job_id}/{spec.name}.{spec.extension}"


def staged_source_key(job_id: object) -> str:
    return f"{staging_prefix(job_id)}source"
