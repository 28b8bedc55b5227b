"""Request and response schemas (marshmallow); they are also the OpenAPI document."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from core.spec import FITS, FORMATS

NAME = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", error="use 1-64 letters, digits, '_' or '-'")
STATUS = ("queued", "processing", "succeeded", "failed")


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class ErrorSchema(Schema):
    code = fields.String(required=True, metadata={"description": "stable error code (listed in the README)"})
    status = fields.Integer(required=True, metadata={"description": "HTTP status"})
    message = fields.String(required=True)
    errors = fields.Dict(metadata={"description": "what is wrong, by field"})


class UploadRequestSchema(StrictSchema):
    content_type = fields.String(
        required=True, validate=validate.OneOf(["image/jpeg", "image/png", "image/webp", "image/gif"])
    )
    file_name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class UploadSchema(Schema):
    key = fields.String(required=True, metadata={"description": "give this key as the job's source"})
    url = fields.String(required=True, metadata={"description": "send the bytes here"})
    method = fields.String(required=True)
    headers = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    expires_at = fields.DateTime(required=True)


class SourceSchema(StrictSchema):
    key = fields.String(validate=validate.Length(min=1, max=1024))
    url = fields.Url(schemes={"http", "https"}, validate=validate.Length(max=2048))

    @validates_schema
    def _one_of(self, data: dict[str, Any], **_: Any) -> None:
        if ("key" in data) == ("url" in data):
            raise ValidationError("give exactly one of key or url")


class OutputRequestSchema(StrictSchema):
    name = fields.String(required=True, validate=NAME)
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
    width = fields.Integer(validate=validate.Range(min=1))
    height = fields.Integer(validate=validate.Range(min=1))
    fit = fields.String(load_default="contain", validate=validate.OneOf(FITS))
    quality = fields.Integer(validate=validate.Range(min=1, max=100))

    @validates_schema
    def _fit_needs_box(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("fit") == "cover" and not (data.get("width") and data.get("height")):
            raise ValidationError("fit 'cover' needs both width and height", "fit")
        if data.get("quality") is not None and data.get("format") == "png":
            raise ValidationError("quality applies to jpeg and webp, not png", "quality")


class JobRequestSchema(StrictSchema):
    source = fields.Nested(SourceSchema, required=True)
    outputs = fields.List(fields.Nested(OutputRequestSchema), required=True, validate=validate.Length(min=1))
    webhook_url = fields.Url(schemes={"http", "https"}, validate=validate.Length(max=2048))

    @validates_schema
    def _unique_names(self, data: dict[str, Any], **_: Any) -> None:
        names = [o["name"] for o in data.get("outputs", [])]
        if len(names) != len(set(names)):
            raise ValidationError("output names must be unique within a job", "outputs")


class JobOutputSchema(Schema):
    name = fields.String(required=True)
    format = fields.String(required=True)
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    bytes = fields.Integer(allow_none=True)
    key = fields.String(allow_none=True)
    url = fields.String(allow_none=True, metadata={"description": "a presigned GET URL, once the job succeeded"})


class JobErrorSchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)


class JobSourceSchema(Schema):
    key = fields.String()
    url = fields.String()
    format = fields.String()
    width = fields.Integer()
    height = fields.Integer()
    bytes = fields.Integer()


class JobSchema(Schema):
    id = fields.String(required=True, metadata={"description": "UUIDv7: sorts by creation time"})
    status = fields.String(required=True, validate=validate.OneOf(STATUS))
    source = fields.Nested(JobSourceSchema, required=True)
    outputs = fields.List(fields.Nested(JobOutputSchema), required=True)
    error = fields.Nested(JobErrorSchema, allow_none=True)
    webhook_url = fields.String(allow_none=True)
    created_at = fields.String(required=True)
    started_at = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)


class JobListQuerySchema(StrictSchema):
    status = fields.String(validate=validate.OneOf(STATUS))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.UUID()


class JobListSchema(Schema):
    items = fields.List(fields.Nested(JobSchema), required=True)
    next_cursor = fields.String(allow_none=True, metadata={"description": "pass as cursor for the next page"})


class HealthSchema(Schema):
    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String())
