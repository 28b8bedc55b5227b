"""Whole jobs: the API, RabbitMQ, real celery workers, PostgreSQL and S3."""

import io
import json
import re
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from flask.testing import FlaskClient
from PIL import ImageCms

from tests import images
from tests.integration.conftest import RecordingServer, Worker, wait_until
from tests.support.api import run_job, upload
from tests.support.stack import ROOT

OUTPUTS = [
    {"name": "thumb", "format": "webp", "width": 200},
    {"name": "large", "format": "jpeg", "width": 800, "quality": 85},
    {"name": "square", "format": "png", "width": 300, "height": 300, "fit": "cover"},
]


@pytest.mark.parametrize(
    ("data", "content_type", "sizes"),
    [
        (images.jpeg(1600, 1200), "image/jpeg", [(200, 150), (800, 600), (300, 300)]),
        (images.png_with_alpha(1000, 500), "image/png", [(200, 100), (800, 400), (300, 300)]),
    ],
    ids=["jpeg", "png-with-alpha"],
)
def test_an_uploaded_image_becomes_three_outputs_at_their_final_keys(
    client: FlaskClient, tenant: str, worker: Worker, data: bytes, content_type: str, sizes: list[tuple[int, int]]
) -> None:
    key = upload(client, data, content_type)
    job = run_job(client, {"source": {"key": key}, "outputs": OUTPUTS})
    assert job["status"] == "succeeded", (job["error"], worker.output()[-3000:])
    assert job["error"] is None and job["finished_at"]
    expected_modes = {"webp": "RGBA" if content_type == "image/png" else "RGB", "jpeg": "RGB"}
    for output, size, spec in zip(job["outputs"], sizes, OUTPUTS, strict=True):
        assert (
            output["key"]
            == f"results/{tenant}/{job['id']}/{spec['name']}.{'jpg' if spec['format'] == 'jpeg' else spec['format']}"
        )
        response = httpx.get(output["url"])
        assert response.status_code == 200
        assert len(response.content) == output["bytes"]
        image = images.open_image(response.content)
        assert image.format == str(spec["format"]).upper()
        assert image.size == size == (output["width"], output["height"])
        if spec["format"] in expected_modes:
            assert image.mode == expected_modes[spec["format"]]
    assert job["source"]["format"] == content_type.split("/")[1]
    # Every step's lines name the job and the task (core/logs.py): one grep finds what the worker did for it.
    # (A step run inline in another's task logs "Step pixelflow.<step>[<task>] succeeded in …" the same way.)
    steps = {
        re.split(r"(?:Task|Step) pixelflow\.", line, maxsplit=1)[1].split("[", 1)[0]
        for line in worker.output().splitlines()
        if f"job={job['id']} task=" in line and "succeeded in" in line
    }
    assert steps == {"fetch", "validate", "transform", "upload", "notify"}, worker.output()[-3000:]


def test_an_iphone_style_heic_becomes_upright_webp_jpeg_avif_and_jpeg_xl(client: FlaskClient, worker: Worker) -> None:
    from tests.icc import SRGB_PRIMARIES, rgb_profile

    # As a phone saves a portrait photo: a 4:3 sensor's pixels turned by the container (and the EXIF tag), a
    # camera profile, and another image in the file beside the primary one.
    wide = rgb_profile(tuple((0.98 * x, 0.98 * y, 0.98 * z) for x, y, z in SRGB_PRIMARIES), name="camera")
    data = images.heic(2016, 1512, orientation=6, icc_profile=wide, others=1)
    key = upload(client, data, "image/heic", "IMG_0001.HEIC")
    outputs = [
        {"name": "thumb", "format": "webp", "width": 200},
        {"name": "large", "format": "jpeg", "width": 800},
        {"name": "modern", "format": "avif", "width": 400},
        {"name": "next", "format": "jxl", "width": 600},
    ]
    job = run_job(client, {"source": {"key": key}, "outputs": outputs})
    assert job["status"] == "succeeded", (job["error"], worker.output()[-3000:])
    assert job["source"]["format"] == "heic"
    wanted = [("webp", (200, 267)), ("jpeg", (800, 1067)), ("avif", (400, 533)), ("jxl", (600, 800))]
    for output, (fmt, size) in zip(job["outputs"], wanted, strict=True):
        blob = httpx.get(output["url"]).content
        # JPEG XL as libjxl's own decoder reads it; the others with Pillow.
        image = images.djxl(blob) if fmt == "jxl" else images.open_image(blob)
        assert (output["format"], image.size) == (fmt, size)
        assert fmt == "jxl" or image.format.lower() == fmt
        # The picture's red top-left quarter, turned 90° clockwise: at the top right.
        r, g, b = image.convert("RGB").getpixel((size[0] - 10, 10))  # type: ignore[misc]
        assert r > 180 and g < 80 and b < 80, (output["name"], (r, g, b))
        if fmt == "jxl":  # djxl's PNG carries a profile for the codestream's colour encoding: sRGB's, by name
            described = ImageCms.getProfileDescription(
                ImageCms.ImageCmsProfile(io.BytesIO(image.info["icc_profile"]))
            ).strip()
            assert described.startswith("RGB_D65_SRG_") and described.endswith("_SRG"), described
        else:
            assert "icc_profile" not in image.info  # converted to sRGB


def test_a_jpeg_xl_becomes_webp_jpeg_avif_and_jpeg_xl(client: FlaskClient, worker: Worker) -> None:
    # Made by libjxl's reference encoder, lossy, from a portrait photo: its orientation is in the codestream.
    data = images.jxl(images.jpeg(1600, 1200, orientation=6), "--lossless_jpeg=0", "-d", "1")
    key = upload(client, data, "image/jxl", "photo.jxl")
    outputs = [
        {"name": "thumb", "format": "webp", "width": 200},
        {"name": "large", "format": "jpeg", "width": 800},
        {"name": "modern", "format": "avif", "width": 400},
        {"name": "next", "format": "jxl", "width": 600, "quality": 80},
        {"name": "best", "format": "auto", "width": 300, "formats": ["jxl", "webp"]},
    ]
    job = run_job(client, {"source": {"key": key}, "outputs": outputs})
    assert job["status"] == "succeeded", (job["error"], worker.output()[-3000:])
    assert job["source"] == {**job["source"], "format": "jxl", "width": 1200, "height": 1600}
    wanted = {"thumb": (200, 267), "large": (800, 1067), "modern": (400, 533), "next": (600, 800), "best": (300, 400)}
    for output in job["outputs"]:
        blob = httpx.get(output["url"]).content
        # JPEG XL outputs as libjxl's own decoder reads them; the others with Pillow.
        image = images.djxl(blob) if output["format"] == "jxl" else images.open_image(blob)
        assert image.size == wanted[output["name"]], output
        r, g, b = image.convert("RGB").getpixel((image.width - 10, 10))  # type: ignore[misc]
        assert r > 180 and g < 80 and b < 80, (output["name"], (r, g, b))
    assert [o["format"] for o in job["outputs"]][3:] == ["jxl", job["outputs"][4]["format"]]
    assert job["outputs"][3]["url"].split("?")[0].endswith(".jxl")


def test_quality_auto_reports_the_quality_it_chose_and_the_score_it_reached(
    client: FlaskClient, worker: Worker
) -> None:
    photo = ROOT / "tests" / "data" / "ssimulacra2" / "photo.png"  # a photograph, 256 x 171
    key = upload(client, photo.read_bytes(), "image/png", "photo.png")
    outputs = [
        {"name": "webp", "format": "webp", "quality": "auto"},
        {"name": "jpeg", "format": "jpeg", "width": 240, "quality": "auto", "target": "high"},
        {"name": "fixed", "format": "jpeg"},
        {"name": "tiny", "format": "webp", "width": 60, "quality": "auto"},
        # Out of reach for lossy WebP: the top of its range, and the score says it fell short.
        {"name": "short", "format": "webp", "quality": "auto", "target": 95},
    ]
    job = run_job(client, {"source": {"key": key}, "outputs": outputs})
    assert job["status"] == "succeeded", (job["error"], worker.output()[-3000:])
    webp, jpeg, fixed, tiny, short = job["outputs"]
    assert 76 <= webp["score"] < 100 and 30 <= webp["quality"] < 95, webp
    assert 70 <= jpeg["score"] < 100 and 30 <= jpeg["quality"] < 95, jpeg
    assert jpeg["width"] == 240
    assert "quality" not in fixed and "score" not in fixed
    assert tiny["quality"] == 80 and tiny["score"] is None  # too small to measure: the default quality
    assert short["quality"] == 95 and short["score"] < 95  # out of reach: the top of the range, its score
    stored = httpx.get(webp["url"]).content
    assert len(stored) == webp["bytes"] and images.open_image(stored).size == (256, 171)


def test_staging_is_cleared_when_a_job_succeeds(client: FlaskClient, tenant: str, worker: Worker) -> None:
    store = client.application.extensions["pixelflow"].store
    key = upload(client, images.jpeg(300, 200))
    job = run_job(client, {"source": {"key": key}, "outputs": [{"name": "a", "format": "png", "width": 50}]})
    assert job["status"] == "succeeded"
    assert store.delete_prefix(f"staging/{job['id']}/") == 0
    assert store.head(f"results/{tenant}/{job['id']}/a.png").size == job["outputs"][0]["bytes"]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (images.jpeg(800, 600)[:3000], "corrupt_image"),
        (b"", "corrupt_image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "unsupported_format"),
        (b"GIF89a" + bytes(4), "corrupt_image"),
    ],
    ids=["truncated-jpeg", "zero-bytes", "svg", "gif-header-only"],
)
def test_a_bad_file_ends_failed_with_a_clear_code_and_no_outputs(
    client: FlaskClient, worker: Worker, data: bytes, code: str
) -> None:
    key = upload(client, data)
    job = run_job(client, {"source": {"key": key}, "outputs": [{"name": "a", "format": "jpeg", "width": 100}]})
    assert job["status"] == "failed"
    assert job["error"]["code"] == code and job["error"]["message"]
    assert job["outputs"][0]["key"] is None and job["outputs"][0]["url"] is None


def test_a_url_source_is_fetched_by_the_worker_and_the_webhook_gets_the_job(
    client: FlaskClient, worker: Worker, http_peer: RecordingServer
) -> None:
    http_peer.routes["/photo.jpg"] = (200, {"Content-Type": "image/jpeg"}, images.jpeg(640, 480))
    http_peer.routes["/moved"] = (302, {"Location": "/photo.jpg"}, b"")
    job = run_job(
        client,
        {
            "source": {"url": f"{http_peer.url}/moved"},
            "outputs": [{"name": "a", "format": "webp", "width": 320}],
            "webhook_url": f"{http_peer.url}/hook",
        },
    )
    assert job["status"] == "succeeded", job["error"]
    assert job["source"] == {
        "url": f"{http_peer.url}/moved",
        "format": "jpeg",
        "width": 640,
        "height": 480,
        "bytes": len(http_peer.routes["/photo.jpg"][2]),
    }
    hooks = wait_until(lambda: [r for r in http_peer.requests if r[0] == "POST"], 20, "the webhook")
    _, path, headers, body = hooks[0]
    assert path == "/hook" and headers["Content-Type"] == "application/json"
    event = json.loads(body)
    assert event["type"] == "job.succeeded"
    sent = event["data"]
    assert sent["id"] == job["id"] and sent["status"] == "succeeded"
    assert sent["outputs"][0]["width"] == 320 and sent["outputs"][0]["url"]


def test_a_source_url_that_is_missing_fails_the_job_and_the_webhook_is_told(
    client: FlaskClient, worker: Worker, http_peer: RecordingServer
) -> None:
    job = run_job(
        client,
        {
            "source": {"url": f"{http_peer.url}/gone.jpg"},
            "outputs": [{"name": "a", "format": "png"}],
            "webhook_url": f"{http_peer.url}/hook",
        },
    )
    assert job["status"] == "failed" and job["error"]["code"] == "source_not_found"
    hooks = wait_until(lambda: [r for r in http_peer.requests if r[0] == "POST"], 20, "the webhook")
    assert json.loads(hooks[0][3])["data"]["error"]["code"] == "source_not_found"


def test_a_source_that_keeps_failing_is_retried_then_fails_with_the_cause(
    client: FlaskClient, worker: Worker, http_peer: RecordingServer
) -> None:
    http_peer.routes["/flaky.jpg"] = (503, {}, b"")
    job = run_job(
        client,
        {"source": {"url": f"{http_peer.url}/flaky.jpg"}, "outputs": [{"name": "a", "format": "png"}]},
        timeout=90,
    )
    assert job["status"] == "failed" and job["error"]["code"] == "source_unavailable"
    assert "gave up after 2 retries" in job["error"]["message"]
    attempts = [r for r in http_peer.requests if r[1] == "/flaky.jpg"]
    assert len(attempts) == 3  # the first try and PIXELFLOW_TASK_MAX_RETRIES=2 retries


def test_a_jpeg_whose_header_lies_past_the_first_read_still_validates(client: FlaskClient, worker: Worker) -> None:
    # 400 KB of ICC data in APP2 segments before the frame header: the prefix read cannot see the size.
    data = images.encode(images.picture(640, 480), "JPEG", quality=90, icc_profile=bytes(400_000))
    key = upload(client, data)
    job = run_job(client, {"source": {"key": key}, "outputs": [{"name": "a", "format": "webp", "width": 64}]})
    assert job["status"] == "succeeded", job["error"]
    assert (job["source"]["width"], job["source"]["height"]) == (640, 480)


def test_a_large_gif_is_read_whole_for_its_frames(client: FlaskClient, worker: Worker) -> None:
    frames = [images.picture(600, 400).rotate(i * 30).convert("P") for i in range(6)]
    data = images.encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert len(data) > 256 * 1024
    key = upload(client, data, "image/gif", "a.gif")
    job = run_job(client, {"source": {"key": key}, "outputs": [{"name": "a", "format": "png", "width": 60}]})
    assert job["status"] == "succeeded", job["error"]
    assert job["source"]["format"] == "gif"


def test_a_job_of_many_operations_runs_end_to_end(client: FlaskClient, worker: Worker) -> None:
    key = upload(client, images.png_with_alpha(1000, 500), "image/png", "art.png")
    outputs = [
        {
            "name": "hero",
            "format": "webp",
            "width": 400,
            "height": 400,
            "fit": "cover",
            "gravity": "smart",
            "sharpen": 1,
        },
        {
            "name": "banner",
            "format": "jpeg",
            "crop": {"x": 0, "y": 0, "width": 500, "height": 250},
            "rotate": 90,
            "flop": True,
            "progressive": True,
            "background": "#000000",
        },
        {"name": "small", "format": "auto", "width": 200},
        {"name": "padded", "format": "png", "width": 300, "height": 300, "fit": "pad", "palette": 64},
    ]
    job = run_job(client, {"source": {"key": key}, "outputs": outputs, "placeholder": True})
    assert job["status"] == "succeeded", job["error"]
    by_name = {o["name"]: o for o in job["outputs"]}
    expected = {"hero": ("webp", (400, 400)), "banner": ("jpeg", (250, 500)), "padded": ("png", (300, 300))}
    for name, (fmt, size) in expected.items():
        image = images.open_image(httpx.get(by_name[name]["url"]).content)
        assert (image.format.lower(), image.size) == (fmt.upper().lower(), size), name
    small = by_name["small"]
    assert small["format"] in ("webp", "avif", "png") and small["key"].endswith("." + small["format"])
    assert images.open_image(httpx.get(small["url"]).content).mode == "RGBA"
    assert job["placeholder"]["type"] == "blurhash" and len(job["placeholder"]["hash"]) >= 20


def test_a_thumbhash_placeholder_comes_with_the_result_and_the_reference_decoder_reads_it(
    client: FlaskClient, worker: Worker
) -> None:
    from tests.unit.tasks.imaging.test_placeholder import reference_decode

    key = upload(client, images.png_with_alpha(600, 300), "image/png", "logo.png")
    job = run_job(
        client,
        {
            "source": {"key": key},
            "outputs": [{"name": "a", "format": "webp", "width": 100}],
            "placeholder": {"type": "thumbhash"},
        },
    )
    assert job["status"] == "succeeded", job["error"]
    assert job["placeholder"]["type"] == "thumbhash"
    [decoded] = reference_decode(job["placeholder"]["hash"])
    assert 1.5 <= decoded["ratio"] <= 2.5  # 2:1, in the coarse steps the hash has (with alpha: fifths)
    assert decoded["average"][3] < 0.9  # the source's alpha gradient is in the hash


def test_a_crop_outside_the_source_fails_the_job_with_its_code(client: FlaskClient, worker: Worker) -> None:
    key = upload(client, images.jpeg(300, 200))
    job = run_job(
        client,
        {
            "source": {"key": key},
            "outputs": [{"name": "a", "format": "png", "crop": {"x": 250, "y": 0, "width": 100, "height": 100}}],
        },
    )
    assert job["status"] == "failed" and job["error"]["code"] == "crop_out_of_bounds"


def test_an_image_watermark_from_an_upload_is_laid_over_the_output(client: FlaskClient, worker: Worker) -> None:
    from PIL import Image

    logo_key = upload(client, images.encode(Image.new("RGBA", (40, 40), (0, 255, 0, 255)), "PNG"), "image/png", "l.png")
    key = upload(client, images.encode(Image.new("RGB", (400, 400), (0, 0, 0)), "PNG"), "image/png", "black.png")
    mark = {"image": {"key": logo_key}, "scale": 0.5, "opacity": 1, "position": "southeast", "margin": 0}
    job = run_job(
        client, {"source": {"key": key}, "outputs": [{"name": "a", "format": "png", "width": 200, "watermark": mark}]}
    )
    assert job["status"] == "succeeded", job["error"]
    image = images.open_image(httpx.get(job["outputs"][0]["url"]).content).convert("RGB")
    assert image.getpixel((190, 190)) == (0, 255, 0) and image.getpixel((10, 10)) == (0, 0, 0)


def test_a_watermark_key_that_was_never_uploaded_is_refused(client: FlaskClient) -> None:
    key = upload(client, images.jpeg(64, 64))
    mark = {"image": {"key": "uploads/none/logo.png"}}
    response = client.post(
        "/v1/jobs", json={"source": {"key": key}, "outputs": [{"name": "a", "format": "png", "watermark": mark}]}
    )
    assert response.status_code == 422 and response.json["code"] == "watermark_not_found"


def test_usage_is_written_once_per_job_and_summed_per_tenant(app: Any, worker: Worker) -> None:
    from core.keystore import KeyStore
    from tests.integration.conftest import authed

    client = authed(app, KeyStore(app.extensions["pixelflow"].jobs).create("tenant-usage", "usage")[1])
    source = images.jpeg(800, 600)
    key = upload(client, source)
    job = run_job(
        client,
        {
            "source": {"key": key},
            "outputs": [{"name": "a", "format": "webp", "width": 200}, {"name": "b", "format": "png", "width": 100}],
        },
    )
    assert job["status"] == "succeeded"
    usage = client.get("/v1/usage").json
    out = sum(o["bytes"] for o in job["outputs"])
    assert (usage["tenant"], usage["jobs"], usage["pixels"]) == ("tenant-usage", 1, 800 * 600)
    assert (usage["bytes_in"], usage["bytes_out"]) == (len(source), out)
    assert usage["bytes_saved"] == 2 * len(source) - out
    assert usage["compute_ms"] >= 0
    empty = client.get("/v1/usage?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z").json
    assert empty["jobs"] == 0
    bad = client.get("/v1/usage?from=2021-01-01T00:00:00Z&to=2020-01-01T00:00:00Z")
    assert bad.status_code == 422
    # An empty window, even at the instant the job ended, holds nothing: zeros, not an error.
    instant = quote(job["finished_at"])
    nothing = client.get(f"/v1/usage?from={instant}&to={instant}")
    assert nothing.status_code == 200, nothing.json
    assert {k: nothing.json[k] for k in ("jobs", "pixels", "bytes_in", "bytes_out", "compute_ms")} == dict.fromkeys(
        ("jobs", "pixels", "bytes_in", "bytes_out", "compute_ms"), 0
    )
