"""Where each output's pixels come from: pure arithmetic, no pixels.

Sizes are in the working image (after orientation, crop and rotation).
Unless ``enlarge`` is set, an output is never larger than its source.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.spec import OutputSpec

# gravity → where the kept region sits, as fractions of the slack on each axis
ANCHORS = {
    "center": (0.5, 0.5),
    "north": (0.5, 0.0),
    "south": (0.5, 1.0),
    "east": (1.0, 0.5),
    "west": (0.0, 0.5),
    "northeast": (1.0, 0.0),
    "northwest": (0.0, 0.0),
    "southeast": (1.0, 1.0),
    "southwest": (0.0, 1.0),
}


@dataclass(frozen=True)
class Plan:
    size: tuple[int, int]
    """The resized image's width and height."""
    box: tuple[float, float, float, float]
    """The region of the working image resized into it (left, top, right, bottom)."""
    canvas: tuple[int, int] | None = None
    """For ``pad``: the output's size, the resized image placed on it at ``offset``."""
    offset: tuple[int, int] = (0, 0)

    @property
    def scale(self) -> float:
        return max(self.size[0] / (self.box[2] - self.box[0]), self.size[1] / (self.box[3] - self.box[1]))


def plan(spec: OutputSpec, width: int, height: int, focus: tuple[float, float] | None = None) -> Plan:
    """``focus`` is the point (0..1, 0..1) that ``smart`` gravity found; ``focal`` gravity uses the spec's."""
    full = (0.0, 0.0, float(width), float(height))
    box_w, box_h = spec.width, spec.height
    cap = float("inf") if spec.enlarge else 1.0
    if spec.fit == "fill" and (box_w or box_h):
        out_w = box_w or round(width * box_h / height)  # type: ignore[operator]
        out_h = box_h or round(height * box_w / width)  # type: ignore[operator]
        if not spec.enlarge:
            out_w, out_h = min(out_w, width), min(out_h, height)
        return Plan((max(1, out_w), max(1, out_h)), full)
    if spec.fit == "cover" and box_w and box_h:
        return _cover(spec, box_w, box_h, width, height, cap, focus)
    scales = [s for s in (box_w and box_w / width, box_h and box_h / height) if s]
    scale = min([*scales, cap])
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if spec.fit == "pad" and box_w and box_h:
        ax, ay = _anchor(spec, focus)
        offset = (round((box_w - size[0]) * ax), round((box_h - size[1]) * ay))
        return Plan(size, full, (box_w, box_h), offset)
    return Plan(size, full)


def _anchor(spec: OutputSpec, focus: tuple[float, float] | None) -> tuple[float, float]:
    if spec.gravity == "focal" and spec.focal:
        return spec.focal
    if spec.gravity == "smart" and focus:
        return focus
    return ANCHORS.get(spec.gravity, (0.5, 0.5))


def _cover(
    spec: OutputSpec, box_w: int, box_h: int, width: int, height: int, cap: float, focus: tuple[float, float] | None
) -> Plan:
    scale = min(max(box_w / width, box_h / height), cap)
    out_w, out_h = min(box_w, round(width * scale)), min(box_h, round(height * scale))
    crop_w, crop_h = min(width, out_w / scale), min(height, out_h / scale)
    if spec.gravity in ("focal", "smart"):
        # Centre the region on the point, as far as the edges allow.
        fx, fy = _anchor(spec, focus)
        left = min(max(fx * width - crop_w / 2, 0.0), width - crop_w)
        top = min(max(fy * height - crop_h / 2, 0.0), height - crop_h)
    else:
        ax, ay = _anchor(spec, focus)
        left, top = (width - crop_w) * ax, (height - crop_h) * ay
    return Plan((max(1, out_w), max(1, out_h)), (left, top, left + crop_w, top + crop_h))
