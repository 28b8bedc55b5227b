"""The ``pixelflow`` command against the API under gunicorn, a real worker and storage: a folder through one batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import images
from tests.integration.conftest import Worker, wait_until
from tests.support.stack import BIN, Api, free_port

THUMB = json.dumps({"name": "s", "format": "webp", "width": 32})
PRESET = ["thumb-webp.webp", "thumb-jpeg.jpg", "large-webp.webp", "large-jpeg.jpg"]  # the thumbnails preset


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, worker: Worker) -> Iterator[Api]:
    served = Api(f"127.0.0.1:{free_port()}", tmp_path_factory.mktemp("cli") / "api.log")
    served.start()
    yield served
    served.stop()


def pixelflow(api: Api, key: str, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELFLOW_")}
    if config is None:
        env |= {"PIXELFLOW_URL": f"http://{api.bind}", "PIXELFLOW_API_KEY": key}
    else:
        env["PIXELFLOW_CONFIG"] = str(config)
    return subprocess.run([str(BIN / "pixelflow"), *args], capture_output=True, text=True, env=env, timeout=180)


def test_a_folder_goes_through_one_batch_into_a_mirrored_tree_and_a_second_run_redoes_nothing(
    api: Api, api_key: str, tmp_path: Path
) -> None:
    photos = tmp_path / "photos"
    (photos / "trip" / "day2").mkdir(parents=True)
    (photos / "cat.jpg").write_bytes(images.jpeg(640, 480))
    (photos / "trip" / "beach.png").write_bytes(images.png_with_alpha(320, 240))
    (photos / "trip" / "day2" / "hill.jpg").write_bytes(images.jpeg(300, 500))
    (photos / "trip" / "broken.jpg").write_bytes(images.jpeg(64, 48)[:300])  # truncated: it fails
    (photos / "notes.txt").write_text("not an image")
    out = tmp_path / "results"
    first = pixelflow(api, api_key, "process", str(photos), "--preset", "thumbnails", "--out", str(out))
    assert first.returncode == 1, first.stdout + first.stderr  # an item failed
    assert "3 succeeded, 1 failed" in first.stdout and "12 outputs downloaded" in first.stdout
    assert "failed: trip/broken.jpg: corrupt_image" in first.stdout
    assert "uploads" in first.stderr and "succeeded" in first.stderr  # the progress bars
    for rel in ("cat", "trip/beach", "trip/day2/hill"):
        for name in PRESET:
            made = out / f"{rel}.{name}"
            assert made.stat().st_size > 0, made
    assert not list(out.rglob("broken.*"))
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [m["status"] for m in manifest] == [
        "succeeded",
        "succeeded",
        "failed",
        "succeeded",
    ]  # cat, beach, broken, hill
    state = json.loads((out / ".pixelflow.json").read_text())
    assert len(state["uploads"]) == 4

    # Again, from a config file instead of the environment: same batch, no upload, nothing downloaded again.
    config = tmp_path / "config.toml"
    config.write_text(f'[default]\nurl = "http://{api.bind}"\napi_key = "{api_key}"\n')
    second = pixelflow(api, api_key, "process", str(photos), "--preset", "thumbnails", "--out", str(out), config=config)
    assert second.returncode == 1, second.stdout + second.stderr
    assert f"batch {state['batch']}" in second.stdout
    assert "0 outputs downloaded, 12 already there" in second.stdout
    assert json.loads((out / ".pixelflow.json").read_text()) == state

    got = pixelflow(api, api_key, "batches", "get", state["batch"])
    assert got.returncode == 0 and json.loads(got.stdout)["counts"]["succeeded"] == 3
    waited = pixelflow(api, api_key, "batches", "wait", state["batch"])
    assert waited.returncode == 0 and json.loads(waited.stdout)["manifest_url"]
    job = json.loads(pixelflow(api, api_key, "jobs", "wait", manifest[0]["job_id"]).stdout)
    assert job["status"] == "succeeded"
    refused = pixelflow(api, "pf_not-a-key", "batches", "get", state["batch"])
    assert refused.returncode == 2 and "401 unauthorized" in refused.stderr


def test_ctrl_c_leaves_the_batch_running_and_says_how_to_pick_it_up(api: Api, api_key: str, tmp_path: Path) -> None:
    photos, out = tmp_path / "photos", tmp_path / "results"
    photos.mkdir()
    for i in range(16):
        (photos / f"p{i:02}.jpg").write_bytes(images.jpeg(1600, 1200))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELFLOW_")}
    env |= {"PIXELFLOW_URL": f"http://{api.bind}", "PIXELFLOW_API_KEY": api_key}
    argv = [str(BIN / "pixelflow"), "process", str(photos), "--preset", "thumbnails", "--out", str(out)]
    run = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    state = out / ".pixelflow.json"
    wait_until(lambda: state.exists() and "batch" in json.loads(state.read_text()), 60, "the batch to be made")
    run.send_signal(signal.SIGINT)
    stdout, stderr = run.communicate(timeout=30)
    batch_id = json.loads(state.read_text())["batch"]
    assert run.returncode == 130, stdout + stderr
    assert f"batch {batch_id} goes on" in stderr and f"pixelflow batches wait {batch_id}" in stderr
    again = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=180)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"batch {batch_id}: succeeded; 16 succeeded" in again.stdout


def test_more_uploads_than_the_rate_limit_allows_wait_for_it_instead_of_failing(
    tmp_path: Path, worker: Worker, api_key: str
) -> None:
    """12 uploads, 8 at once, against 4 a second: the API answers 429 with Retry-After and the client waits it out."""
    limited = Api(f"127.0.0.1:{free_port()}", tmp_path / "api.log", env={"PIXELFLOW_RATE_LIMIT_UPLOADS": "4/second"})
    limited.start()
    try:
        photos, out = tmp_path / "photos", tmp_path / "results"
        photos.mkdir()
        for i in range(12):
            (photos / f"p{i:02}.jpg").write_bytes(images.jpeg(64 + i, 48))
        run = pixelflow(limited, api_key, "process", str(photos), "--output", THUMB, "--out", str(out))
    finally:
        limited.stop()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "12 succeeded, 0 failed" in run.stdout and "12 outputs downloaded" in run.stdout
    assert "over the rate limit: waited" in run.stderr  # it was refused, and went on
    assert len(json.loads((out / ".pixelflow.json").read_text())["uploads"]) == 12
