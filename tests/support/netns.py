"""Network namespaces from Python: run a command in one, make a socket in one.

``ip netns`` names a namespace by a file under /run/netns. A process enters
one with ``nsenter --net=…``; a thread of this process enters one with
setns(2), and every socket it makes from then on lives there, whichever
thread uses it afterwards. That is how the test process reaches addresses
that exist only inside the namespaces it made, without an address of its
own on any link.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor

CLONE_NEWNET = 0x40000000
RUN_NETNS = "/run/netns"


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def enter_argv(ns: str) -> list[str]:
    """The prefix that runs a command inside ``ns``."""
    return ["nsenter", f"--net={RUN_NETNS}/{ns}", "--"]


def _enter(ns: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"{RUN_NETNS}/{ns}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns into {ns}: {os.strerror(errno)}")
    finally:
        os.close(fd)


_threads: dict[str, ThreadPoolExecutor] = {}


def _thread_in(ns: str) -> ThreadPoolExecutor:
    if ns not in _threads:
        _threads[ns] = ThreadPoolExecutor(1, thread_name_prefix=f"netns-{ns}", initializer=_enter, initargs=(ns,))
    return _threads[ns]


def make_socket(ns: str | None, family: int = socket.AF_INET) -> socket.socket:
    """A TCP socket in namespace ``ns`` (None: this process's own)."""
    if ns is None:
        return socket.socket(family, socket.SOCK_STREAM)
    return _thread_in(ns).submit(socket.socket, family, socket.SOCK_STREAM).result(10)


def reachable(ns: str | None, host: str, port: int, timeout: float = 0.5) -> bool:
    sock = make_socket(ns)
    sock.settimeout(timeout)
    try:
        sock.connect((host, port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def forget(ns: str) -> None:
    """End the thread that lives in ``ns`` (before the namespace is deleted)."""
    executor = _threads.pop(ns, None)
    if executor is not None:
        executor.shutdown(wait=True)
