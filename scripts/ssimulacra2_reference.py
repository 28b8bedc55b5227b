"""Score the pairs in tests/data/ssimulacra2 with libjxl's own ssimulacra2 tool: writes reference.json there.

    python -m scripts.ssimulacra2_reference TOOL [--make]

TOOL: the ssimulacra2 command of libjxl (Debian 13's libjxl-devtools 0.11.2 ships it as /usr/bin/ssimulacra2; a
wrapper script that runs it in a Debian 13 root works as well). With --make the pairs are made again first from
make bench's corpus (.cache/bench/corpus-v1): two photographs at two thumbnail sizes, each encoded as JPEG q40 and
q85, WebP q60 and AVIF q50, and every image stored as PNG, as both tools read them.
tests/unit/tasks/imaging/test_quality.py checks tasks/imaging/quality.py's scores against these.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
from pathlib import Path

import pillow_avif  # noqa: F401  (AVIF in Pillow)
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PAIRS = ROOT / "tests" / "data" / "ssimulacra2"
SOURCES = {"photo": ("jpeg-2mp/00.jpg", 256), "alpha": ("png-2mp-alpha/01.png", 160)}
ENCODES = (("jpeg", "JPEG", 40), ("jpeg", "JPEG", 85), ("webp", "WEBP", 60), ("avif", "AVIF", 50))


def make() -> None:
    corpus = ROOT / ".cache" / "bench" / "corpus-v1"
    for name, (path, width) in SOURCES.items():
        image = Image.open(corpus / path).convert("RGB")
        image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
        image.save(PAIRS / f"{name}.png")
        for ext, fmt, quality in ENCODES:
            out = io.BytesIO()
            image.save(out, fmt, quality=quality)
            Image.open(io.BytesIO(out.getvalue())).convert("RGB").save(PAIRS / f"{name}-{ext}{quality}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tool")
    parser.add_argument("--make", action="store_true")
    args = parser.parse_args()
    if args.make:
        make()
    scores = {}
    for distorted in sorted(PAIRS.glob("*-*.png")):
        reference = PAIRS / f"{distorted.name.split('-')[0]}.png"
        out = subprocess.run([*args.tool.split(), str(reference), str(distorted)], capture_output=True, text=True)
        out.check_returncode()
        scores[distorted.name] = round(float(out.stdout.split()[-1]), 4)
    (PAIRS / "reference.json").write_text(json.dumps(scores, indent=1) + "\n")
    print(json.dumps(scores, indent=1))


if __name__ == "__main__":
    main()
