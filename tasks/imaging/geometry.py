"""Where each output's pixels come from: pure arithmetic, no pixels.

Sizes are in the oriented source (after EXIF orientation). Outputs are
never enlarged past the source.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.spec import OutputSpec


@dataclass(frozen=True)
class Plan:
    size: tuple[int, int]
    """The result's width and height."""
    box: tuple[float, float, float, float]
    """The region of the source that is resized into it (left, top, right, bottom)."""

    @property
    def scale(self) -> float:
        return self.size[0] / (self.box[2] - self.box[0])


def plan(spec: OutputSpec, width: int, height: int) -> Plan:
    if spec.fit == "cover" and spec.width and spec.height:
        return _cover(spec.width, spec.height, width, height)
    return _contain(spec.width, spec.height, width, height)


def _contain(box_w: int | None, box_h: int | None, width: int, height: int) -> Plan:
    scales = [s for s in (box_w and box_w / width, box_h and box_h / height) if s]
    scale = min([*scales, 1.0])
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return Plan(size, (0.0, 0.0, float(width), float(height)))


def _cover(box_w: int, box_h: int, width: int, height: int) -> Plan:
    scale = min(max(box_w / width, box_h / height), 1.0)
    out_w, out_h = min(box_w, round(width * scale)), min(box_h, round(height * scale))
    # The centred source region with the result's aspect ratio.
    crop_w, crop_h = out_w / scale, out_h / scale
    left, top = (width - crop_w) / 2, (height - crop_h) / 2
    return Plan((max(1, out_w), max(1, out_h)), (left, top, left + crop_w, top + crop_h))
