"""The benchmark corpus: photo-like images made from photographs a package ships.

scikit-image's wheel carries a set of real photographs (astronaut, coffee,
motorcycles, a cat, a rocket, …). The wheel is fetched from PyPI once (not
installed) and the corpus is made from it: mosaics of those photographs,
scaled at most 2x, with the fine texture and sensor-like grain a real
camera picture has, so that the JPEGs compress like photographs. Cached in
.cache/bench/corpus.
"""

from __future__ import annotations

import io
import random
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

SKIMAGE = "scikit-image==0.26.0"
PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "rocket.jpg",
    "ihc.png",
    "hubble_deep_field.jpg",
    "retina.jpg",
)
TEXTURES = ("grass.png", "gravel.png", "brick.png")
VERSION = 1


@dataclass(frozen=True)
class Source:
    group: str
    path: Path
    content_type: str

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


GROUPS = {
    # name: (width, height, format, how many)
    "jpeg-12mp": (4000, 3000, "JPEG", 4),
    "jpeg-2mp": (1728, 1152, "JPEG", 8),
    "png-2mp-alpha": (1728, 1152, "PNG", 4),
}


def photos(cache: Path) -> dict[str, Image.Image]:
    data_dir = cache / "skimage-data"
    if not (data_dir / PHOTOS[0]).exists():
        wheels = cache / "wheels"
        wheels.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--only-binary",
                ":all:",
                "-d",
                str(wheels),
                SKIMAGE,
            ],
            check=True,
        )
        wheel = next(wheels.glob("scikit_image-*.whl"))
        data_dir.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as zf:
            for name in PHOTOS + TEXTURES:
                (data_dir / name).write_bytes(zf.read(f"skimage/data/{name}"))
    return {name: Image.open(data_dir / name).convert("RGB") for name in PHOTOS + TEXTURES}


def mosaic(width: int, height: int, library: dict[str, Image.Image], rng: random.Random) -> Image.Image:
    canvas = Image.new("RGB", (width, height))
    pictures = [library[n] for n in PHOTOS]
    y = 0
    while y < height:
        row_h = rng.randint(height // 4, height // 2)
        x = 0
        while x < width:
            picture = rng.choice(pictures)
            scale = min(2.0, row_h / picture.height)
            tile = picture.resize((max(1, int(picture.width * scale)), row_h), Image.Resampling.BICUBIC)
            if rng.random() < 0.5:
                tile = tile.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            canvas.paste(tile, (x, y))
            x += tile.width
        y += row_h
    # Fine texture where the photographs were enlarged, then grain.
    texture = library[rng.choice(TEXTURES)].convert("L")
    tiled = Image.new("L", (width, height))
    for ty in range(0, height, texture.height):
        for tx in range(0, width, texture.width):
            tiled.paste(texture, (tx, ty))
    detail = ImageChops.subtract(tiled, tiled.filter(ImageFilter.GaussianBlur(2)), scale=1, offset=128)
    canvas = ImageChops.add(canvas, Image.merge("RGB", [detail] * 3), scale=1, offset=-128)
    grain = Image.merge("RGB", [Image.effect_noise((width, height), 5) for _ in range(3)])
    return ImageChops.add(canvas, grain, scale=1, offset=-128)


def alpha_mask(width: int, height: int, rng: random.Random) -> Image.Image:
    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    for _ in range(5):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randint(height // 6, height // 2)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return mask.filter(ImageFilter.GaussianBlur(8))


def build(cache: Path) -> list[Source]:
    out_dir = cache / f"corpus-v{VERSION}"
    sources = []
    library: dict[str, Image.Image] | None = None
    for group, (width, height, fmt, count) in GROUPS.items():
        for i in range(count):
            ext = "jpg" if fmt == "JPEG" else "png"
            path = out_dir / group / f"{i:02d}.{ext}"
            if not path.exists():
                library = library or photos(cache)
                rng = random.Random(f"{group}-{i}")
                image = mosaic(width, height, library, rng)
                buffer = io.BytesIO()
                if fmt == "JPEG":
                    image.save(buffer, "JPEG", quality=90)
                else:
                    image.putalpha(alpha_mask(width, height, rng))
                    image.save(buffer, "PNG")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(buffer.getvalue())
            sources.append(Source(group, path, "image/jpeg" if fmt == "JPEG" else "image/png"))
    return sources


if __name__ == "__main__":
    for source in build(Path(sys.argv[1] if len(sys.argv) > 1 else ".cache/bench")):
        size = source.path.stat().st_size
        w, h = Image.open(source.path).size
        print(f"{source.group:<14} {source.path.name} {w}x{h} {size / 1e6:.2f} MB {size / (w * h):.3f} B/px")
