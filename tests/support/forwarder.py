"""A TCP forwarder for tests: a link whose delay can be set and which can go silent.

This kernel has no netem, so latency is made here: each chunk read from one
side is written to the other ``delay`` seconds later, pipelined (a chunk
waits its own delay, not the sum of those before it), in both directions, so
a round trip costs twice ``delay``. It counts the round trips it carries
(``turns``) and runs an asyncio loop in a thread of its own. (A host that
vanishes is a link taken down, tests/support/netbed.py: a forwarder's own
kernel would still acknowledge what it is sent.)

Either side may be in a network namespace (``listen_ns``, ``target_ns``):
the sockets are made inside it (tests/support/netns.py), so the test
process reaches a host of the bed, or a host of the bed reaches a server
of the test process, with no address outside the bed's namespaces.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Coroutine
from typing import Any

from tests.support import netns


class Forwarder:
    def __init__(
        self,
        target: tuple[str, int],
        listen: tuple[str, int] = ("127.0.0.1", 0),
        delay: float = 0.0,
        listen_ns: str | None = None,
        target_ns: str | None = None,
    ):
        self.target = target
        self.listen = listen
        self.delay = delay
        self.listen_ns = listen_ns
        self.target_ns = target_ns
        self.port = 0
        # Turns: runs of bytes from the client side that follow an answer (or open the connection). A
        # request-response protocol makes one per round trip; pipelined requests share one.
        self.turns = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="forwarder")
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(30)

    def start(self) -> Forwarder:
        if not self._thread.is_alive():
            self._thread.start()
        self._server = self._call(self._serve())
        return self

    async def _serve(self) -> asyncio.Server:
        sock = netns.make_socket(self.listen_ns)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.listen[0], self.port or self.listen[1]))
        server = await asyncio.start_server(self._handle, sock=sock)
        self.port = server.sockets[0].getsockname()[1]
        return server

    @staticmethod
    async def _close_server(server: asyncio.Server) -> None:
        server.close()
        await server.wait_closed()

    def cut(self) -> None:
        """The link goes: its listener closes (a connect is refused) and every connection through it is dropped,
        until ``mend``."""
        if self._server is not None:
            self._call(self._close_server(self._server))
            self._server = None

        async def drop() -> None:
            for writer in list(self._writers):
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()

        self._call(drop())

    def mend(self) -> None:
        """The link is back, on the same port."""
        if self._server is None:
            self._server = self._call(self._serve())

    def stop(self) -> None:
        """Close the listener and every connection, and end the thread."""
        if not self._thread.is_alive():
            return
        self.cut()

        async def cancel() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self._call(cancel())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            sock = netns.make_socket(self.target_ns)
            sock.setblocking(False)
            try:
                await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, self.target), 10)
            except (OSError, TimeoutError):
                sock.close()
                raise OSError(f"cannot reach {self.target}") from None
            up_reader, up_writer = await asyncio.open_connection(sock=sock)
        except OSError:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return
        self._writers |= {writer, up_writer}
        last = ["down"]  # which side spoke last on this connection
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, "up", last),
                self._pipe(up_reader, writer, "down", last),
                return_exceptions=True,
            )
        except asyncio.CancelledError:
            pass  # stop(): a handler that ends cancelled makes asyncio log an error for its stream
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.close()
                with contextlib.suppress(OSError):
                    await w.wait_closed()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, side: str, last: list[str]
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    break
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                writer.write(data)
                await writer.drain()
            with contextlib.suppress(OSError):
                writer.write_eof()

        delivering = asyncio.create_task(deliver())
        try:
            while True:
                data = await reader.read(65536)
                if data and last[0] != side:
                    last[0] = side
                    if side == "up":
                        self.turns += 1
                queue.put_nowait((time.monotonic() + self.delay, data))
                if not data:
                    break
            await delivering
        except (OSError, asyncio.CancelledError):
            delivering.cancel()
            writer.close()
