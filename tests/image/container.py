"""Run the built image the way a container runtime does, with no Docker engine.

Each container is a buildah working container of the image, mounted, and
entered with ``unshare`` + ``chroot``: its own mount and PID namespaces, the
image's user (uid and gid 10001), entrypoint, command, environment and
working directory, a read-only root, a tmpfs on ``/tmp`` and on
``/dev/shm``, a minimal ``/dev``, and the host's network (the services run
on this machine's loopback). The role's process is PID 1, as under
``docker run``. ``exec`` runs a command inside a running container the way
``docker exec`` does (``nsenter``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEVICES = ("null", "zero", "full", "random", "urandom", "tty")

# Runs as root in the new namespaces: make the root, then become the image's user in it.
SETUP = r"""
set -e
root=$1; uid=$2; gid=$3; workdir=$4; shift 4
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount -t tmpfs -o mode=755,size=1m tmpfs "$root/dev"
for d in {devices}; do touch "$root/dev/$d"; mount --bind "/dev/$d" "$root/dev/$d"; done
mkdir -p "$root/dev/shm"; mount -t tmpfs -o mode=1777,size=64m tmpfs "$root/dev/shm"
mount -t tmpfs -o mode=1777,size=256m tmpfs "$root/tmp"
for f in $PIXELFLOW_CONTAINER_COPY; do cp "$f" "$root/tmp/"; done
mount -o remount,bind,ro "$root"
exec chroot --userspec="$uid:$gid" --groups="$gid" "$root" /usr/bin/env -i -C "$workdir" "$@"
""".replace("{devices}", " ".join(DEVICES))


def buildah(*args: str) -> str:
    return subprocess.run(["buildah", *args], capture_output=True, text=True, check=True).stdout.strip()


@dataclass
class Image:
    ref: str
    config: dict[str, Any] = field(init=False)
    healthcheck: list[str] = field(init=False)
    arch: str = field(init=False)

    def __post_init__(self) -> None:
        inspected = json.loads(buildah("inspect", "--type", "image", self.ref))
        self.config = inspected["OCIv1"]["config"]
        self.arch = inspected["OCIv1"]["architecture"]
        health = (inspected.get("Docker") or {}).get("config", {}).get("Healthcheck") or {}
        self.healthcheck = health.get("Test") or []

    @property
    def env(self) -> dict[str, str]:
        return dict(item.split("=", 1) for item in self.config.get("Env", []))

    @property
    def user(self) -> tuple[str, str]:
        uid, _, gid = self.config.get("User", "0").partition(":")
        return uid, gid or uid


class Container:
    def __init__(
        self,
        image: Image,
        name: str,
        command: list[str],
        env: dict[str, str],
        log_path: Path,
        entrypoint: list[str] | None = None,
        copy_in: list[str] | None = None,
    ) -> None:
        self.image = image
        self.name = name
        self.entrypoint = (image.config.get("Entrypoint") or []) if entrypoint is None else entrypoint
        self.command = command or image.config.get("Cmd") or []
        self.env = {**image.env, **env}
        self.log_path = log_path
        self.copy_in = copy_in or []
        self.process: subprocess.Popen[bytes] | None = None
        self.working: str | None = None

    def argv(self) -> list[str]:
        assert self.working is not None
        root = buildah("mount", self.working)
        uid, gid = self.image.user
        workdir = self.image.config.get("WorkingDir") or "/"
        env = [f"{k}={v}" for k, v in self.env.items()]
        return [
            "unshare",
            "--mount",
            "--pid",
            "--fork",
            "--kill-child",
            "sh",
            "-c",
            SETUP,
            self.name,
            root,
            uid,
            gid,
            workdir,
            *env,
            *self.entrypoint,
            *self.command,
        ]

    def start(self) -> Container:
        self.working = buildah("from", "--pull-never", self.image.ref)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={"PATH": os.environ["PATH"], "PIXELFLOW_CONTAINER_COPY": " ".join(self.copy_in)},
            )
        return self

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        finally:
            if self.process.poll() is not None:
                self.remove()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pid1(self) -> int:
        """The host PID of the container's PID 1 (the role's process)."""
        assert self.process is not None
        for _ in range(100):
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            try:
                pids = children.read_text().split()
            except FileNotFoundError:
                pids = []
            if pids:
                return int(pids[0])
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}: no process started")

    def exec(self, argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run argv inside the running container, as its user, with its environment (like ``docker exec``)."""
        uid, gid = self.image.user
        env = [f"{k}={v}" for k, v in self.env.items()]
        return subprocess.run(
            [
                "nsenter",
                "-t",
                str(self.pid1()),
                "-m",
                "-p",
                "-r",
                "-w",
                "-S",
                uid,
                "-G",
                gid,
                "--",
                "env",
                "-i",
                *env,
                *argv,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError, RuntimeError):
                os.kill(self.pid1(), sig)
            try:
                assert self.process is not None
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.remove()

    def remove(self) -> None:
        if self.working:
            subprocess.run(["buildah", "rm", self.working], capture_output=True, check=False)
            self.working = None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def run(
    image: Image, name: str, command: list[str], env: dict[str, str], log_dir: Path, timeout: float = 300, **kwargs: Any
) -> tuple[int, str]:
    """Run a one-off container to its end (``docker run --rm``): its exit status and output."""
    container = Container(image, name, command, env, log_dir / f"{name}.log", **kwargs).start()
    code = container.wait(timeout)
    return code, container.output()


def available() -> bool:
    return all(shutil.which(tool) for tool in ("buildah", "unshare", "nsenter", "chroot"))
