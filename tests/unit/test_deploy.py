"""compose.yaml and the Containerfile, checked statically (no Docker engine here)."""

import json
import os
import re
import subprocess
from pathlib import Path

import compose
import pytest
import yaml

from config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = Path(compose.__file__).parent / "docker-compose"


def compose_config() -> dict:  # type: ignore[type-arg]
    result = subprocess.run(
        [str(COMPOSE), "-f", str(ROOT / "compose.yaml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_compose_validates_and_runs_every_part_of_the_service() -> None:
    services = compose_config()["services"]
    assert {"rabbitmq", "postgres", "redis", "s3", "migrate", "api", "relay", "worker-io", "worker-transform"} <= set(
        services
    )
    assert "management" in services["rabbitmq"]["image"]
    # MinIO's images left Docker Hub (2026-09): storage is a maintained S3 server whose images exist.
    assert services["s3"]["image"].startswith("chrislusf/seaweedfs:")
    assert not any("minio/" in s.get("image", "") for s in services.values())


def test_compose_pins_every_image_to_a_release() -> None:
    for name, service in compose_config()["services"].items():
        image = service["image"]
        if image == "pixelflow:latest":  # built here
            continue
        _, _, tag = image.rpartition(":")
        assert tag and tag != "latest" and re.search(r"\d+\.\d+", tag), f"{name}: {image} is not pinned to a release"


def test_compose_publishes_ports_on_loopback_only() -> None:
    for name, service in compose_config()["services"].items():
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", f"{name} publishes {port} beyond this machine"


def test_compose_restarts_every_long_running_service_and_checks_health_over_tcp() -> None:
    services = compose_config()["services"]
    for name, service in services.items():
        if name != "migrate":
            assert service.get("restart") == "unless-stopped", name
    # The node name follows the hostname: fixed, so a recreated container keeps its data.
    assert services["rabbitmq"]["hostname"] == "rabbitmq"
    assert "check_port_connectivity" in services["rabbitmq"]["healthcheck"]["test"]
    # pg_isready without -h asks the Unix socket, where the image's init-time server already answers.
    postgres = services["postgres"]["healthcheck"]["test"]
    assert postgres[postgres.index("-h") + 1] == "127.0.0.1"
    assert services["redis"]["healthcheck"]["test"][-3:] == ["-h", "127.0.0.1", "ping"]
    for infra in ("rabbitmq", "postgres", "redis", "s3"):
        assert services[infra]["healthcheck"]["test"], infra
    # The storage makes the bucket the processes use, with their credentials.
    env = services["api"]["environment"]
    s3 = services["s3"]["environment"]
    assert (s3["AWS_ACCESS_KEY_ID"], s3["AWS_SECRET_ACCESS_KEY"], s3["S3_BUCKET"]) == (
        env["PIXELFLOW_S3_ACCESS_KEY"],
        env["PIXELFLOW_S3_SECRET_KEY"],
        env["PIXELFLOW_S3_BUCKET"],
    )
    assert env["PIXELFLOW_S3_ENDPOINT"] == "s3:8333"
    assert services["s3"]["ports"][0]["published"] == env["PIXELFLOW_S3_PUBLIC_ENDPOINT"].split(":")[1]


def test_api_worker_and_migrations_are_one_image_with_different_commands() -> None:
    services = compose_config()["services"]
    names = ("api", "worker-io", "worker-transform", "relay", "migrate")
    roles = {name: services[name] for name in names}
    assert {s["image"] for s in roles.values()} == {"pixelflow:latest"}
    assert {s["build"]["dockerfile"] for s in roles.values()} == {"Containerfile"}
    assert [roles[n]["command"][0] for n in names] == list(names)
    assert roles["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for worker in ("worker-io", "worker-transform"):
        env = roles[worker]["environment"]
        assert env["PIXELFLOW_S3_ENDPOINT"] == "s3:8333" and "rabbitmq" in env["PIXELFLOW_BROKER_URL"]


def test_a_broken_compose_file_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  api:\n    depends_on: [nowhere]\n    image: x\n")
    result = subprocess.run([str(COMPOSE), "-f", str(broken), "config", "--quiet"], capture_output=True, check=False)
    assert result.returncode != 0


def test_the_image_runs_as_a_non_root_user_with_a_role_as_its_command() -> None:
    text = (ROOT / "Containerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1] == "10001:10001"
    assert "groupadd --gid 10001 pixelflow" in text and "--gid 10001" in text.split("useradd", 1)[1]
    assert 'ENTRYPOINT ["pixelflow-entrypoint"]' in text
    assert "HEALTHCHECK" in text and '"pixelflow-healthcheck"' in text
    entrypoint = (ROOT / "scripts/container-entrypoint").read_text()
    for role in ("api)", "worker)", "worker-io)", "worker-transform)", "relay)", "exporter)", "flower)", "migrate)"):
        assert role in entrypoint
    # The project is installed (its entry points are the operator's CLI), not copied as a tree.
    assert "pip install --no-deps /src" in text


def test_the_build_context_holds_only_what_the_image_needs() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") :][:1] == ["*"]
    copied = set(re.findall(r"^COPY (?!--from)(\S+)", (ROOT / "Containerfile").read_text(), re.MULTILINE))
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert {c.rstrip("/") for c in copied} <= allowed
    assert "**/__pycache__" in ignore and "**/*.pyc" in ignore


def test_the_image_builds_pillow_simd_before_anything_that_could_pull_stock_pillow() -> None:
    text = (ROOT / "Containerfile").read_text()
    assert text.index("--no-binary pillow-simd") < text.index("--require-hashes -r /src/requirements.txt")
    # The plugins that name stock Pillow come after, without their dependencies (requirements-plugins.in).
    assert text.index("--require-hashes -r /src/requirements.txt") < text.index(
        "--require-hashes --no-deps -r /src/requirements-plugins.txt"
    )
    assert "requirements-plugins-dev" not in text  # pillow-heif (GPLv2 x265) is for the tests only
    # And before those, the locked pip: the base image's own may be too old for the lock (scripts/bootstrap too).
    assert text.index("--require-hashes --no-deps -r /src/requirements-pip.txt") < text.index("--no-binary pillow-simd")
    assert "! pip show pillow" in text
    # Two builds on amd64: AVX2, and SSE4.1 for CPUs without it (tasks/imaging/cpu.py picks one).
    assert 'CC="cc -mavx2"' in text and "--target /opt/pixelflow/pillow-sse4" in text


def test_the_container_scripts_are_valid_shell() -> None:
    for script in ("container-entrypoint", "container-healthcheck"):
        subprocess.run(["sh", "-n", str(ROOT / "scripts" / script)], check=True)


def test_the_brokers_definitions_are_the_topology_the_processes_declare() -> None:
    from config import Settings
    from tasks.topology import definitions

    services = compose_config()["services"]
    env = services["worker-io"]["environment"]
    committed = json.loads((ROOT / "config/rabbitmq/definitions.json").read_text())
    settings = Settings(broker_url=env["PIXELFLOW_BROKER_URL"], queue=env.get("PIXELFLOW_QUEUE", "pixelflow"))
    assert committed == definitions(settings)
    # The broker loads them at boot, and its user is the one the processes connect as.
    mounts = {v["target"]: v["source"] for v in services["rabbitmq"]["volumes"] if v["type"] == "bind"}
    assert Path(mounts["/etc/rabbitmq/definitions.json"]) == ROOT / "config/rabbitmq/definitions.json"
    conf = Path(mounts["/etc/rabbitmq/conf.d/20-pixelflow.conf"]).read_text()
    assert "load_definitions = /etc/rabbitmq/definitions.json" in conf
    assert committed["users"][0]["name"] == "pixelflow" and "pixelflow:pixelflow@" in env["PIXELFLOW_BROKER_URL"]
    assert env["PIXELFLOW_REDIS_URL"] == "redis://redis:6379/0"


def test_the_visibility_services_scrape_what_the_processes_serve() -> None:
    services = compose_config()["services"]
    assert [services[n]["command"][0] for n in ("exporter", "flower")] == ["exporter", "flower"]
    assert services["flower"]["environment"]["FLOWER_BASIC_AUTH"]  # Flower controls workers: never open
    defaults = Settings()
    prometheus = yaml.safe_load((ROOT / "config/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    assert jobs["pixelflow-api"]["static_configs"][0]["targets"] == ["api:8080"]
    assert jobs["pixelflow-worker"]["dns_sd_configs"][0] == {
        "names": ["worker-io", "worker-transform"],
        "type": "A",
        "port": 9808,
    }
    assert jobs["pixelflow-exporter"]["static_configs"][0]["targets"] == [f"exporter:{defaults.exporter_port}"]
    assert defaults.worker_metrics_port == 9808
    # Every scraped host is a compose service; the rule file is mounted where prometheus.yml says.
    hosts = {t.split(":")[0] for job in jobs.values() for c in job.get("static_configs", []) for t in c["targets"]}
    assert hosts <= set(services)
    mounts = {v["target"]: v["source"] for v in services["prometheus"]["volumes"] if v["type"] == "bind"}
    [rules] = prometheus["rule_files"]
    assert mounts[rules].endswith("charts/pixelflow/files/prometheus/alerts.yml")
    # Grafana: the provisioned data source is the one the dashboard's panels use, and the dashboard is mounted
    # where the provider reads.
    source = yaml.safe_load((ROOT / "config/grafana/provisioning/datasources/prometheus.yaml").read_text())
    provider = yaml.safe_load((ROOT / "config/grafana/provisioning/dashboards/pixelflow.yaml").read_text())
    dashboard = json.loads((ROOT / "charts/pixelflow/files/grafana/pixelflow.json").read_text())
    uids = {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]}
    assert uids == {source["datasources"][0]["uid"]}
    grafana = {v["target"]: v["source"] for v in services["grafana"]["volumes"] if v["type"] == "bind"}
    assert grafana[provider["providers"][0]["options"]["path"]].endswith("charts/pixelflow/files/grafana")


@pytest.mark.parametrize("role", ["worker-io", "worker-transform"])
def test_each_worker_role_consumes_the_queue_its_steps_are_routed_to(role: str, tmp_path: Path) -> None:
    # The entrypoint names the queues in shell; Celery routes by tasks/topology.py. A stand-in `celery`
    # on PATH prints what the role would run.
    from tasks.topology import transform_queue

    (tmp_path / "celery").write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    (tmp_path / "celery").chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "PIXELFLOW_QUEUE": "images-x"}
    result = subprocess.run(
        [str(ROOT / "scripts/container-entrypoint"), role], capture_output=True, text=True, env=env, check=True
    )
    argv = result.stdout.split("\n")
    queue = argv[argv.index("-Q") + 1]
    settings = Settings(queue="images-x")
    if role == "worker-transform":
        assert queue == transform_queue(settings)
        assert f"--concurrency={3 * len(os.sched_getaffinity(0))}" in argv  # three children per core
    else:
        assert queue == settings.queue and "--pool=threads" in argv and "--concurrency=32" in argv
