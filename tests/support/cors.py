"""A CORS front for the local S3 server (nanio answers no CORS): what a browser needs to PUT to a presigned URL.

``python -m tests.support.cors UPSTREAM ORIGIN PORT``: make run and make demo
put one before the local S3 server for the dashboard (scripts/lib.sh).

Every request is passed through as it came, Host header included (the
presigned signature covers the host the client called, this one); answers
get Access-Control-Allow-Origin for the one origin allowed, and a preflight
(OPTIONS) is answered here. AWS S3, MinIO and SeaweedFS take a CORS rule
instead.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    server: CorsFront
    protocol_version = "HTTP/1.1"

    def _cors(self) -> None:
        if self.headers.get("Origin") == self.server.origin:
            self.send_header("Access-Control-Allow-Origin", self.server.origin)
            self.send_header("Vary", "Origin")

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self._cors()
        self.send_header("Access-Control-Allow-Methods", "GET, PUT, HEAD")
        self.send_header("Access-Control-Allow-Headers", self.headers.get("Access-Control-Request-Headers", ""))
        self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _pass(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        upstream = http.client.HTTPConnection(*self.server.upstream, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "origin", "referer")}
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
        finally:
            upstream.close()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("connection", "transfer-encoding", "content-length", "server", "date"):
                self.send_header(name, value)
        self._cors()
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _pass

    def log_message(self, *args: Any) -> None:
        pass


class CorsFront(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: tuple[str, int], origin: str, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.upstream = upstream
        self.origin = origin
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> CorsFront:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.shutdown()
        self.server_close()


if __name__ == "__main__":
    import sys

    upstream_host, _, upstream_port = sys.argv[1].partition(":")
    front = CorsFront((upstream_host, int(upstream_port)), sys.argv[2], int(sys.argv[3]))
    front.serve_forever()
