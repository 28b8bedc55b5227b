"""Push one generated photo through a running PixelFlow and print the results.

Usage: python scripts/demo_client.py http://127.0.0.1:8080 API_KEY
Only the HTTP API and the presigned URL are used, as any client would.
"""

from __future__ import annotations

import io
import sys
import time

import httpx
from PIL import Image, ImageDraw, ImageFilter


def sample_jpeg() -> bytes:
    """A 2400x1600 photo-like picture: gradients, shapes and blur, no download."""
    width, height = 2400, 1600
    image = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize((width, height)),
            Image.radial_gradient("L").resize((width, height)),
            Image.linear_gradient("L").rotate(90).resize((width, height)),
        ),
    )
    draw = ImageDraw.Draw(image)
    for i in range(12):
        x, y = 180 * i, 110 * (i % 7)
        draw.ellipse((x, y, x + 420, y + 420), fill=(40 * i % 255, 200 - 12 * i, 90 + 13 * i))
    image = image.filter(ImageFilter.GaussianBlur(3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def main(api: str, key: str) -> int:
    client = httpx.Client(base_url=api, timeout=30, headers={"Authorization": f"Bearer {key}"})
    data = sample_jpeg()
    upload = client.post("/v1/uploads", json={"content_type": "image/jpeg", "file_name": "sample.jpg"})
    upload.raise_for_status()
    slot = upload.json()
    httpx.put(slot["url"], content=data, headers=slot["headers"], timeout=30).raise_for_status()
    print(f"uploaded {len(data)} bytes to {slot['key']}")

    spec = {
        "source": {"key": slot["key"]},
        "outputs": [
            {"name": "thumb", "width": 200, "format": "webp"},
            {"name": "large", "width": 800, "format": "jpeg", "quality": 85},
            {"name": "square", "width": 300, "height": 300, "fit": "cover", "format": "png"},
        ],
    }
    created = client.post("/v1/jobs", json=spec)
    if created.status_code != 202:
        print(f"job refused: {created.status_code} {created.text}", file=sys.stderr)
        return 1
    job = created.json()
    print(f"job {job['id']} {job['status']}")
    deadline = time.monotonic() + 60
    while job["status"] in ("queued", "processing") and time.monotonic() < deadline:
        time.sleep(0.3)
        job = client.get(f"/v1/jobs/{job['id']}").json()
    print(f"job {job['id']} {job['status']}")
    if job["status"] != "succeeded":
        print(f"error: {job['error']}", file=sys.stderr)
        return 1
    for output in job["outputs"]:
        print(
            f"  {output['name']:<7} {output['format']:<5} {output['width']}x{output['height']}"
            f"  {output['bytes']} bytes  key={output['key']}\n          url={output['url']}"
        )
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
