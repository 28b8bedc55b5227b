"""The benchmark's own parts still run: engine timing and the report."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from scripts.benchmark import peer, report
from scripts.benchmark.pipeline import percentile
from tests import images
from tests.support.stack import ROOT


def test_the_engine_runner_serves_timed_passes_that_the_summary_reduces(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from scripts.benchmark.engine import summary

    group = tmp_path / "jpeg-tiny"
    group.mkdir()
    (group / "a.jpg").write_bytes(images.jpeg(1000, 800))
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts/benchmark/engine.py"), "pixelflow-transform"],
        input=f"{group}\n{group}\n",  # two passes, as make bench asks for them between the other variants'
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT)},
    ).stdout
    passes = [json.loads(line) for line in out.splitlines()]
    assert len(passes) == 2 and all(p["ms"] > 0 and p["engine"].startswith("Pillow-SIMD") for p in passes)
    row = summary("pixelflow-transform", passes[0]["engine"], group.name, 1, [p["ms"] for p in passes])
    assert row["group"] == "jpeg-tiny" and row["passes"] == 2
    assert 0 < row["ms_min"] <= row["ms_median"] <= row["ms_max"]


def test_percentiles_pick_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (50.0, 99.0, 100.0)


def test_the_report_states_the_transform_ratio_against_the_fastest_variant() -> None:
    rows = [
        {
            "label": "Pillow-SIMD + draft",
            "group": "jpeg-2mp",
            "ms_median": 50.0,
            "ms_min": 49.0,
            "ms_max": 52.0,
            "images_per_s_per_core": 20.0,
        },
        {
            "label": report.OURS,
            "group": "jpeg-2mp",
            "ms_median": 55.0,
            "ms_min": 54.0,
            "ms_max": 56.0,
            "images_per_s_per_core": 18.2,
        },
    ]
    table = "\n".join(report.engine_table(rows))
    assert "| jpeg-2mp | Pillow-SIMD + draft (50.0 ms) | 1.10 |" in table


def test_the_report_gives_job_creation_side_by_side_with_a_baseline_as_a_ratio() -> None:
    run = {"requests_per_s": 300.0, "p50_ms": 1.0, "p99_ms": 2.0, "status_codes": {202: 10}, "concurrency": 64}
    api = {
        "fixed_rate": {**run, "target_rate_per_s": 500},
        "saturation": {**run, "cpu_ms_per_request": {"api": 2.0}},
        "side_by_side": {
            "baseline": "27e86dd0a1b2",
            "rounds": 3,
            "seconds": 8,
            "api_ms": {"baseline": [3.0, 2.9, 3.1], "current": [1.8, 1.9, 1.7]},
            "requests_per_s": {"baseline": [300, 290, 310], "current": [420, 430, 410]},
            "median_api_ms": {"baseline": 3.0, "current": 1.8},
            "median_requests_per_s": {"baseline": 300, "current": 420},
            "api_ms_ratio": 0.6,
        },
    }
    text = "\n".join(report.api_table(api))
    assert "Side by side with 27e86dd0a1b2 (3 turns each of 8 s" in text
    assert "| baseline | 3.0 (3.0, 2.9, 3.1) | 300 |" in text and "| current | 1.8 (1.8, 1.9, 1.7) | 420 |" in text
    assert "| current ÷ baseline | **0.6** | |" in text
    del api["side_by_side"]
    assert "Side by side" not in "\n".join(report.api_table(api))


def test_thumbor_is_asked_for_the_standard_jobs_outputs_and_the_report_gives_the_ratio() -> None:
    assert peer.paths(Path("/corpus/jpeg-2mp/03.jpg")) == [
        "/unsafe/800x0/filters:format(jpeg):quality(85)/03.jpg",
        "/unsafe/800x0/filters:format(webp):quality(80)/03.jpg",
        "/unsafe/200x0/filters:format(jpeg):quality(85)/03.jpg",
        "/unsafe/200x0/filters:format(webp):quality(80)/03.jpg",
    ]
    turn = {
        "pixelflow": {"jobs_per_s": 14.0, "cpu_ms_per_job": {"worker": 90.0, "api": 10.0}},
        "thumbor": {"sources_per_s": 10.0, "cpu_ms_per_source": 119.0},
    }
    result = {
        "thumbor": "7.8.0",
        "processes": 2,
        "workers": 2,
        "turns": [turn, turn],
        "pixelflow_jobs_per_s": 14.0,
        "thumbor_sources_per_s": 10.0,
        "ratio": 1.4,
        "pixelflow_cpu_ms_per_job": 100.0,
        "pixelflow_worker_cpu_ms_per_job": 90.0,
        "thumbor_cpu_ms_per_source": 119.0,
    }
    text = "\n".join(report.peer_table(result))
    assert "| 1 | 14.0 | 10.0 | 100 (90) | 119 |" in text
    assert "| median | 14.0 | 10.0 | 100 (90) | 119 |" in text
    assert "thumbor sources/s: **1.40** (target ≥ 1.2)" in text


def test_the_report_sets_steps_inline_beside_a_task_per_step() -> None:
    def run(jobs_per_s: float, worker: float, rabbitmq: float) -> dict[str, object]:
        return {"jobs_per_s": jobs_per_s, "cpu_ms_per_job": {"worker": worker, "rabbitmq": rabbitmq, "api": 10.0}}

    result = {
        "jobs": 80,
        "turns": 2,
        "runs": {"inline": [run(12.0, 100.0, 5.0)] * 2, "a task per step": [run(10.0, 125.0, 20.0)] * 2},
        "median": {
            "inline": {
                "jobs_per_s": 12.0,
                "worker_cpu_ms_per_job": 100.0,
                "rabbitmq_cpu_ms_per_job": 5.0,
                "all_cpu_ms_per_job": 115.0,
            },
            "a task per step": {
                "jobs_per_s": 10.0,
                "worker_cpu_ms_per_job": 125.0,
                "rabbitmq_cpu_ms_per_job": 20.0,
                "all_cpu_ms_per_job": 155.0,
            },
        },
    }
    text = "\n".join(report.inline_table(result))
    assert "| inline | 12.00 (12.00 / 12.00) | 100.0 | 5.0 | 115.0 |" in text
    assert "| a task per step | 10.00 (10.00 / 10.00) | 125.0 | 20.0 | 155.0 |" in text
    assert "Inline ÷ a task per step: jobs/s 1.20, worker CPU 0.80, all CPU 0.74." in text


def test_the_report_tells_how_long_the_other_tenants_jobs_waited_for_a_worker() -> None:
    def lat(p50: int, p99: int, waited: tuple[int, int] | None) -> dict[str, object]:
        row: dict[str, object] = {"jobs": 20, "latency_p50_ms": p50, "latency_p99_ms": p99}
        if waited:
            row |= {"waited_p50_ms": waited[0], "waited_p99_ms": waited[1]}
        return row

    turn = {"single": {"jobs_per_s": 10.0, "jobs": 80}, "batch": {"jobs_per_s": 11.0, "jobs": 80}, "ratio": 1.1}
    result: dict[str, Any] = {
        "accept": [{"items": 10000, "seconds": 0.8, "request_bytes": 500000}],
        "accept_seconds_median": 0.8,
        "turns": [turn],
        "ratio_median": 1.1,
        "fairness": {
            "idle": lat(116, 137, (20, 31)),
            "during_batch": lat(267, 364, None),  # a result from before the wait was measured
            "batch": {"jobs": 320},
            "p99_ratio": 2.66,
        },
    }
    text = "\n".join(report.batches_table(result))
    assert "in turns" not in text  # a result from before the bounds were set side by side
    shared = result["fairness"] | {"during_batch": lat(200, 250, (60, 120)), "p99_ratio": 1.82}
    result["fairness_by_bound"] = {"1 (default)": [shared], "2": [result["fairness"]]}
    both = "\n".join(report.batches_table(result))
    assert "| 1 (default) | 1 | 116 / 137 | 200 / 250 | 60 / 120 | 1.82 |" in both
    assert "| 2 | 1 | 116 / 137 | 267 / 364 | None / None | 2.66 |" in both
    assert "| idle | 20 | 116 | 137 | 20 / 31 |" in text
    assert "| during a 320-item batch | 20 | 267 | 364 | – / – |" in text
    assert "| during ÷ idle (p99; target ≤ 2) | | | **2.66** | |" in text


def test_the_report_sets_this_worker_beside_an_earlier_one() -> None:
    def m(jobs_per_s: float, worker: float, every: float) -> dict[str, float]:
        return {
            "jobs_per_s": jobs_per_s,
            "worker_cpu_ms_per_job": worker,
            "s3_cpu_ms_per_job": 12.0,
            "postgresql_cpu_ms_per_job": 9.0,
            "all_cpu_ms_per_job": every,
        }

    result = {
        "baseline": "31f57e8abcde",
        "jobs": 80,
        "turns": 4,
        "median": {"current": m(10.0, 90.0, 120.0), "baseline": m(8.0, 100.0, 150.0)},
    }
    text = "\n".join(report.worker_table(result))
    assert "| current | 10.00 | 90.0 | 12.0 | 9.0 | 120.0 |" in text
    assert "| baseline | 8.00 | 100.0 | 12.0 | 9.0 | 150.0 |" in text
    assert "Current ÷ 31f57e8abcde: jobs/s 1.25, worker CPU 0.90, all CPU 0.80." in text


def test_every_engine_variant_encodes_webp_with_pixelflows_effort() -> None:
    # The engine variants run in virtualenvs without the project: they carry the effort as a constant of their own.
    from scripts.benchmark import engine, quality
    from tasks.imaging import encode

    assert engine.WEBP_EFFORT == encode.WEBP_METHOD
    assert all(effort != encode.WEBP_METHOD for effort in quality.WEBP_EFFORT.values())  # the row compared with it


def test_the_webp_effort_is_what_the_encoder_uses() -> None:
    import io

    from PIL import Image

    from core.spec import OutputSpec
    from scripts.benchmark.quality import _webp_effort
    from tasks.imaging.probe import probe
    from tasks.imaging.render import render

    data = images.jpeg(640, 480)
    spec = OutputSpec.from_fields({"name": "o", "format": "webp", "width": 320})
    sizes = {}
    for effort in (0, 6):
        with _webp_effort(effort):
            out = render(data, probe(data, 10**9), [spec]).outputs[0]
        with Image.open(io.BytesIO(out.data)) as decoded:
            assert decoded.format == "WEBP" and decoded.width == 320
        sizes[effort] = len(out.data)
    assert sizes[0] != sizes[6]  # the effort reached libwebp
