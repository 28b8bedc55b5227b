"""Write a folder of generated photos like an event's, for trying `pixelflow process` against `make run`.

Usage: .venv/bin/python scripts/photo_folder.py DIR [COUNT]   (1,000 by default: about 60 MB, 20 s)
70 % JPEG of 0.3 to 2.7 MP (one in ten turned by EXIF orientation 6, one in ten by 8), 20 % PNG with alpha,
10 % WebP, in DIR/event-N/roll-M/. The same folder every time (a fixed seed).
"""

import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw

root = Path(sys.argv[1])
count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
rng = random.Random(7)
sizes = [(640, 480), (1024, 768), (1600, 1200), (1200, 1600), (2000, 1333)]
for i in range(count):
    d = root / f"event-{i // 250}" / f"roll-{(i // 50) % 5}"
    d.mkdir(parents=True, exist_ok=True)
    w, h = rng.choice(sizes)
    img = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x, y = rng.randrange(w), rng.randrange(h)
        draw.ellipse(
            (x, y, x + rng.randrange(20, w // 2), y + rng.randrange(20, h // 2)),
            fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)),
        )
    kind = i % 10
    if kind < 7:
        exif = Image.Exif()
        if kind == 5:
            exif[0x0112] = 6
        elif kind == 6:
            exif[0x0112] = 8
        img.save(d / f"img-{i:04}.jpg", quality=90, exif=exif)
    elif kind < 9:
        rgba = img.convert("RGBA")
        rgba.putalpha(Image.linear_gradient("L").resize((w, h)))
        rgba.resize((w // 2, h // 2)).save(d / f"img-{i:04}.png")
    else:
        img.save(d / f"img-{i:04}.webp", quality=85)
