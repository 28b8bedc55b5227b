"""Request and response schemas (marshmallow); they are also the OpenAPI document."""

from __future__ import annotations

from typing import Any

from apispec import BasePlugin
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from config import Settings, SettingsError
from core.model import STEPS, BatchStatus, JobStatus
from core.spec import (
    AUTO_FORMATS,
    DEFAULT_TARGET,
    FITS,
    GRAVITIES,
    POSITIONS,
    QUALITY_TARGETS,
    REQUESTABLE_FORMATS,
    SUBSAMPLINGS,
    TARGET_RANGE,
    UPLOAD_CONTENT_TYPES,
    OutputSpec,
)

NAME = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", error="use 1-64 letters, digits, '_' or '-'")
STATUS = tuple(JobStatus)
BATCH_STATUS = tuple(BatchStatus)


class JsonBoolean(fields.Boolean):
    """A JSON boolean and nothing else: marshmallow's own also takes 0, 1, "yes" and "on", which the document
    does not admit (schemathesis sends them as schema-violating and expects a 422)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):  # 0 == False in a set's eyes: the type is the test
            raise self.make_error("invalid", input=value)
        return value


PLACEHOLDER_TYPES = ("blurhash", "thumbhash")
PLACEHOLDER_DOC = {
    "description": "a placeholder of the image in the result: true (a BlurHash), or the type:"
    ' {"type": "blurhash"} or {"type": "thumbhash"} (a ThumbHash, base64: aspect ratio and alpha too)',
    "default": False,
    "oneOf": [
        {"type": "boolean"},
        {
            "type": "object",
            "properties": {"type": {"type": "string", "enum": list(PLACEHOLDER_TYPES)}},
            "required": ["type"],
            "additionalProperties": False,
        },
    ],
}


class PlaceholderRequest(fields.Field[str | None]):
    """``true`` (a BlurHash, as before there was a choice), ``false``, or ``{"type": …}``: loaded as the type or
    None. Its document (PLACEHOLDER_DOC, the field's metadata) says the same as a ``oneOf``."""

    default_error_messages = {
        "invalid": "true, false, or an object whose one field, type, is " + " or ".join(PLACEHOLDER_TYPES)
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        if isinstance(value, bool):
            return "blurhash" if value else None
        if isinstance(value, dict) and set(value) == {"type"} and value["type"] in PLACEHOLDER_TYPES:
            return str(value["type"])
        raise self.make_error("invalid")


QUALITY_DOC = {
    "description": 'the encoder\'s quality, 1-100 (defaults: JPEG 85, WebP 80, AVIF 60, JPEG XL 75), or "auto": the'
    " lowest that reaches the output's target, searched in at most 6 encodes; the result reports the quality"
    " chosen and its score",
    "oneOf": [{"type": "integer", "minimum": 1, "maximum": 100}, {"type": "string", "enum": ["auto"]}],
}
TARGET_DOC = {
    "description": f"quality auto: the SSIMULACRA2 score to reach, {TARGET_RANGE[0]:g}-{TARGET_RANGE[1]:g}, or a"
    f" name: {', '.join(f'{k} ({v:g})' for k, v in QUALITY_TARGETS.items())}. Default {DEFAULT_TARGET:g}: the"
    " median score of q85 JPEG",
    "oneOf": [
        {"type": "number", "minimum": TARGET_RANGE[0], "maximum": TARGET_RANGE[1]},
        {"type": "string", "enum": list(QUALITY_TARGETS)},
    ],
}


class QualityRequest(fields.Field[int | str]):
    """An integer 1-100, or "auto". Its document is QUALITY_DOC (the field's metadata)."""

    default_error_messages = {"invalid": 'an integer from 1 to 100, or "auto"'}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int | str:
        if value == "auto" and isinstance(value, str):
            return value
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not whole or not 1 <= value <= 100:
            raise self.make_error("invalid")
        return int(value)


class TargetRequest(fields.Field[float]):
    """A SSIMULACRA2 score in TARGET_RANGE, or one of QUALITY_TARGETS' names: loaded as the score."""

    default_error_messages = {
        "invalid": f"a SSIMULACRA2 score from {TARGET_RANGE[0]:g} to {TARGET_RANGE[1]:g}, or one of "
        + ", ".join(QUALITY_TARGETS)
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, str) and value in QUALITY_TARGETS:
            return QUALITY_TARGETS[value]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not TARGET_RANGE[0] <= value <= TARGET_RANGE[1]:
            raise self.make_error("invalid")
        return float(value)


class JsonInteger(fields.Integer):
    """A JSON integer: marshmallow's own also takes "5", true and 2.5 (as 2)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not whole:
            raise self.make_error("invalid", input=value)
        return int(value)


class JsonFloat(fields.Float):
    """A JSON number: marshmallow's own also takes "1.5" and true."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class ErrorSchema(Schema):
    code = fields.String(required=True, metadata={"description": "stable error code (listed in the README)"})
    status = JsonInteger(required=True, metadata={"description": "HTTP status"})
    message = fields.String(required=True)
    errors = fields.Dict(metadata={"description": "what is wrong, by field"})


class UploadRequestSchema(StrictSchema):
    content_type = fields.String(required=True, validate=validate.OneOf(UPLOAD_CONTENT_TYPES))
    file_name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class UploadSchema(Schema):
    key = fields.String(required=True, metadata={"description": "give this key as the job's source"})
    url = fields.String(required=True, metadata={"description": "send the bytes here"})
    method = fields.String(required=True)
    headers = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    expires_at = fields.DateTime(required=True)


# A URL the API takes: JSON Schema's "uri" format (marshmallow's Url field would say "url", which is no format).
HTTP_URL = {"format": "uri", "description": "an http or https URL"}


class SourceSchema(StrictSchema):
    key = fields.String(
        # What an upload's key is made of (app/resources/uploads.py): any other key names nothing.
        validate=[validate.Length(min=1, max=1024), validate.Regexp(r"^[A-Za-z0-9._/-]+$")],
        metadata={"description": "an upload's key (POST /v1/uploads), uploaded to before the job is made"},
    )
    url = fields.Url(schemes={"http", "https"}, validate=validate.Length(min=10, max=2048), metadata=HTTP_URL)
    # In the document: exactly one of them (OpenApiExtras).
    OPENAPI_ONE_OF = ((("key",), ()), (("url",), ()))

    @validates_schema
    def _one_of(self, data: dict[str, Any], **_: Any) -> None:
        if ("key" in data) == ("url" in data):
            raise ValidationError("give exactly one of key or url")


class FocalSchema(StrictSchema):
    x = JsonFloat(required=True, validate=validate.Range(min=0, max=1))
    y = JsonFloat(required=True, validate=validate.Range(min=0, max=1))


class CropSchema(StrictSchema):
    x = JsonInteger(required=True, validate=validate.Range(min=0))
    y = JsonInteger(required=True, validate=validate.Range(min=0))
    width = JsonInteger(required=True, validate=validate.Range(min=1))
    height = JsonInteger(required=True, validate=validate.Range(min=1))


class WatermarkImageSchema(StrictSchema):
    key = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class WatermarkSchema(StrictSchema):
    text = fields.String(validate=validate.Length(min=1, max=200))
    image = fields.Nested(WatermarkImageSchema, metadata={"description": "an uploaded image"})
    size = JsonInteger(validate=validate.Range(min=6, max=1000), metadata={"description": "text: font px"})
    scale = JsonFloat(
        validate=validate.Range(min=0.01, max=1), metadata={"description": "image: fraction of the output's width"}
    )
    color = fields.String(validate=validate.Regexp(r"^#([0-9a-fA-F]{6}|[0-9a-fA-F]{8})$", error="use #rrggbb[aa]"))
    opacity = JsonFloat(validate=validate.Range(min=0, max=1))
    position = fields.String(validate=validate.OneOf(POSITIONS))
    margin = JsonInteger(validate=validate.Range(min=0, max=1000))

    OPENAPI_ONE_OF = (
        (("text",), ("size", "color", "opacity", "position", "margin")),
        (("image",), ("scale", "opacity", "position", "margin")),
    )

    @validates_schema
    def _one_kind(self, data: dict[str, Any], **_: Any) -> None:
        if ("text" in data) == ("image" in data):
            raise ValidationError("give exactly one of text or image")
        if "text" in data and "scale" in data:
            raise ValidationError("scale applies to image watermarks; use size for text", "scale")
        if "image" in data and ("size" in data or "color" in data):
            raise ValidationError("size and color apply to text watermarks", "size")


# Options that only one encoder understands: field → the formats it applies to.
_FORMAT_OPTIONS = {
    "quality": ("jpeg", "webp", "avif", "jxl", "auto"),
    "progressive": ("jpeg",),
    "subsampling": ("jpeg",),
    "lossless": ("webp", "jxl"),
    "formats": ("auto",),
    "optimize": ("png", "jpeg"),
    "palette": ("png",),
}


def _given(field: str, value: dict[str, Any]) -> dict[str, Any]:
    """JSON Schema: ``field`` is there and matches ``value``."""
    return {"required": [field], "properties": {field: value}}


class OutputRequestSchema(StrictSchema):
    name = fields.String(required=True, validate=NAME)
    format = fields.String(
        required=True,
        validate=validate.OneOf(REQUESTABLE_FORMATS),
        metadata={
            "description": "auto: the smallest of WebP, AVIF and JPEG (PNG instead of JPEG with alpha), or of the "
            "output's formats"
        },
    )
    formats = fields.List(
        fields.String(validate=validate.OneOf(AUTO_FORMATS)),
        validate=validate.Length(min=1, max=len(AUTO_FORMATS)),
        metadata={
            "description": "auto: the formats to choose from; JPEG XL (jxl) is a candidate only when named here, "
            "as most browsers do not show it. JPEG is skipped for an image with alpha",
        },
    )
    width = JsonInteger(validate=validate.Range(min=1))
    height = JsonInteger(validate=validate.Range(min=1))
    fit = fields.String(
        load_default="contain",
        validate=validate.OneOf(FITS),
        metadata={
            "description": "contain: inside the box; cover: fill it, cropping; fill: stretch; pad: contain "
            "on a canvas of the box's size"
        },
    )
    gravity = fields.String(
        validate=validate.OneOf(GRAVITIES),
        metadata={"description": "what cover keeps and where pad places the image; smart: the area of most detail"},
    )
    focal = fields.Nested(FocalSchema, metadata={"description": "the point gravity 'focal' keeps, 0..1 each way"})
    enlarge = JsonBoolean(metadata={"description": "allow outputs larger than the source (default false)"})
    background = fields.String(
        validate=validate.Regexp(r"^#([0-9a-fA-F]{6}|[0-9a-fA-F]{8})$", error="use #rrggbb or #rrggbbaa"),
        metadata={"description": "pad, rotation corners and JPEG's flattened alpha (default #ffffff)"},
    )
    crop = fields.Nested(CropSchema, metadata={"description": "a rectangle in source pixels, before resizing"})
    rotate = JsonFloat(validate=validate.Range(min=-360, max=360), metadata={"description": "degrees clockwise"})
    flip = JsonBoolean(metadata={"description": "mirror top to bottom"})
    flop = JsonBoolean(metadata={"description": "mirror left to right"})
    blur = JsonFloat(validate=validate.Range(min=0.1, max=100), metadata={"description": "Gaussian sigma"})
    sharpen = JsonFloat(validate=validate.Range(min=0.1, max=10), metadata={"description": "unsharp radius"})
    quality = QualityRequest(metadata=QUALITY_DOC)
    target = TargetRequest(metadata=TARGET_DOC)
    progressive = JsonBoolean()
    subsampling = fields.String(validate=validate.OneOf(SUBSAMPLINGS))
    lossless = JsonBoolean()
    optimize = JsonBoolean(metadata={"description": "PNG: smallest deflate; JPEG: optimised Huffman tables"})
    palette = JsonInteger(validate=validate.Range(min=2, max=256), metadata={"description": "PNG colours"})
    keep_metadata = JsonBoolean(metadata={"description": "keep EXIF and XMP (stripped by default)"})
    keep_icc = JsonBoolean(metadata={"description": "keep the ICC profile instead of converting to sRGB"})
    animated = JsonBoolean(metadata={"description": "GIF and WebP outputs of an animation keep it (default)"})
    watermark = fields.Nested(WatermarkSchema)

    # _coherent's rules, in the document (OpenApiExtras).
    OPENAPI_RULES = (
        {"if": _given("fit", {"enum": ["cover", "pad"]}), "then": {"required": ["width", "height"]}},
        {
            "if": _given("fit", {"const": "fill"}),
            "then": {"anyOf": [{"required": ["width"]}, {"required": ["height"]}]},
        },
        {"if": _given("gravity", {"not": {"const": "center"}}), "then": _given("fit", {"enum": ["cover", "pad"]})},
        {
            "if": _given("gravity", {"const": "focal"}),
            "then": {"required": ["focal"]},
            "else": {"not": {"required": ["focal"]}},
        },
        *(
            {
                "if": _given(option, {"not": {"const": False}}),
                "then": {"properties": {"format": {"enum": list(formats)}}},
            }
            # formats (auto only) and JPEG XL's refusal of keep_icc/keep_metadata are _coherent's alone: with
            # them the document's allOf grew past what schemathesis can generate from (UnsupportedSchema).
            for option, formats in _FORMAT_OPTIONS.items()
            if option != "formats"
        ),
    )

    @validates_schema
    def _coherent(self, data: dict[str, Any], **_: Any) -> None:
        fit, box = data.get("fit"), (data.get("width"), data.get("height"))
        if fit in ("cover", "pad") and not all(box):
            raise ValidationError(f"fit {fit!r} needs both width and height", "fit")
        if fit == "fill" and not any(box):
            raise ValidationError("fit 'fill' needs a width or a height", "fit")
        gravity = data.get("gravity")
        if gravity and gravity != "center" and fit not in ("cover", "pad"):
            raise ValidationError("gravity applies to fit 'cover' or 'pad'", "gravity")
        if (gravity == "focal") != ("focal" in data):
            raise ValidationError("gravity 'focal' and a focal point go together", "focal")
        for option, formats in _FORMAT_OPTIONS.items():
            if data.get(option) not in (None, False) and data["format"] not in formats:
                raise ValidationError(f"{option} applies to {', '.join(formats)}, not {data['format']}", option)
        if len(set(data.get("formats", ()))) != len(data.get("formats", ())):
            raise ValidationError("each format once", "formats")
        if "target" in data and data.get("quality") != "auto":
            raise ValidationError('target applies to quality "auto"', "target")
        if data.get("quality") == "auto" and data.get("lossless"):
            raise ValidationError('quality "auto" is for lossy encodes, not lossless', "quality")
        if data["format"] == "jxl":  # (auto skips JPEG XL for such an output: encode.candidates)
            for option in ("keep_icc", "keep_metadata"):
                if data.get(option):
                    raise ValidationError(f"{option} is not available for JPEG XL outputs", option)


def load_presets(settings: Settings) -> dict[str, list[OutputSpec]]:
    """Every preset's outputs, checked once; a bad preset stops the API at start-up."""
    problems, presets = [], {}
    for name, outputs in settings.presets.items():
        try:
            presets[name] = [OutputSpec.from_fields(o) for o in OutputRequestSchema(many=True).load(outputs)]
        except ValidationError as exc:
            problems.append(f"PIXELFLOW_PRESETS: preset {name!r}: {exc.messages}")
    if problems:
        raise SettingsError(problems)
    return presets


class JobRequestSchema(StrictSchema):
    source = fields.Nested(SourceSchema, required=True)
    outputs = fields.List(fields.Nested(OutputRequestSchema), load_default=list)
    presets = fields.List(
        fields.String(validate=NAME),
        load_default=list,
        metadata={"description": "named output sets from the configuration, added to outputs"},
    )
    placeholder = PlaceholderRequest(load_default=None, allow_none=False, metadata=PLACEHOLDER_DOC)
    webhook_url = fields.Url(schemes={"http", "https"}, validate=validate.Length(min=10, max=2048), metadata=HTTP_URL)

    # _something_to_make's first rule, in the document (OpenApiExtras).
    OPENAPI_RULES = (
        {
            "anyOf": [
                _given("outputs", {"minItems": 1}),
                _given("presets", {"minItems": 1}),
            ]
        },
    )

    @validates_schema
    def _something_to_make(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("outputs") and not data.get("presets"):
            raise ValidationError("ask for outputs, presets or both", "outputs")
        names = [o["name"] for o in data.get("outputs", [])]
        if len(names) != len(set(names)):
            raise ValidationError("output names must be unique within a job", "outputs")


class BatchItemSchema(StrictSchema):
    source = fields.Nested(SourceSchema, required=True)
    focal = fields.Nested(
        FocalSchema, metadata={"description": "this item's point to keep, 0..1 each way: outputs that crop keep it"}
    )


class BatchRequestSchema(StrictSchema):
    items = fields.List(
        fields.Nested(BatchItemSchema),
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "the sources, each a job of its own (duplicates allowed)"},
    )
    outputs = fields.List(fields.Nested(OutputRequestSchema), load_default=list)
    presets = fields.List(
        fields.String(validate=NAME),
        load_default=list,
        metadata={"description": "named output sets from the configuration, added to outputs"},
    )
    placeholder = PlaceholderRequest(load_default=None, allow_none=False, metadata=PLACEHOLDER_DOC)
    webhook_url = fields.Url(
        schemes={"http", "https"},
        validate=validate.Length(min=10, max=2048),
        metadata={
            **HTTP_URL,
            "description": "where batch.completed is sent, signed as a job's webhook, once every item has ended",
        },
    )
    job_webhook_url = fields.Url(
        schemes={"http", "https"},
        validate=validate.Length(min=10, max=2048),
        metadata={**HTTP_URL, "description": "told of every item's job, as a job's webhook_url is"},
    )

    OPENAPI_RULES = JobRequestSchema.OPENAPI_RULES

    @validates_schema
    def _something_to_make(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("outputs") and not data.get("presets"):
            raise ValidationError("ask for outputs, presets or both", "outputs")


class BatchCountsSchema(Schema):
    queued = JsonInteger(required=True)
    processing = JsonInteger(required=True)
    succeeded = JsonInteger(required=True)
    failed = JsonInteger(required=True)
    canceled = JsonInteger(required=True)


class BatchSchema(Schema):
    id = fields.String(required=True, metadata={"description": "UUIDv7: sorts by creation time"})
    status = fields.String(
        required=True,
        validate=validate.OneOf(BATCH_STATUS),
        metadata={
            "description": "queued: no item started; processing: some not ended; then succeeded (all did),"
            " failed (none did), partially_failed; canceled once canceled"
        },
    )
    items = JsonInteger(required=True, metadata={"description": "how many jobs the batch has"})
    counts = fields.Nested(BatchCountsSchema, required=True, metadata={"description": "its jobs by state"})
    webhook_url = fields.String(allow_none=True)
    manifest_url = fields.String(
        allow_none=True,
        metadata={
            "description": "a presigned GET of the results manifest (JSON Lines, one line per item: source,"
            " status, output keys and sizes, error), once the batch has finished"
        },
    )
    created_at = fields.String(required=True)
    canceled_at = fields.String(allow_none=True)
    finished_at = fields.String(
        allow_none=True, metadata={"description": "when every item had ended and the manifest was written"}
    )
    notified_at = fields.String(
        allow_none=True, metadata={"description": "when its batch.completed delivery ended (or had none to make)"}
    )
    purged_at = fields.String(allow_none=True)
    jobs = fields.List(fields.Nested(lambda: JobSchema()), metadata={"description": "GET: a page of its jobs"})
    next_cursor = fields.String(allow_none=True, metadata={"description": "pass as cursor for the next page"})


class BatchQuerySchema(StrictSchema):
    status = fields.String(validate=validate.OneOf(STATUS), metadata={"description": "only its jobs in this state"})
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.UUID()


class BatchListQuerySchema(StrictSchema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.UUID()


class BatchListSchema(Schema):
    items = fields.List(fields.Nested(BatchSchema), required=True)
    next_cursor = fields.String(allow_none=True, metadata={"description": "pass as cursor for the next page"})


class JobOutputSchema(Schema):
    name = fields.String(required=True)
    format = fields.String(required=True, metadata={"description": "the format rendered, once the job succeeded"})
    width = JsonInteger(allow_none=True)
    height = JsonInteger(allow_none=True)
    bytes = JsonInteger(allow_none=True)
    quality = JsonInteger(metadata={"description": 'quality "auto": the quality chosen, once the job succeeded'})
    score = JsonFloat(metadata={"description": 'quality "auto": the SSIMULACRA2 score of the output at that quality'})
    key = fields.String(allow_none=True)
    url = fields.String(allow_none=True, metadata={"description": "a presigned GET URL, once the job succeeded"})


class JobErrorSchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)


class PlaceholderSchema(Schema):
    type = fields.String(required=True, metadata={"description": "blurhash or thumbhash (as asked)"})
    hash = fields.String(required=True)


class JobSourceSchema(Schema):
    key = fields.String()
    url = fields.String()
    format = fields.String()
    width = JsonInteger()
    height = JsonInteger()
    bytes = JsonInteger()


class JobSchema(Schema):
    id = fields.String(required=True, metadata={"description": "UUIDv7: sorts by creation time"})
    status = fields.String(required=True, validate=validate.OneOf(STATUS))
    steps = fields.List(
        fields.String(validate=validate.OneOf(STEPS)),
        metadata={"description": "the steps done so far, in chain order: fetch, validate, transform, upload, notify"},
    )
    source = fields.Nested(JobSourceSchema, required=True)
    outputs = fields.List(fields.Nested(JobOutputSchema), required=True)
    error = fields.Nested(JobErrorSchema, allow_none=True)
    placeholder = fields.Nested(PlaceholderSchema, allow_none=True)
    webhook_url = fields.String(allow_none=True)
    created_at = fields.String(required=True)
    started_at = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)
    purged_at = fields.String(
        allow_none=True,
        metadata={
            "description": "when its images were deleted (DELETE, or the retention period); its outputs have no"
            " url from then on"
        },
    )
    batch_id = fields.String(allow_none=True, metadata={"description": "the batch the job is an item of"})


class JobListQuerySchema(StrictSchema):
    status = fields.String(validate=validate.OneOf(STATUS))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.UUID()


class JobListSchema(Schema):
    items = fields.List(fields.Nested(JobSchema), required=True)
    next_cursor = fields.String(allow_none=True, metadata={"description": "pass as cursor for the next page"})


class DeliverySchema(Schema):
    id = JsonInteger(required=True)
    message_id = fields.String(required=True, metadata={"description": "the webhook-id header, the same on retries"})
    url = fields.String(required=True)
    attempt = JsonInteger(required=True)
    status_code = JsonInteger(allow_none=True)
    error = fields.String(allow_none=True)
    duration_ms = JsonInteger(required=True)
    created_at = fields.DateTime(required=True)


class DeliveryListSchema(Schema):
    items = fields.List(fields.Nested(DeliverySchema), required=True)


class UsageQuerySchema(StrictSchema):
    from_ = fields.AwareDateTime(
        data_key="from",
        attribute="from",
        metadata={
            "description": "default: 30 days ago; not after 'to' (422 validation_error otherwise); equal to 'to': an"
            " empty window, all zeros"
        },
    )
    to = fields.AwareDateTime(metadata={"description": "default: now (or 'from', if that is later); not before 'from'"})


class UsageSchema(Schema):
    tenant = fields.String(required=True)
    from_ = fields.DateTime(data_key="from", attribute="from", required=True)
    to = fields.DateTime(required=True)
    jobs = JsonInteger(required=True, metadata={"description": "succeeded jobs"})
    pixels = JsonInteger(required=True, metadata={"description": "source pixels processed (all frames)"})
    bytes_in = JsonInteger(required=True)
    bytes_out = JsonInteger(required=True)
    bytes_saved = JsonInteger(required=True, metadata={"description": "source bytes per output minus output bytes"})
    compute_ms = JsonInteger(required=True, metadata={"description": "CPU time of the transforms"})
    jobs_purged = JsonInteger(required=True, metadata={"description": "jobs whose images were deleted"})
    bytes_purged = JsonInteger(required=True, metadata={"description": "output bytes those deletions freed"})


class WebhookSecretSchema(Schema):
    id = fields.UUID(required=True)
    prefix = fields.String(required=True, metadata={"description": "the secret's first characters, to tell it apart"})
    created_at = fields.DateTime(required=True)


class NewWebhookSecretSchema(WebhookSecretSchema):
    secret = fields.String(required=True, metadata={"description": "whsec_…: shown this once; keep it"})


class WebhookSecretListSchema(Schema):
    items = fields.List(fields.Nested(WebhookSecretSchema), required=True)


class HealthSchema(Schema):
    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String())


class OpenApiExtras(BasePlugin):
    """Rules across a schema's fields, put into its component:

    - ``OPENAPI_ONE_OF``: (required fields, optional fields) groups; the component becomes a ``oneOf`` of one
      closed object schema per group (disjoint branches, which generators and validators both read well);
    - ``OPENAPI_RULES``: JSON Schema conditions (if/then) the object must meet as well (``allOf``).
    """

    def schema_helper(self, name: str, definition: dict[str, Any], **kwargs: Any) -> dict[str, Any] | None:
        # apispec merges what a helper returns into the definition (dict.update): a key is taken away only by
        # changing the definition itself, which is the component being built.
        schema = kwargs.get("schema")
        groups, rules = getattr(schema, "OPENAPI_ONE_OF", None), getattr(schema, "OPENAPI_RULES", None)
        if rules:
            definition["allOf"] = list(rules)
        if groups:
            properties = definition.pop("properties", {})
            for key in ("required", "additionalProperties"):
                definition.pop(key, None)
            # Still an object at the top, so that no number, string, array or null meets the component.
            definition["type"] = "object"
            definition["oneOf"] = [
                {
                    "type": "object",
                    "properties": {field: properties[field] for field in (*required, *optional)},
                    "required": list(required),
                    "additionalProperties": False,
                }
                for required, optional in groups
            ]
        return None


def document_limits(spec: Any, settings: Settings) -> None:
    """The deployment's own limits and presets, in its document: what a job may ask for here."""
    schemas = spec.components.schemas
    output = schemas["OutputRequest"]["properties"]
    for name in ("JobRequest", "BatchRequest"):
        job = schemas[name]["properties"]
        job["presets"]["items"] = {"type": "string", "enum": sorted(settings.presets)}
        job["outputs"]["maxItems"] = settings.max_outputs
    schemas["BatchRequest"]["properties"]["items"]["maxItems"] = settings.batch_max_items
    for side in ("width", "height"):
        output[side]["maximum"] = settings.max_output_dimension


class DeadLetterSchema(Schema):
    id = JsonInteger(required=True)
    job_id = fields.UUID(allow_none=True)
    task = fields.String(required=True, metadata={"description": "the step whose message was dead-lettered"})
    reason = fields.String(
        required=True, metadata={"description": "rejected (a step failed for good) or delivery_limit"}
    )
    delivery_count = JsonInteger(allow_none=True)
    created_at = fields.DateTime(required=True)


class DeadLetterListSchema(Schema):
    items = fields.List(fields.Nested(DeadLetterSchema), required=True)
