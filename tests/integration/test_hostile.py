"""A hostile corpus, made here, through real workers in one run: each file gets its exact
error code or a correct output, and the worker stays up without growing."""

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from PIL import Image

from tests import images
from tests.integration.conftest import Worker
from tests.support.api import run_job, upload


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(bytes(100_000 * 3 + 1) * 8)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def png_with_garbage_pixels() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", b"\x78\x9c not zlib at all")
        + _png_chunk(b"IEND", b"")
    )


def jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(images.jpeg(64, 48))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def deep_gif(frames: int) -> bytes:
    tiles = [Image.new("RGB", (16, 16), (i % 256, 255 - i % 256, i * 7 % 256)) for i in range(frames)]
    return images.encode(tiles[0], "GIF", save_all=True, append_images=tiles[1:], duration=20)


def cmyk_jpeg() -> bytes:
    return images.encode(Image.new("CMYK", (120, 80), (0, 255, 255, 0)), "JPEG", quality=95)  # red in CMYK


def sixteen_bit_png() -> bytes:
    gradient = Image.linear_gradient("L").resize((128, 128)).convert("I")
    return images.encode(gradient.point(lambda v: v * 256).convert("I;16"), "PNG")


def palette_png_with_transparency() -> bytes:
    image = Image.new("P", (64, 64), 1)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    image.paste(0, (0, 0, 32, 64))
    return images.encode(image, "PNG", transparency=0)


def heic_header() -> bytes:
    return struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00mif1heic" + bytes(64)


# name → (bytes, content type sent, expected error code, or a check of the output)
CORPUS: dict[str, tuple[Any, str, Any]] = {
    "zero-bytes": (lambda: b"", "image/jpeg", "corrupt_image"),
    "truncated-jpeg": (lambda: images.jpeg(900, 700)[:4000], "image/jpeg", "corrupt_image"),
    "png-bomb-100k-square": (png_bomb, "image/png", "image_too_large"),
    "jpeg-header-65000-square": (lambda: jpeg_claiming(65000, 65000), "image/jpeg", "image_too_large"),
    "deep-gif-150-frames": (lambda: deep_gif(150), "image/gif", "too_many_frames"),
    "png-garbage-pixels": (png_with_garbage_pixels, "image/png", "corrupt_image"),
    "svg": (
        lambda: b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
        "image/png",
        "unsupported_format",
    ),
    "html": (lambda: b"<!doctype html><img src=x onerror=alert(1)>", "image/jpeg", "unsupported_format"),
    "pdf": (lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj", "image/jpeg", "unsupported_format"),
    "heic-ftyp-and-nothing-else": (heic_header, "image/heic", "corrupt_image"),
    "heic-declaring-100k-square": (
        lambda: images.heic_declaring(images.heic(64, 64), 100_000, 100_000),
        "image/heic",
        "image_too_large",
    ),
    "truncated-heic": (lambda: images.heic(320, 240)[:-300], "image/heic", "corrupt_image"),
    "heic-sent-as-jpeg": (
        lambda: images.heic(120, 80, orientation=6),
        "image/jpeg",
        lambda img: img.size == (80, 120),  # read from its bytes, and turned upright
    ),
    "jxl-declaring-100k-square": (lambda: images.jxl_declaring(100_000, 100_000), "image/jxl", "image_too_large"),
    "truncated-jxl": (lambda: images.jxl(images.picture(320, 240), "-d", "1")[:-300], "image/jxl", "corrupt_image"),
    "jxl-sent-as-jpeg": (
        lambda: images.jxl(images.jpeg(120, 80, orientation=6), "--lossless_jpeg=0"),
        "image/jpeg",
        lambda img: img.size == (80, 120),  # read from its bytes, and turned upright by its codestream
    ),
    "gif-js-polyglot": (lambda: b"GIF89a/*\x00\x00\x00\x00*/=1;alert(document.domain)//", "image/gif", "corrupt_image"),
    "png-with-a-zip-appended": (
        lambda: images.png_with_alpha(80, 60) + b"PK\x03\x04" + bytes(200),
        "image/png",
        lambda img: img.size == (80, 60) and img.mode == "RGBA",
    ),
    "png-sent-as-jpeg": (
        lambda: images.png_with_alpha(80, 60),
        "image/jpeg",
        lambda img: img.size == (80, 60) and img.mode == "RGBA",
    ),
    "cmyk-jpeg": (
        cmyk_jpeg,
        "image/jpeg",
        lambda img: img.mode == "RGBA" and img.getpixel((60, 40))[0] > 200 and img.getpixel((60, 40))[1] < 80,
    ),
    "16-bit-grey-png": (
        sixteen_bit_png,
        "image/png",
        lambda img: 60 < img.convert("L").resize((1, 1)).getpixel((0, 0)) < 200,  # not clipped to white
    ),
    "palette-png-with-transparency": (
        palette_png_with_transparency,
        "image/png",
        lambda img: img.getpixel((5, 5))[3] == 0 and img.getpixel((50, 5))[:3] == (255, 0, 0),
    ),
    "tiff": (
        lambda: images.encode(images.picture(90, 60), "TIFF", compression="tiff_lzw"),
        "image/tiff",
        lambda img: img.size == (90, 60),
    ),
    "avif": (
        lambda: images.encode(images.picture(90, 60), "AVIF", quality=80),
        "image/avif",
        lambda img: img.size == (90, 60),
    ),
}


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def worker_rss(worker: Worker) -> int:
    return rss_kb(worker.pid) + sum(rss_kb(c) for c in worker.children())


@pytest.fixture(scope="module")
def results(app: Flask, worker: Worker) -> dict[str, dict[str, Any]]:
    from core.keystore import KeyStore
    from tests.integration.conftest import authed

    client = authed(app, KeyStore(app.extensions["pixelflow"].jobs).create("hostile-corpus", "tests")[1])
    before = worker_rss(worker)
    jobs = {}
    for name, (make, content_type, _) in CORPUS.items():
        key = upload(client, make(), content_type, f"{name}.bin")
        jobs[name] = run_job(
            client, {"source": {"key": key}, "outputs": [{"name": "a", "format": "webp", "lossless": True}]}
        )
    assert worker.alive(), worker.output()[-3000:]
    growth_mb = (worker_rss(worker) - before) / 1024
    assert growth_mb < 100, f"the worker grew by {growth_mb:.0f} MB"
    return jobs


@pytest.mark.parametrize("name", list(CORPUS))
def test_each_hostile_file_gets_its_exact_code_or_a_correct_output(
    name: str, results: dict[str, dict[str, Any]]
) -> None:
    import httpx

    job = results[name]
    expected = CORPUS[name][2]
    if isinstance(expected, str):
        assert job["status"] == "failed", job
        assert job["error"]["code"] == expected, job["error"]
        assert job["error"]["message"]
    else:
        assert job["status"] == "succeeded", job["error"]
        image = Image.open(io.BytesIO(httpx.get(job["outputs"][0]["url"]).content))
        image.load()
        assert expected(image.convert("RGBA")), (name, image.mode, image.size)


@pytest.mark.parametrize("target", ["great", "", -1, 96, 1e308, None, [78], {"score": 78}])
def test_an_unknown_quality_target_is_refused_before_a_job_is_made(app: Flask, target: object) -> None:
    from core.keystore import KeyStore
    from tests.integration.conftest import authed

    client = authed(app, KeyStore(app.extensions["pixelflow"].jobs).create("hostile-targets", "tests")[1])
    output = {"name": "a", "format": "webp", "quality": "auto", "target": target}
    response = client.post("/v1/jobs", json={"source": {"key": "uploads/x"}, "outputs": [output]})
    assert response.status_code == 422, response.json
    assert response.json["code"] == "validation_error" and "target" in str(response.json["errors"])
