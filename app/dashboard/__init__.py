"""The dashboard: one page for a person with an API key, served by the API, no CDN.

It is a client of the public API like any other: the key stays in the tab's
session storage and goes as a Bearer header; uploads go straight from the
browser to storage through the presigned PUT (the storage must allow this
origin: CORS). The page's Content-Security-Policy allows scripts and styles
from this origin only, and images and uploads from the storage's.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

from config import Settings

STATIC = Path(__file__).parent / "static"


def dashboard_csp(settings: Settings) -> str:
    storage = f"{'https' if settings.s3_secure else 'http'}://{settings.presign_endpoint}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' {storage}; connect-src 'self' {storage}; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


def dashboard_blueprint(settings: Settings) -> Blueprint:
    blp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
    csp = dashboard_csp(settings)

    def served(name: str) -> Response:
        response = send_from_directory(STATIC, name, max_age=0)
        response.headers["Content-Security-Policy"] = csp
        return response

    @blp.get("/")
    def index() -> Response:
        return served("index.html")

    @blp.get("/<name>")
    def asset(name: str) -> Response:
        return served(name)

    return blp
