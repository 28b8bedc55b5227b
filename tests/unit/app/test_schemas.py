from typing import Any

import pytest
from marshmallow import ValidationError

from app.resources.uploads import safe_file_name
from app.schemas import JobRequestSchema, UploadRequestSchema


def load(body: dict[str, Any]) -> dict[str, Any]:
    return JobRequestSchema().load(body)  # type: ignore[no-any-return]


def job(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"source": {"key": "uploads/x/a.jpg"}, "outputs": [{"name": "a", "format": "webp"}]}
    body.update(overrides)
    return body


def test_a_minimal_job_gets_contain_as_its_fit() -> None:
    assert load(job())["outputs"] == [{"name": "a", "format": "webp", "fit": "contain"}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (job(source={}), "source"),
        (job(source={"key": "k", "url": "http://example.com/a.jpg"}), "source"),
        (job(source={"url": "ftp://example.com/a.jpg"}), "source"),
        (job(outputs=[]), "outputs"),
        (job(outputs=[{"name": "a", "format": "bmp"}]), "outputs"),
        (job(outputs=[{"name": "a", "format": "jpeg", "width": 0}]), "outputs"),
        (job(outputs=[{"name": "a", "format": "jpeg", "fit": "cover", "width": 10}]), "outputs"),
        (job(outputs=[{"name": "a", "format": "png", "quality": 80}]), "outputs"),
        (job(outputs=[{"name": "a/b", "format": "png"}]), "outputs"),
        (job(outputs=[{"name": "a", "format": "png"}, {"name": "a", "format": "jpeg"}]), "outputs"),
        (job(webhook_url="not a url"), "webhook_url"),
        (job(colour="red"), "colour"),
    ],
)
def test_an_invalid_job_names_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        load(body)
    assert field in caught.value.messages


def test_uploads_accept_only_image_content_types() -> None:
    with pytest.raises(ValidationError) as caught:
        UploadRequestSchema().load({"content_type": "image/svg+xml", "file_name": "a.svg"})
    assert "content_type" in caught.value.messages


@pytest.mark.parametrize(
    ("given", "kept"),
    [("photo.jpg", "photo.jpg"), ("../../etc/passwd", "passwd"), ("C:\\x\\my pic.png", "my-pic.png"), ("..", "upload")],
)
def test_upload_keys_keep_only_a_harmless_file_name(given: str, kept: str) -> None:
    assert safe_file_name(given) == kept
