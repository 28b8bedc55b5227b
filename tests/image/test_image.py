"""The image as an operator runs it: every role as uid 10001 on a read-only root, a job end to end.

Run by ``make image-check`` after ``make image``. Each role is a container
of the built image (tests/image/container.py) against this run's database,
queue, bucket and S3 server on the host's loopback.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from packaging.requirements import Requirement
from PIL import Image as PILImage

from config import Settings
from scripts.demo_client import sample_jpeg
from tests import images
from tests.image.container import Container, Image, run
from tests.integration.conftest import S3Server
from tests.support.forwarder import Forwarder
from tests.support.stack import ROOT, free_port, wait_until, worker_argv

FLOWER_LOGIN = ("pixelflow", "image-check")
QEMU = shutil.which("qemu-x86_64-static")
# The workers as compose and the chart run them: one for the I/O steps, one for transform.
ROLES = ("api", "relay", "worker-io", "worker-transform", "exporter", "flower")
WORKERS = ("worker-io", "worker-transform")


@dataclass
class Deployment:
    containers: dict[str, Container]
    env: dict[str, str]
    api: str
    exporter: str
    flower: str
    key: str


def role_env(settings: Settings) -> dict[str, str]:
    """What compose would set: the PIXELFLOW_* settings of this run, pointing at the host's services."""
    env = {k: v for k, v in os.environ.items() if k.startswith("PIXELFLOW_")}
    env.update(
        PIXELFLOW_REDIS_URL=settings.redis_url,
        PIXELFLOW_API_BIND=f"127.0.0.1:{free_port()}",
        PIXELFLOW_WORKER_METRICS_HOST="127.0.0.1",
        PIXELFLOW_WORKER_METRICS_PORT=str(free_port()),
        PIXELFLOW_EXPORTER_HOST="127.0.0.1",
        PIXELFLOW_EXPORTER_PORT=str(free_port()),
        FLOWER_PORT=str(free_port()),
        FLOWER_BASIC_AUTH=":".join(FLOWER_LOGIN),
    )
    return env


def role_port(env: dict[str, str], role: str) -> dict[str, str]:
    """The containers share the host's network: each worker serves its metrics on a port of its own."""
    return {**env, "PIXELFLOW_WORKER_METRICS_PORT": str(free_port())} if role in WORKERS else env


def wait_http(url: str, container: Container, timeout: float = 300) -> None:
    def answers() -> bool:
        assert container.alive(), container.output()
        try:
            return httpx.get(url, timeout=2).status_code < 500
        except httpx.HTTPError:
            return False

    wait_until(answers, timeout, url, interval=0.3)


@pytest.fixture(scope="module")
def deployment(
    image: Image, empty_database: str, s3_server: S3Server, broker_queue: str, settings: Settings, logs: Path
) -> Iterator[Deployment]:
    env = role_env(settings)
    code, output = run(image, "migrate", ["migrate"], env, logs, timeout=120)
    assert code == 0, output
    containers = {
        role: Container(image, role, [role], role_port(env, role), logs / f"{role}.log").start() for role in ROLES
    }
    try:
        api = f"http://{env['PIXELFLOW_API_BIND']}"
        exporter = f"http://127.0.0.1:{env['PIXELFLOW_EXPORTER_PORT']}"
        flower = f"http://127.0.0.1:{env['FLOWER_PORT']}"
        wait_http(f"{api}/readyz", containers["api"])
        wait_http(f"{exporter}/metrics", containers["exporter"])
        wait_http(f"{flower}/healthcheck", containers["flower"])
        for worker in (containers[role] for role in WORKERS):
            wait_until(functools.partial(lambda w: " ready." in w.output(), worker), 300, f"{worker.name} to be ready")
        wait_until(lambda: "relay started" in containers["relay"].output(), 300, "the relay to start")
        code, output = run(
            image, "keys", ["flask", "--app", "app", "keys", "create", "--name", "image", "--quiet"], env, logs
        )
        assert code == 0, output
        key = re.findall(r"pf_\S+", output)[-1]
        yield Deployment(containers, env, api, exporter, flower, key)
    finally:
        for container in containers.values():
            container.stop()


def push_job(deployment: Deployment, timeout: float = 60, source: tuple[bytes, str] | None = None) -> dict[str, Any]:
    """What a client does: presigned upload, a job of three outputs, polling until it ends."""
    headers = {"Authorization": f"Bearer {deployment.key}"}
    with httpx.Client(base_url=deployment.api, timeout=30, headers=headers) as client:
        return _push(client, timeout, source or (sample_jpeg(), "image/jpeg"))


def _push(client: httpx.Client, timeout: float, source: tuple[bytes, str]) -> dict:  # type: ignore[type-arg]
    data, content_type = source
    slot = client.post("/v1/uploads", json={"content_type": content_type, "file_name": "sample"}).json()
    httpx.put(slot["url"], content=data, headers=slot["headers"], timeout=30).raise_for_status()
    spec = {
        "source": {"key": slot["key"]},
        "outputs": [
            {"name": "thumb", "width": 200, "format": "webp"},
            {"name": "large", "width": 800, "format": "jpeg"},
            {"name": "marked", "width": 400, "format": "png", "watermark": {"text": "PixelFlow"}},
        ],
    }
    created = client.post("/v1/jobs", json=spec)
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]

    def ended() -> dict | None:  # type: ignore[type-arg]
        job = client.get(f"/v1/jobs/{job_id}").json()
        return job if job["status"] not in ("queued", "processing") else None

    return wait_until(ended, timeout, f"job {job_id} to end", interval=0.3)


def test_a_job_goes_end_to_end_through_the_images_api_relay_and_worker(deployment: Deployment) -> None:
    job = push_job(deployment)
    assert job["status"] == "succeeded", job
    sizes = {}
    for output in job["outputs"]:
        data = httpx.get(output["url"], timeout=10).content  # the presigned URL the API handed out
        with PILImage.open(io.BytesIO(data)) as picture:
            sizes[output["name"]] = (picture.format, picture.size)
    assert sizes == {"thumb": ("WEBP", (200, 133)), "large": ("JPEG", (800, 533)), "marked": ("PNG", (400, 267))}


def test_a_heic_photo_goes_through_the_images_worker(deployment: Deployment) -> None:
    # pi-heif's wheel, with its libheif and libde265, in the image; a portrait phone photo comes out upright.
    job = push_job(deployment, source=(images.heic(2016, 1512, orientation=6), "image/heic"))
    assert job["status"] == "succeeded", job
    assert job["source"]["format"] == "heic"
    sizes = {o["name"]: (o["width"], o["height"]) for o in job["outputs"]}
    assert sizes == {"thumb": (200, 267), "large": (800, 1067), "marked": (400, 533)}


def test_a_jpeg_xl_goes_through_the_images_worker(deployment: Deployment) -> None:
    # imagecodecs' wheel, with its libjxl, in the image, read through libjxl's decoder API.
    data = images.jxl(images.jpeg(1600, 1200, orientation=6), "--lossless_jpeg=0", "-d", "1")
    job = push_job(deployment, source=(data, "image/jxl"))
    assert job["status"] == "succeeded", job
    assert job["source"]["format"] == "jxl"
    sizes = {o["name"]: (o["width"], o["height"]) for o in job["outputs"]}
    assert sizes == {"thumb": (200, 267), "large": (800, 1067), "marked": (400, 533)}


def test_every_role_runs_as_uid_10001_with_its_group_on_a_read_only_root(deployment: Deployment) -> None:
    for role, container in deployment.containers.items():
        status = Path(f"/proc/{container.pid1()}/status").read_text()
        uid = re.search(r"^Uid:\s+(.*)$", status, re.MULTILINE)
        gid = re.search(r"^Gid:\s+(.*)$", status, re.MULTILINE)
        groups = re.search(r"^Groups:\s*(.*)$", status, re.MULTILINE)
        assert uid and set(uid.group(1).split()) == {"10001"}, (role, status)
        assert gid and set(gid.group(1).split()) == {"10001"}, (role, status)
        assert groups and groups.group(1).split() in ([], ["10001"]), (role, status)
        denied = container.exec(["sh", "-c", "touch /app/x || touch /opt/pixelflow/x || touch /x"])
        assert denied.returncode != 0 and "Read-only file system" in denied.stderr, (role, denied)
        assert container.exec(["sh", "-c", "touch /tmp/x && rm /tmp/x"]).returncode == 0, role
        assert container.exec(["id", "-gn"]).stdout.strip() == "pixelflow", role


def test_the_roles_start_without_warnings_about_privileges_or_unwritable_paths(deployment: Deployment) -> None:
    push_job(deployment)
    for role, container in deployment.containers.items():
        output = container.output()
        for sign in ("Permission denied", "superuser", "Read-only file system", "Traceback", "CRITICAL"):
            assert sign not in output, f"{role}: {sign!r} in its output:\n{output[-3000:]}"


def test_each_roles_healthcheck_passes_and_the_workers_follows_its_consumer(
    image: Image, deployment: Deployment
) -> None:
    assert image.healthcheck[:2] == ["CMD", "pixelflow-healthcheck"]
    for role, container in deployment.containers.items():
        checked = container.exec(image.healthcheck[1:])
        assert checked.returncode == 0, (role, checked.stderr)
    # A stale heartbeat fails the check; the running consumer beats again within its interval.
    worker = deployment.containers["worker-transform"]
    assert worker.exec(["touch", "-d", "-10 min", "/tmp/pixelflow-worker.alive"]).returncode == 0
    stale = worker.exec(image.healthcheck[1:])
    assert stale.returncode == 1 and "last heartbeat" in stale.stderr
    wait_until(lambda: worker.exec(image.healthcheck[1:]).returncode == 0, 15, "the worker to beat again")


def test_the_operator_cli_is_installed_in_the_image(image: Image, deployment: Deployment, logs: Path) -> None:
    code, output = run(image, "dlq", ["celery", "-A", "tasks", "dlq", "list"], deployment.env, logs)
    assert code == 0, output
    assert "no dead letters" in output, output
    code, output = run(
        image, "stuck", ["celery", "-A", "tasks", "jobs", "stuck", "--older-than", "900"], deployment.env, logs
    )
    assert code == 0, output


def test_flower_asks_for_its_login_on_metrics_as_on_its_pages(deployment: Deployment) -> None:
    assert httpx.get(f"{deployment.flower}/metrics", timeout=5).status_code == 401
    assert httpx.get(f"{deployment.flower}/", timeout=5).status_code == 401
    metrics = httpx.get(f"{deployment.flower}/metrics", auth=FLOWER_LOGIN, timeout=5)
    assert metrics.status_code == 200 and "flower_" in metrics.text
    assert httpx.get(f"{deployment.flower}/healthcheck", timeout=5).status_code == 200


def test_the_exporter_reports_the_work_queues(deployment: Deployment, broker_queue: str) -> None:
    text = httpx.get(f"{deployment.exporter}/metrics", timeout=10).text
    for queue in (broker_queue, f"{broker_queue}.transform"):
        assert f'pixelflow_queue_messages_ready{{queue="{queue}",role="work"}}' in text, text
        assert f'pixelflow_queue_consumers{{queue="{queue}",role="work"}} 1.0' in text, text


def test_migrate_waits_for_a_database_that_is_not_up_yet(image: Image, deployment: Deployment, logs: Path) -> None:
    # PostgreSQL behind a link that opens once migrate has found nothing there: it waits, then finds the schema
    # current.
    host, port = "127.0.0.1", 5432
    link = Forwarder((host, port))
    link.port = free_port()
    env = {
        **deployment.env,
        "PIXELFLOW_DATABASE_URL": deployment.env["PIXELFLOW_DATABASE_URL"].replace(
            f"{host}:{port}", f"{host}:{link.port}"
        ),
    }
    container = Container(image, "migrate-wait", ["migrate"], env, logs / "migrate-wait.log").start()
    wait_until(lambda: "waiting for PostgreSQL" in container.output(), 120, "migrate to find no database")
    link.start()
    try:
        assert container.wait(60) == 0, container.output()
    finally:
        link.stop()
    # With nothing there at all, it gives up with a message after PIXELFLOW_MIGRATE_WAIT.
    env["PIXELFLOW_MIGRATE_WAIT"] = "2"
    started = time.monotonic()
    code, output = run(image, "migrate-gives-up", ["migrate"], env, logs, timeout=60)
    assert code != 0 and "did not answer within 2 s" in output, output
    assert time.monotonic() - started < 30


def arm64_installs(lock: str, tmp_path: Path, *pip_args: str) -> list[dict[str, Any]]:
    """What pip would install from a lock on an arm64 machine (a dry run, wheels only): the report's entries. pip
    judges environment markers by the machine it runs on, so the arm64 list is made here."""
    wanted = []
    for line in (ROOT / lock).read_text().splitlines():  # the lock: an entry's first line, then hashes
        line = line.split("#")[0].strip().removesuffix("\\").strip()
        if (
            line
            and not line.startswith("--hash")
            and (not (req := Requirement(line)).marker or req.marker.evaluate({"platform_machine": "aarch64"}))
        ):
            wanted.append(line.split(";")[0].strip())
    listed, report = tmp_path / f"{lock}.arm64", tmp_path / f"{lock}.json"
    listed.write_text("\n".join(wanted))
    # pip on the image's Debian bookworm (glibc 2.36) takes every manylinux tag from 2_17 to 2_36; given --platform it
    # takes only the tags named (obstore's arm64 wheel is manylinux_2_24 alone).
    platform = [arg for minor in range(17, 37) for arg in ("--platform", f"manylinux_2_{minor}_aarch64")]
    platform += ["--platform", "manylinux2014_aarch64"]
    abi = ["--python-version", "3.11", "--implementation", "cp", "--abi", "cp311", "--abi", "abi3", "--abi", "none"]
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"),
            *("--only-binary=:all:", *platform, *abi, *pip_args),
            *("--target", str(tmp_path / "t"), "-r", str(listed), "--report", str(report)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    installs: list[dict[str, Any]] = json.loads(report.read_text())["install"]
    assert all(item["download_info"]["url"].endswith(".whl") for item in installs)
    return installs


def test_every_runtime_requirement_installs_from_wheels_on_arm64(tmp_path: Path) -> None:
    # The arm64 image takes stock Pillow, and nothing there may need a compiler.
    names = {item["metadata"]["name"].lower() for item in arm64_installs("requirements.txt", tmp_path)}
    assert "pillow" in names and "pillow-simd" not in names
    # The Pillow plugins, as the Containerfile installs them: alone, --no-deps (requirements-plugins.in).
    plugins = arm64_installs("requirements-plugins.txt", tmp_path, "--no-deps")
    asked = {
        line.split("==")[0].strip().lower()
        for line in (ROOT / "requirements-plugins.in").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }
    assert {"pi-heif", "thumbhash-python", "ssimulacra2"} <= asked
    assert {item["metadata"]["name"].lower().replace("_", "-") for item in plugins} == asked


def test_the_images_engine_is_the_one_its_architecture_gets(image: Image, deployment: Deployment, logs: Path) -> None:
    probe = (
        "import importlib.metadata as m, PIL, platform; from tasks.imaging import cpu; "
        "names = {d.metadata['Name'].lower() for d in m.distributions()}; "
        "print(platform.machine(), PIL.__version__, 'pillow-simd' in names, 'pillow' in names, cpu.builds())"
    )
    code, output = run(image, "engine", ["python", "-c", probe], deployment.env, logs)
    assert code == 0, output
    machine, version, simd, stock, builds = output.strip().splitlines()[-1].split(" ", 4)
    if image.arch == "amd64":
        assert (machine, simd, stock) == ("x86_64", "True", "False")
        assert builds == "[None, '/opt/pixelflow/pillow-sse4']"
    else:
        assert (machine, simd, stock, version) == ("aarch64", "False", "True", "12.1.1")
        assert builds == "[None]"


def amd64_only(image: Image) -> None:
    if image.arch != "amd64":
        pytest.skip("the Pillow-SIMD builds are the amd64 image's")


# Under qemu-user with the CPU models an operator meets: Westmere has SSE4.2 and no AVX2 (x86-64-v2);
# qemu64 has neither SSE4.1 nor AVX2.
def test_on_a_cpu_without_avx2_the_avx2_build_dies_and_the_sse4_build_is_chosen(
    image: Image, deployment: Deployment, logs: Path
) -> None:
    amd64_only(image)
    assert QEMU, "scripts/image-check installs qemu-user-static"
    probe = "from tasks.imaging import cpu; print(cpu.runs(None), cpu.runs('/opt/pixelflow/pillow-sse4'))"
    code, output = run(
        image,
        "westmere-probe",
        ["/tmp/qemu-x86_64-static", "-cpu", "Westmere", "/opt/pixelflow/bin/python", "-c", probe],
        deployment.env,
        logs,
        entrypoint=[],
        copy_in=[QEMU],
    )
    assert code == 0 and output.split()[-2:] == ["False", "True"], output
    code, output = run(
        image,
        "westmere-choice",
        ["/tmp/qemu-x86_64-static", "-cpu", "Westmere", "/opt/pixelflow/bin/python", "-m", "tasks.imaging.cpu"],
        deployment.env,
        logs,
        entrypoint=[],
        copy_in=[QEMU],
    )
    assert code == 0 and output.strip().splitlines()[-1] == "/opt/pixelflow/pillow-sse4", output


@pytest.mark.timeout(900)
def test_a_worker_on_a_cpu_without_avx2_finishes_jobs_and_one_without_sse4_refuses_to_start(
    image: Image, deployment: Deployment, logs: Path
) -> None:
    amd64_only(image)
    assert QEMU, "scripts/image-check installs qemu-user-static"
    python = "/opt/pixelflow/bin/python"
    native = deployment.containers["worker-transform"]
    native.stop()
    westmere = Container(
        image,
        "worker-westmere",
        ["/tmp/qemu-x86_64-static", "-cpu", "Westmere", *worker_argv(python, "westmere@%h", 1)],
        deployment.env,
        logs / "worker-westmere.log",
        entrypoint=[],
        copy_in=[QEMU],
    ).start()
    try:
        wait_until(lambda: " ready." in westmere.output() or not westmere.alive(), 300, "the emulated worker")
        assert westmere.alive(), westmere.output()
        assert "using /opt/pixelflow/pillow-sse4" in westmere.output()
        job = push_job(deployment, timeout=600)
        assert job["status"] == "succeeded", job
    finally:
        westmere.stop()
        deployment.containers["worker-transform"] = native.__class__(
            image,
            "worker-transform",
            ["worker-transform"],
            role_port(deployment.env, "worker-transform"),
            logs / "worker-transform.log",
        ).start()
    old = ["/tmp/qemu-x86_64-static", "-cpu", "qemu64", *worker_argv(python, "qemu64@%h", 1)]
    code, output = run(image, "worker-qemu64", old, deployment.env, logs, timeout=300, entrypoint=[], copy_in=[QEMU])
    assert code == 78, output
    assert "not starting: no Pillow build" in output and "SSE4.1" in output, output
    assert " ready." not in output
