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
        (job(outputs=[{"name": "a", "format": "png", "fit": "pad", "width": 10}]), "outputs"),
        (job(outputs=[{"name": "a", "format": "png", "fit": "fill"}]), "outputs"),
        (job(outputs=[{"name": "a", "format": "png", "gravity": "north", "width": 10}]), "outputs"),
        (
            job(outputs=[{"name": "a", "format": "png", "fit": "cover", "width": 9, "height": 9, "gravity": "focal"}]),
            "outputs",
        ),
        (job(outputs=[{"name": "a", "format": "png", "focal": {"x": 0.5, "y": 0.5}}]), "outputs"),
        (
            job(
                outputs=[
                    {
                        "name": "a",
                        "format": "png",
                        "fit": "cover",
                        "width": 9,
                        "height": 9,
                        "gravity": "focal",
                        "focal": {"x": 1.5, "y": 0.5},
                    }
                ]
            ),
            "outputs",
        ),
        (job(outputs=[{"name": "a", "format": "png", "progressive": True}]), "outputs"),
        (job(outputs=[{"name": "a", "format": "jpeg", "lossless": True}]), "outputs"),
        (job(outputs=[{"name": "a", "format": "webp", "palette": 16}]), "outputs"),
        (job(outputs=[{"name": "a", "format": "png", "background": "red"}]), "outputs"),
        (job(outputs=[{"name": "a", "format": "png", "crop": {"x": 0, "y": 0, "width": 0, "height": 5}}]), "outputs"),
        (job(outputs=[{"name": "a", "format": "png", "rotate": 720}]), "outputs"),
        (job(outputs=[{"name": "a", "format": "png", "blur": 0}]), "outputs"),
        (job(outputs=[{"name": "a", "format": "bmp"}]), "outputs"),
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


def test_every_operation_loads_into_an_output_spec() -> None:
    from core.spec import OutputSpec

    body = job(
        outputs=[
            {
                "name": "hero",
                "format": "jpeg",
                "width": 800,
                "height": 400,
                "fit": "cover",
                "gravity": "focal",
                "focal": {"x": 0.3, "y": 0.6},
                "enlarge": True,
                "background": "#102030",
                "crop": {"x": 10, "y": 20, "width": 300, "height": 200},
                "rotate": 90,
                "flip": True,
                "flop": True,
                "blur": 1.5,
                "sharpen": 1,
                "quality": 70,
                "progressive": True,
                "subsampling": "4:4:4",
                "keep_metadata": True,
                "keep_icc": True,
                "animated": False,
            }
        ],
        presets=["thumbnails"],
        placeholder=True,
    )
    loaded = load(body)
    spec = OutputSpec.from_fields(loaded["outputs"][0])
    assert spec.focal == (0.3, 0.6) and spec.crop == (10, 20, 300, 200) and spec.subsampling == "4:4:4"
    assert (
        OutputSpec.from_fields(
            {
                "name": "hero",
                "format": "jpeg",
                "width": 800,
                "height": 400,
                "fit": "cover",
                "quality": 70,
                **spec.options(),
            }
        )
        == spec
    )
    assert loaded["presets"] == ["thumbnails"] and loaded["placeholder"] == "blurhash"


def test_a_job_of_presets_alone_is_enough() -> None:
    assert load({"source": {"key": "k"}, "presets": ["thumbnails"]})["outputs"] == []


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


@pytest.mark.parametrize("value", [0, 1, "true", "yes", "on", None])
def test_a_boolean_field_takes_a_json_boolean_only(value: Any) -> None:
    # marshmallow's Boolean would take 0, 1, "yes" and "on"; the document says boolean, and so does the API.
    with pytest.raises(ValidationError) as refused:
        load(job(placeholder=value, outputs=[{"name": "a", "format": "png", "flip": value}]))
    assert "placeholder" in refused.value.messages
    assert load(job(placeholder=True))["placeholder"] == "blurhash"


@pytest.mark.parametrize(
    ("given", "loaded"),
    [(True, "blurhash"), (False, None), ({"type": "blurhash"}, "blurhash"), ({"type": "thumbhash"}, "thumbhash")],
)
def test_a_placeholder_is_true_or_its_type(given: Any, loaded: str | None) -> None:
    assert load(job(placeholder=given))["placeholder"] == loaded
    assert load(job())["placeholder"] is None


@pytest.mark.parametrize("given", [{"type": "jpeg"}, {}, {"type": "thumbhash", "size": 4}, "thumbhash", [], None])
def test_any_other_placeholder_is_refused(given: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        load(job(placeholder=given))
    assert "placeholder" in refused.value.messages


@pytest.mark.parametrize(("width", "rotate"), [(2.5, 1), ("5", 1), (True, 1), (5, "1.5"), (5, False)])
def test_a_number_field_takes_a_json_number_only(width: Any, rotate: Any) -> None:
    # marshmallow's Integer would take "5", true and 2.5 (as 2); its Float "1.5" and false.
    with pytest.raises(ValidationError):
        load(job(outputs=[{"name": "a", "format": "png", "width": width, "rotate": rotate}]))
    assert load(job(outputs=[{"name": "a", "format": "png", "width": 5.0, "rotate": 1}]))["outputs"][0]["width"] == 5


@pytest.mark.parametrize("key", ["uploads/t/\x01.jpg", "uploads/t/a b.jpg", "uploads/t/é.jpg", "uploads/t/a?.jpg"])
def test_a_source_key_no_upload_could_have_is_refused(key: str) -> None:
    # Upload keys are made of safe_file_name's characters; any other names nothing (and some, such as control
    # characters, S3 cannot even be asked to delete).
    with pytest.raises(ValidationError) as refused:
        JobRequestSchema().load({"source": {"key": key}, "presets": ["thumbnails"]})
    assert "source" in refused.value.messages
    key_made = f"uploads/t/01a2/{safe_file_name('Été photo (1).JPG')}"
    assert JobRequestSchema().load({"source": {"key": key_made}, "presets": ["thumbnails"]})["source"]["key"]
