"""A multi-host test bed on one machine: network namespaces joined by veth links.

    host "worker-a" 10.N.0.11 ─veth─┐
    host "worker-b" 10.N.0.12 ─veth─┤ bridge in the hub 10.N.0.1: PostgreSQL, RabbitMQ, Redis, S3
    host "api"      10.N.0.13 ─veth─┘

Each role runs in a host of its own (``Host.spawn``) and reaches the
services over its link; a host vanishes when its link goes down on both
ends (no packet crosses, so no RST and no FIN either); ``Host.shape`` caps
a link's bandwidth with ``tc tbf``. The services are servers of the bed's
own, started inside the hub, so a vanished peer is met by the real
server's own heartbeats and keepalives. The test process has no address in
the bed: it reaches the hub and the hosts through forwarders whose sockets
are made inside the hub (``Bed.tunnel``), and a host reaches a server of
the test process (a webhook receiver) the same way (``Bed.expose``).

Every address is inside the bed's namespaces, and ``close`` deletes them
(a test's fixture closes its bed however the test ended). Names start with
``pfb`` and a random tag, so a bed never meets another run's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import netns
from tests.support.forwarder import Forwarder
from tests.support.stack import BrokerCluster, BrokerNode, PgCluster, Process, wait_until

PREFIX = "pfb"


def available() -> bool:
    return os.geteuid() == 0 and all(shutil.which(t) for t in ("ip", "nsenter", "tc"))


@dataclass
class Host:
    bed: Bed
    name: str
    ns: str
    address: str
    hub_end: str
    processes: list[Process] = field(default_factory=list)

    def spawn(self, process: Process) -> Process:
        """Start ``process`` inside this host (its argv is run through nsenter)."""
        process.argv = [*netns.enter_argv(self.ns), *process.argv]
        process.start()
        self.processes.append(process)
        return process

    def cut(self) -> None:
        """The host vanishes: its link goes down at both ends. Nothing crosses, not even a RST."""
        netns.ip("-n", self.ns, "link", "set", "eth0", "down")
        netns.ip("-n", self.bed.hub, "link", "set", self.hub_end, "down")

    def heal(self) -> None:
        netns.ip("-n", self.bed.hub, "link", "set", self.hub_end, "up")
        netns.ip("-n", self.ns, "link", "set", "eth0", "up")

    def partition(self, address: str, port: int) -> None:
        """Drop every packet between this host and address:port (a partition from one service only)."""
        for rule in self._rules(address, port):
            subprocess.run([*netns.enter_argv(self.ns), "iptables", "-I", *rule], check=True, capture_output=True)

    def unpartition(self, address: str, port: int) -> None:
        for rule in self._rules(address, port):
            subprocess.run([*netns.enter_argv(self.ns), "iptables", "-D", *rule], check=True, capture_output=True)

    @staticmethod
    def _rules(address: str, port: int) -> list[list[str]]:
        return [
            ["OUTPUT", "-p", "tcp", "-d", address, "--dport", str(port), "-j", "DROP"],
            ["INPUT", "-p", "tcp", "-s", address, "--sport", str(port), "-j", "DROP"],
        ]

    def shape(self, rate: str, burst: str = "32kb", latency: str = "400ms") -> None:
        """Cap the link at ``rate`` (e.g. "2mbit") both ways with a token bucket (tc tbf)."""
        for ns, dev in ((self.ns, "eth0"), (self.bed.hub, self.hub_end)):
            subprocess.run(
                [*netns.enter_argv(ns), "tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", rate,
                 "burst", burst, "latency", latency],
                check=True, capture_output=True, timeout=30,
            )  # fmt: skip

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


class Bed:
    def __init__(self, tag: str, subnet: int) -> None:
        self.tag = tag
        self.net = f"10.{subnet}.0"
        self.hub = f"{PREFIX}{tag}-hub"
        self.hub_ip = f"{self.net}.1"
        self.hosts: dict[str, Host] = {}
        self.forwarders: list[Forwarder] = []
        netns.ip("netns", "add", self.hub)
        netns.ip("-n", self.hub, "link", "set", "lo", "up")
        netns.ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        netns.ip("-n", self.hub, "addr", "add", f"{self.hub_ip}/24", "dev", "br0")
        netns.ip("-n", self.hub, "link", "set", "br0", "up")

    def host(self, name: str) -> Host:
        index = 11 + len(self.hosts)
        ns = f"{PREFIX}{self.tag}-{name}"
        hub_end = f"h{index}"
        netns.ip("netns", "add", ns)
        netns.ip("-n", ns, "link", "set", "lo", "up")
        # Made in the host's namespace, one end moved to the hub: nothing touches this process's own.
        netns.ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", hub_end, "netns", self.hub)
        netns.ip("-n", ns, "addr", "add", f"{self.net}.{index}/24", "dev", "eth0")
        netns.ip("-n", ns, "link", "set", "eth0", "up")
        netns.ip("-n", self.hub, "link", "set", hub_end, "master", "br0")
        netns.ip("-n", self.hub, "link", "set", hub_end, "up")
        host = Host(self, name, ns, f"{self.net}.{index}", hub_end)
        self.hosts[name] = host
        return host

    def tunnel(self, host: str, port: int, delay: float = 0.0) -> Forwarder:
        """127.0.0.1:<port of its own> in this process → host:port inside the bed."""
        forwarder = Forwarder((host, port), delay=delay, target_ns=self.hub).start()
        self.forwarders.append(forwarder)
        return forwarder

    def expose(self, target: tuple[str, int], delay: float = 0.0) -> Forwarder:
        """hub_ip:<port of its own> inside the bed → a server of this process (target, on its loopback)."""
        forwarder = Forwarder(target, (self.hub_ip, 0), delay=delay, listen_ns=self.hub).start()
        self.forwarders.append(forwarder)
        return forwarder

    def link(self, target: tuple[str, int], delay: float) -> Forwarder:
        """hub_ip:<port of its own> → target, both inside the bed: a path to a server that costs ``delay`` each way."""
        forwarder = Forwarder(target, (self.hub_ip, 0), delay=delay, listen_ns=self.hub, target_ns=self.hub).start()
        self.forwarders.append(forwarder)
        return forwarder

    def reachable(self, port: int, host: str | None = None) -> bool:
        return netns.reachable(self.hub, host or self.hub_ip, port)

    def close(self) -> None:
        for host in self.hosts.values():
            host.stop()
        for forwarder in self.forwarders:
            forwarder.stop()
        for ns in [*(h.ns for h in self.hosts.values()), self.hub]:
            netns.forget(ns)
            netns.ip("netns", "del", ns, check=False)


class BedBroker(BrokerNode):
    """A RabbitMQ node of the bed's own on a host of the bed (or the hub); epmd and the CLI run there too."""

    def __init__(self, bed: Bed, host: Host | None, base: Path, conf: str = "", cookie: str | None = None) -> None:
        super().__init__(base, conf, cookie)
        self.bed = bed
        self.ns = host.ns if host else bed.hub
        self.address = host.address if host else bed.hub_ip
        (base / "rabbitmq.conf").write_text(f"loopback_users = none\nlisteners.tcp.default = {self.port}\n{conf}")

    def url_for(self, user: str = "guest", password: str = "guest") -> str:
        return f"amqp://{user}:{password}@{self.address}:{self.port}//"

    def start(self) -> None:
        subprocess.run(
            [*netns.enter_argv(self.ns), self.SERVER, "-detached"], env=self.env, check=True, capture_output=True
        )
        wait_until(lambda: self.bed.reachable(self.port, self.address), 90, "the bed's broker", interval=0.25)

    def ctl(self, *args: str, tool: str = BrokerNode.CTL) -> str:
        result = subprocess.run(
            [*netns.enter_argv(self.ns), tool, "-n", self.name, *args],
            env=self.env, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        return result.stdout


class BedPostgres(PgCluster):
    """A PostgreSQL cluster of the bed's own on a host of the bed (or the hub), open to the bed's hosts."""

    def __init__(self, bed: Bed, host: Host | None, base: Path) -> None:
        super().__init__(base)
        self.bed = bed
        self.address = self.listen = host.address if host else bed.hub_ip
        self.prefix = [*netns.enter_argv(host.ns if host else bed.hub), *self.prefix]

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@{self.address}:{self.port}/{dbname}"

    def init(self) -> None:
        super().init()
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {self.bed.net}.0/24 trust\n")


def serve(bed: Bed, host: Host | None, process: Process, port: int, what: str, timeout: float = 30) -> Process:
    """Start a server on a host of the bed (or the hub) and wait until it listens there."""
    process.argv = [*netns.enter_argv(host.ns if host else bed.hub), *process.argv]
    process.start()
    address = host.address if host else bed.hub_ip
    wait_until(lambda: bed.reachable(port, address) or not process.alive(), timeout, what, interval=0.1)
    assert process.alive(), process.output()
    if host:
        host.processes.append(process)
    return process


class BedBrokerCluster(BrokerCluster):
    """A RabbitMQ cluster whose nodes are hosts of the bed, one node each, so a partition between nodes is a
    matter of packets (``partition``). Erlang distribution crosses the bed's links: long node names on the
    hosts' addresses, an epmd in each host. The test process reaches each node through a tunnel of its own
    (``url``), which a partition between nodes leaves open, as a client in another zone would be."""

    def __init__(self, bed: Bed, base: Path, size: int = 3, conf: str = "", net_ticktime: int = 60) -> None:
        cookie = uuid.uuid4().hex.upper()
        self.bed = bed
        self.nodes: list[BrokerNode] = []
        for n in range(size):
            host = bed.host(f"rmq{n}")
            node = BedBroker(bed, host, base / f"node-{n}", conf, cookie)
            node.name = f"rabbit@{host.address}"
            # The machine's rabbitmq-env.conf keeps epmd and distribution on 127.0.0.1: this node's own file
            # opens them on its host's address.
            (node.base / "rabbitmq-env.conf").write_text(f"ERL_EPMD_ADDRESS={host.address}\n")
            # How long a node's silence takes to be seen (Erlang's net ticks: between 3/4 and 5/4 of this).
            (node.base / "advanced.config").write_text(f"[{{kernel, [{{net_ticktime, {net_ticktime}}}]}}].\n")
            node.env.update(
                RABBITMQ_ADVANCED_CONFIG_FILE=str(node.base / "advanced.config"),
                RABBITMQ_NODENAME=node.name,
                RABBITMQ_USE_LONGNAME="true",
                RABBITMQ_CONF_ENV_FILE=str(node.base / "rabbitmq-env.conf"),
            )
            self.nodes.append(node)
        self.tunnels = [bed.tunnel(node.address, node.port) for node in self.nodes if isinstance(node, BedBroker)]

    @property
    def url(self) -> str:
        return ";".join(self.url_of(node) for node in self.nodes)

    def url_of(self, node: BrokerNode) -> str:
        """The node's URL as this process reaches it (its tunnel)."""
        return f"amqp://guest:guest@127.0.0.1:{self.tunnels[self.nodes.index(node)].port}//"

    def _iptables(self, node: BrokerNode, *args: str) -> None:
        assert isinstance(node, BedBroker)
        subprocess.run([*netns.enter_argv(node.ns), "iptables", *args], check=True, capture_output=True, timeout=30)

    def partition(self, node: BrokerNode) -> None:
        """Drop every packet between ``node`` and the other nodes (its clients still reach it)."""
        for other in self.nodes:
            if other is not node:
                assert isinstance(other, BedBroker)
                self._iptables(node, "-I", "INPUT", "-s", other.address, "-j", "DROP")
                self._iptables(node, "-I", "OUTPUT", "-d", other.address, "-j", "DROP")

    def heal(self, node: BrokerNode) -> None:
        self._iptables(node, "-F")

    def stop(self) -> None:
        """Every node killed, with its epmd: the cluster is thrown away with its bed (a node still partitioned
        would make ``rabbitmqctl stop`` wait on its peers)."""
        for node in self.nodes:
            assert isinstance(node, BedBroker)
            with contextlib.suppress(ProcessLookupError):
                os.kill(node.beam_pid(), signal.SIGKILL)
            subprocess.run([*netns.enter_argv(node.ns), "epmd", "-kill"], capture_output=True, timeout=30)
