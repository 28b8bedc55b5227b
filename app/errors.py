"""Every error the API returns is ``{code, status, message, errors?}``.

``code`` is a stable string a client can switch on; ``status`` is the HTTP
status. PixelFlow's own errors carry their code; HTTP errors raised by
Flask, webargs or ``abort`` get the code of their status.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from flask_smorest import Api
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from app.schemas import ErrorSchema
from core.errors import PixelFlowError, TransientError

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def error_body(code: str, status: int, message: str, errors: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "status": status, "message": message}
    if errors:
        body["errors"] = errors
    return body


class PixelFlowApi(Api):  # type: ignore[misc]
    ERROR_SCHEMA = ErrorSchema

    def init_app(self, app: Flask, *args: Any, **kwargs: Any) -> None:
        super().init_app(app, *args, **kwargs)
        app.register_error_handler(PixelFlowError, self.handle_pixelflow_error)

    def handle_http_exception(self, error: HTTPException) -> Any:
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        errors = data.get("errors") or data.get("messages")
        if isinstance(errors, dict) and set(errors) <= {"json", "query", "headers", "path", "form"}:
            # webargs nests by location; one location is the usual case.
            errors = next(iter(errors.values())) if len(errors) == 1 else errors
        message = data.get("message") or error.description or error.name
        if status == 400 and isinstance(errors, list) and all(isinstance(e, str) for e in errors):
            message, errors = " ".join(errors), None  # e.g. webargs' "Invalid JSON body."; errors are by field
        if status == 422 and "message" not in data:
            message = "the request is not valid: see errors"
        body = error_body(HTTP_CODES.get(status, f"http_{status}"), status, message, errors)
        headers = dict(data.get("headers") or {})
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            headers["Allow"] = ", ".join(sorted(error.valid_methods))  # RFC 9110 §15.5.6
        return body, status, headers

    def handle_pixelflow_error(self, error: PixelFlowError) -> Any:
        if isinstance(error, TransientError):
            log.warning("%s: %s", error.code, error.message)
        return error_body(error.code, error.status, error.message, getattr(error, "errors", None)), error.status
