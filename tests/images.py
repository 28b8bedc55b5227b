"""Real images made by the tests: photo-like JPEGs, PNGs with alpha, EXIF orientations."""

from __future__ import annotations

import io
import struct

import pillow_avif  # noqa: F401  (registers AVIF with Pillow)
from PIL import Image, ImageDraw


def picture(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """A picture with structure in every region: gradients and shapes, so resizes can be compared."""
    base = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize((width, height)),
            Image.radial_gradient("L").resize((width, height)),
            Image.linear_gradient("L").rotate(90).resize((width, height)),
        ),
    )
    draw = ImageDraw.Draw(base)
    draw.rectangle((0, 0, width // 4, height // 4), fill=(255, 0, 0))  # a red top-left corner
    draw.ellipse((width // 2, height // 2, width - 1, height - 1), fill=(0, 0, 255))
    if mode == "RGBA":
        alpha = Image.linear_gradient("L").resize((width, height))
        base.putalpha(alpha)
    return base


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def jpeg(width: int = 1200, height: int = 800, orientation: int = 1, quality: int = 90) -> bytes:
    image = picture(width, height)
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    return encode(image, "JPEG", quality=quality, exif=exif)


def png_with_alpha(width: int = 640, height: int = 480) -> bytes:
    return encode(picture(width, height, "RGBA"), "PNG")


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def heic(
    width: int = 1008,
    height: int = 756,
    orientation: int = 1,
    icc_profile: bytes | None = None,
    others: int = 0,
    image: Image.Image | None = None,
    quality: int = 80,
) -> bytes:
    """A HEIC as a phone writes one: its orientation as an EXIF tag and as the container's rotation (irot/imir,
    which pillow-heif writes from the tag), an ICC profile, and ``others`` images before the primary one (a
    burst's alternatives). Encoded by pillow-heif's x265 (tests only)."""
    import pillow_heif

    primary = (image or picture(width, height)).copy()
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    if icc_profile:
        primary.info["icc_profile"] = icc_profile
    alternatives = [Image.new("RGB", (width // 2, height // 2), (0, 255, 0)) for _ in range(others)]
    heif = pillow_heif.from_pillow((alternatives or [primary])[0])
    for item in [*alternatives[1:], primary] if alternatives else []:
        heif.add_from_pillow(item)
    out = io.BytesIO()
    heif.save(out, quality=quality, primary_index=others, exif=exif.tobytes() if len(exif) else None)
    return out.getvalue()


def heic_declaring(data: bytes, width: int, height: int) -> bytes:
    """The same HEIC with its image extents (every ispe box) changed: a header that lies."""
    out = bytearray(data)
    at = out.find(b"ispe")
    assert at > 0
    while at > 0:
        out[at + 8 : at + 16] = struct.pack(">II", width, height)
        at = out.find(b"ispe", at + 1)
    return bytes(out)


def jxl(source: Image.Image | bytes, *options: str) -> bytes:
    """A JPEG XL made by libjxl's reference encoder (cjxl, Debian's libjxl-tools), from a picture (given as PNG)
    or from the bytes of a PNG or JPEG: a JPEG is recompressed losslessly unless ``--lossless_jpeg=0``."""
    import subprocess
    import tempfile
    from pathlib import Path

    data = (
        encode(source, "PNG", icc_profile=source.info.get("icc_profile")) if isinstance(source, Image.Image) else source
    )
    with tempfile.TemporaryDirectory() as tmp:
        given = Path(tmp) / ("in.jpg" if data[:2] == b"\xff\xd8" else "in.png")
        given.write_bytes(data)
        made = Path(tmp) / "out.jxl"
        subprocess.run(["cjxl", str(given), str(made), "--quiet", *options], check=True, capture_output=True)
        return made.read_bytes()


def djxl(data: bytes) -> Image.Image:
    """libjxl's reference decoder's reading of a JPEG XL, as the PNG it writes (with the profile of its pixels)."""
    import subprocess
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "in.jxl").write_bytes(data)
        subprocess.run(["djxl", f"{tmp}/in.jxl", f"{tmp}/out.png", "--quiet"], check=True, capture_output=True)
        return open_image((Path(tmp) / "out.png").read_bytes())


def jxl_declaring(width: int, height: int) -> bytes:
    """A JPEG XL codestream of a header alone, declaring any size (ISO/IEC 18181-1 SizeHeader, bits from the
    least significant): not small; height-1 and width-1 in 30 bits each (selector 3), no aspect ratio; the
    image metadata all default."""
    fields = [(0, 1), (3, 2), (height - 1, 30), (0, 3), (3, 2), (width - 1, 30), (1, 1)]
    value, at = 0, 0
    for field, bits in fields:
        value |= field << at
        at += bits
    return b"\xff\x0a" + value.to_bytes((at + 7) // 8 + 8, "little")


def sniff_without(module: str, sample: str) -> tuple[str, str]:
    """In a fresh interpreter where ``module`` cannot be imported (what a platform without its wheel meets): the
    format probe reads from a JPEG, and the exception sniffing ``sample`` (a call on tests.images) raises."""
    import subprocess
    import sys

    from tests.support.stack import ROOT

    script = (
        f"import sys; sys.modules[{module!r}] = None\n"
        "from tasks.imaging import probe\n"
        "from tests import images\n"
        "print(probe.probe(images.jpeg(64, 48), 10**6).format)\n"
        "try:\n"
        f"    probe.sniff(images.{sample})\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert run.returncode == 0, run.stderr
    first, second = run.stdout.splitlines()
    return first, second
