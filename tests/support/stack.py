"""PixelFlow's processes, started for real: the S3 server, the API, the relay and workers.

Used by the integration tests and the benchmark; `make run` and `make demo`
do the same from bash (scripts/lib.sh).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    predicate: Callable[[], T | Literal[False] | None], timeout: float, what: str, interval: float = 0.1
) -> T:
    """The predicate's first true value, asked every ``interval`` seconds; TimeoutError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def listening(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def cli(*argv: str) -> str:
    """Run one of the project's commands (``celery -A tasks …``, ``flask --app app …``) and return its output."""
    result = subprocess.run(
        [sys.executable, "-m", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


class Process:
    """One background process with its output in a log file."""

    def __init__(
        self, name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None, root: Path = ROOT
    ) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.root = root  # the checkout it runs from (the benchmark runs an earlier one beside this one)
        self.env = {**os.environ, "PYTHONPATH": str(root), **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, cwd=self.root, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        if not self.alive():
            return
        assert self.process is not None
        os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class S3Server(Process):
    """nanio: a real S3 API over HTTP that checks SigV4 signatures and URL expiry."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, data_dir: Path, log_path: Path) -> None:
        self.host, port = endpoint.rsplit(":", 1)
        self.port = int(port)
        super().__init__(
            "s3",
            [
                str(BIN / "nanio"),
                "serve",
                "--data-dir",
                str(data_dir),
                "--host",
                self.host,
                "--port",
                port,
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            log_path,
            {"NANIO_ACCESS_KEY": access_key, "NANIO_SECRET_KEY": secret_key},
        )

    def start(self) -> None:
        super().start()
        wait_until(lambda: listening(self.host, self.port) or not self.alive(), 20, "the S3 server to listen")
        assert self.alive(), self.output()


def worker_argv(python: str, node: str, concurrency: int) -> list[str]:
    """``celery -A tasks worker`` as the tests start one: INFO log (its " ready." line), a node name of its own."""
    return [
        python,
        "-m",
        "celery",
        "-A",
        "tasks",
        "worker",
        "--loglevel=INFO",
        f"--concurrency={concurrency}",
        "-n",
        node,
    ]


class Worker(Process):
    """``celery -A tasks worker`` with the settings in its environment (metrics not served unless env names a port)."""

    def __init__(
        self,
        name: str,
        log_path: Path,
        concurrency: int = 2,
        env: dict[str, str] | None = None,
        extra: list[str] | None = None,
        root: Path = ROOT,
    ) -> None:
        super().__init__(
            name,
            [
                *worker_argv(str(BIN / "python"), f"{name}@%h", concurrency),
                "--without-mingle",
                "--without-gossip",
                *(extra or []),
            ],
            log_path,
            {"PIXELFLOW_WORKER_METRICS_PORT": "0", **(env or {})},
            root=root,
        )

    @classmethod
    def role(cls, role: str, name: str, log_path: Path, env: dict[str, str] | None = None) -> Worker:
        """A worker started as the image starts one (scripts/container-entrypoint ROLE: worker-io, worker-transform)."""
        worker = cls(name, log_path, env=env)
        worker.argv = [str(ROOT / "scripts/container-entrypoint"), role, "--without-mingle", "--without-gossip"]
        worker.argv += ["-n", f"{name}@%h"]
        worker.env["PATH"] = f"{BIN}{os.pathsep}{worker.env.get('PATH', '')}"
        return worker

    def start(self) -> None:
        start = self.log_path.stat().st_size if self.log_path.exists() else 0
        super().start()

        def ready() -> bool:
            return " ready." in self.output()[start:] or not self.alive()

        wait_until(ready, 60, f"worker {self.name} to be ready")
        assert self.alive(), self.output()

    def wait_exit(self, timeout: float) -> int:
        """Until the worker has exited; if it has not within ``timeout``, fail with its stacks and log."""
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGUSR1)  # Celery's cry handler logs every thread's stack
            time.sleep(2)
            raise AssertionError(f"{self.name} still running after {timeout} s:\n{self.output()[-20000:]}") from None

    def wait_for_task(self, task: str, timeout: float = 30) -> None:
        """Until the worker has received a task of this name (e.g. "transform")."""
        wait_until(lambda: f"pixelflow.{task}[" in self.output(), timeout, f"a {task} to start on {self.name}")

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []


class Exporter(Process):
    """The exporter (``python -m tasks.exporter``) on a port of its own."""

    def __init__(self, log_path: Path, port: int, env: dict[str, str] | None = None) -> None:
        self.port = port
        super().__init__(
            "exporter",
            [str(BIN / "python"), "-m", "tasks.exporter"],
            log_path,
            {**(env or {}), "PIXELFLOW_EXPORTER_PORT": str(port), "PIXELFLOW_EXPORTER_HOST": "127.0.0.1"},
        )

    def start(self) -> None:
        super().start()
        wait_until(lambda: listening("127.0.0.1", self.port) or not self.alive(), 30, "the exporter to listen")
        assert self.alive(), self.output()


class Relay(Process):
    """The outbox relay (``python -m tasks.relay``)."""

    def __init__(self, log_path: Path, env: dict[str, str] | None = None) -> None:
        # Metrics not served unless env names a port: relays of several tests run at once.
        super().__init__(
            "relay",
            [str(BIN / "python"), "-m", "tasks.relay"],
            log_path,
            {"PIXELFLOW_RELAY_METRICS_PORT": "0", **(env or {})},
        )

    def start(self) -> None:
        start = self.log_path.stat().st_size if self.log_path.exists() else 0
        super().start()
        wait_until(lambda: "relay started" in self.output()[start:] or not self.alive(), 30, "the relay")
        assert self.alive(), self.output()


class Api(Process):
    """The API under gunicorn."""

    def __init__(
        self,
        bind: str,
        log_path: Path,
        env: dict[str, str] | None = None,
        workers: int = 2,
        threads: int = 4,
        root: Path = ROOT,
    ) -> None:
        self.bind = bind
        super().__init__(
            "api",
            [
                str(BIN / "gunicorn"),
                "-c",
                str(root / "config/gunicorn.py"),
                "--bind",
                bind,
                f"--workers={workers}",
                f"--threads={threads}",
                "--access-logfile",
                "/dev/null",
                "app:create_app()",
            ],
            log_path,
            env,
            root,
        )

    def start(self) -> None:
        super().start()

        def ready() -> Any:
            if not self.alive():
                return True
            try:
                return urllib.request.urlopen(f"http://{self.bind}/readyz", timeout=2).status == 200
            except OSError:
                return False

        wait_until(ready, 60, "the API to be ready", interval=0.2)
        assert self.alive(), self.output()


class BrokerNode:
    """A RabbitMQ node of the tests' own: its own name, ports and data directory."""

    SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
    CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
    QUEUES = "/usr/lib/rabbitmq/bin/rabbitmq-queues"

    def __init__(self, base: Path, conf: str = "", cookie: str | None = None) -> None:
        self.base = base
        self.port = free_port()
        self.name = f"pixelflow-{self.port}@localhost"
        base.mkdir(parents=True, exist_ok=True)
        if cookie is not None:  # nodes of one cluster share the Erlang cookie (read from $HOME, owner-only)
            (base / ".erlang.cookie").write_text(cookie)
            (base / ".erlang.cookie").chmod(0o400)
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq.conf").write_text(
            f"loopback_users = none\nlisteners.tcp.default = 127.0.0.1:{self.port}\n{conf}"
        )
        self.env = {
            **os.environ,
            "HOME": str(base),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        }

    def url_for(self, user: str = "guest", password: str = "guest") -> str:
        return f"amqp://{user}:{password}@127.0.0.1:{self.port}//"

    @property
    def url(self) -> str:
        return self.url_for()

    def start(self) -> None:
        subprocess.run([self.SERVER, "-detached"], env=self.env, check=True, capture_output=True)
        wait_until(lambda: listening("127.0.0.1", self.port), 90, "the broker node to listen", interval=0.25)

    def ctl(self, *args: str, tool: str = CTL) -> str:
        result = subprocess.run(
            [tool, "-n", self.name, *args], env=self.env, capture_output=True, text=True, timeout=60, check=True
        )
        return result.stdout

    def members(self, queue: str) -> dict[str, str]:
        """A quorum queue's members, as this node reports them: node name → Raft state (leader, follower …)."""
        status = json.loads(self.ctl("quorum_status", queue, "--formatter", "json", tool=self.QUEUES))
        return {member["Node Name"]: member["Raft State"] for member in status}

    def beam_pid(self) -> int:
        """The node's Erlang VM: the beam.smp whose environment names this node."""
        wanted = f"RABBITMQ_NODENAME={self.name}".encode()
        for proc in Path("/proc").iterdir():
            try:
                if (
                    proc.name.isdigit()
                    and (proc / "comm").read_text().strip() == "beam.smp"
                    and wanted in (proc / "environ").read_bytes().split(b"\0")
                ):
                    return int(proc.name)
            except OSError:
                continue
        raise ProcessLookupError(f"no beam.smp for {self.name}")

    def stop(self) -> None:
        try:
            self.ctl("stop")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            with contextlib.suppress(ValueError, IndexError, ProcessLookupError):
                os.kill(self.beam_pid(), signal.SIGKILL)


class BrokerCluster:
    """A RabbitMQ cluster of the tests' own: nodes of their own (BrokerNode), joined to the first with
    ``rabbitmqctl join_cluster``. Its URL names every node, as a deployment's does (kombu fails over along it)."""

    def __init__(self, base: Path, size: int = 3, conf: str = "") -> None:
        cookie = uuid.uuid4().hex.upper()
        self.nodes = [BrokerNode(base / f"node-{i}", conf, cookie) for i in range(size)]

    @property
    def url(self) -> str:
        return ";".join(node.url for node in self.nodes)

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        first = self.nodes[0]
        for node in self.nodes[1:]:
            node.ctl("stop_app")
            node.ctl("join_cluster", first.name)
            node.ctl("start_app")
        wait_until(lambda: self.running() == {n.name for n in self.nodes}, 60, "every node to run in the cluster")

    def running(self, via: BrokerNode | None = None) -> set[str]:
        """The nodes the cluster says are running, as ``via`` (else the first node that answers) reports them."""
        for node in [via] if via else self.nodes:
            try:
                status = json.loads(node.ctl("cluster_status", "--formatter", "json"))
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, ValueError):
                continue
            return set(status.get("running_nodes", []))
        return set()

    def node(self, name: str) -> BrokerNode:
        return next(n for n in self.nodes if n.name == name)

    def leader(self, queue: str, via: BrokerNode | None = None) -> BrokerNode:
        """The node that leads a quorum queue, as ``via`` (else the first running node) reports it."""
        for node in [via] if via else self.nodes:
            try:
                members = node.members(queue)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, ValueError):
                continue
            with contextlib.suppress(StopIteration):
                return self.node(next(name for name, state in members.items() if state == "leader"))
        raise LookupError(f"no leader for {queue}")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


class PgCluster:
    """A PostgreSQL cluster of the tests' own: its own data directory, port and socket.

    initdb refuses to run as root, so when the tests run as root the cluster
    belongs to the ``postgres`` user (runuser), as the machine's own does.
    """

    def __init__(self, base: Path) -> None:
        self.base = base
        self.data = base / "data"
        self.port = free_port()
        # The server's own tools (Debian keeps them out of PATH), newest version first.
        bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))[-1]
        self.pg_ctl, self.initdb = str(bindir / "pg_ctl"), str(bindir / "initdb")
        self.basebackup = str(bindir / "pg_basebackup")
        self.listen = "127.0.0.1"
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *argv: str) -> None:
        subprocess.run([*self.prefix, *argv], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        if self.prefix:
            shutil.chown(self.base, "postgres", "postgres")
        self._run(self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")

    def start(self, *settings: str) -> None:
        """``settings``: more server settings, ``name=value`` each."""
        options = " ".join(
            [
                f"-p {self.port} -k {self.base} -c listen_addresses={self.listen} -c fsync=off",
                *(f"-c {s}" for s in settings),
            ]
        )
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.base / "log"), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop")

    def replicate(self, primary: PgCluster) -> None:
        """A streaming standby of ``primary`` (pg_basebackup -R: the standby.signal and primary_conninfo made)."""
        self.base.mkdir(parents=True, exist_ok=True)
        if self.prefix:
            shutil.chown(self.base, "postgres", "postgres")
        self._run(
            *(self.basebackup, "-D", str(self.data), "-h", "127.0.0.1", "-p", str(primary.port)),
            *("-U", "postgres", "-R", "-X", "stream", "--no-sync"),
        )

    def promote(self) -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-w", "promote")
