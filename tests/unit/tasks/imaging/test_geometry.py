import pytest

from core.spec import OutputSpec
from tasks.imaging.geometry import plan


@pytest.mark.parametrize(
    ("spec", "source", "size"),
    [
        (OutputSpec("a", "jpeg", width=800), (4000, 3000), (800, 600)),
        (OutputSpec("a", "jpeg", height=300), (4000, 3000), (400, 300)),
        (OutputSpec("a", "jpeg", width=800, height=800), (4000, 3000), (800, 600)),
        (OutputSpec("a", "jpeg", width=800, height=300), (4000, 3000), (400, 300)),
        (OutputSpec("a", "jpeg"), (640, 480), (640, 480)),
        (OutputSpec("a", "jpeg", width=2000), (640, 480), (640, 480)),
        (OutputSpec("a", "jpeg", width=1), (4000, 30), (1, 1)),
    ],
)
def test_contain_fits_inside_the_box_and_never_enlarges(
    spec: OutputSpec, source: tuple[int, int], size: tuple[int, int]
) -> None:
    result = plan(spec, *source)
    assert result.size == size
    assert result.box == (0, 0, *source)


def test_cover_fills_the_box_from_the_centre_of_the_source() -> None:
    result = plan(OutputSpec("a", "jpeg", width=300, height=300, fit="cover"), 4000, 3000)
    assert result.size == (300, 300)
    assert result.box == (500, 0, 3500, 3000)


def test_cover_of_a_small_source_crops_without_enlarging() -> None:
    result = plan(OutputSpec("a", "jpeg", width=500, height=500, fit="cover"), 400, 200)
    assert result.size == (400, 200)
    assert result.scale == 1
