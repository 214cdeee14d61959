"""A threading JSON server on the standard library: the sandbox's HTTP layer,
also used by :class:`iota_publisher.testing.LoopbackServices`.

Made for a server people leave running: request bodies are capped, ``OPTIONS`` answers
CORS pre-flights (browser dApps talk to IRI nodes directly), and
:meth:`JsonServer.stop` closes open keep-alive connections and waits for
the request threads, so nothing outlives the server.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["JsonServer", "Request", "Route"]

log = logging.getLogger(__name__)

_DRAIN_LIMIT = 64 * 1024 * 1024  # an oversized body up to this is read and dropped
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, X-IOTA-API-Version",
}


@dataclass(frozen=True)
class Request:
    """One request as a route sees it. ``body`` is ``None`` when it exceeded the cap."""

    method: str
    path: str
    headers: Any  # email.message.Message: case-insensitive .get()
    body: bytes | None
    query: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body as JSON (``ValueError`` if it is not); an empty body is ``None``."""
        if not self.body:
            return None
        return json.loads(self.body)


Route = Callable[[Request], tuple[int, Any]]


def _handler(route: Route, max_body: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = -1  # headers and body leave in one write (no Nagle/delayed-ACK stall)
        timeout = 120  # an idle keep-alive connection is dropped after this many seconds

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), format % args)

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in _CORS.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if length < 0:
                    raise ValueError(length)
            except ValueError:
                self.close_connection = True
                self._send(400, {"error": "Invalid Content-Length"})
                return
            body: bytes | None
            if length > max_body:
                body = None
                if length <= _DRAIN_LIMIT:  # read and drop it, so the client hears the answer
                    while length > 0:
                        chunk = self.rfile.read(min(length, 65536))
                        if not chunk:
                            break
                        length -= len(chunk)
                else:  # too much to read: answer and hang up
                    self.close_connection = True
            else:
                body = self.rfile.read(length) if length else b""
            server: JsonServer = self.server  # type: ignore[assignment]
            server.busy(self.request, True)
            try:
                try:
                    status, answer = route(Request(method, parts.path, self.headers, body, query))
                except Exception as exc:  # answer, log, keep serving
                    log.exception("%s %s failed", method, parts.path)
                    status, answer = 500, {"error": f"internal error: {type(exc).__name__}: {exc}"}
                if server.stopping:
                    self.close_connection = True
                self._send(status, answer)
            finally:
                server.busy(self.request, False)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

        def do_OPTIONS(self) -> None:
            self.send_response(204)
            for name, value in _CORS.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


class JsonServer(ThreadingHTTPServer):
    """Serve ``route`` on ``(host, port)`` (port 0: any free one) in a background thread."""

    daemon_threads = False
    block_on_close = True  # server_close() waits for the request threads

    def __init__(
        self,
        host: str,
        port: int,
        route: Route,
        *,
        max_body: int = 1_000_000,
        name: str = "sandbox",
    ) -> None:
        self._connections: set[socket.socket] = set()
        self._busy: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self.stopping = False
        self._name = name
        self._thread: threading.Thread | None = None
        super().__init__((host, port), _handler(route, max_body))

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> None:
        # a short poll keeps stop() quick (shutdown() waits for the loop's next poll)
        self._thread = threading.Thread(
            target=self.serve_forever, args=(0.05,), name=self._name, daemon=True
        )
        self._thread.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def busy(self, sock: socket.socket, busy: bool) -> None:
        with self._connections_lock:
            (self._busy.add if busy else self._busy.discard)(sock)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that went away (or a connection closed by stop()) is not worth a traceback
        log.debug("connection from %s failed: %r", client_address, sys.exc_info()[1])

    def stop(self) -> None:
        """Stop accepting, end idle connections, let requests in flight finish, close."""
        self.stopping = True
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        with self._connections_lock:
            # idle keep-alive connections: their threads see EOF and end; busy ones answer
            # their request with "Connection: close" and end
            for sock in self._connections - self._busy:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.server_close()
