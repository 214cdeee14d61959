"""A threading JSON server on the standard library: the sandbox's HTTP layer,
also used by :class:`iota_publisher.testing.LoopbackServices`.

Made for a server people leave running on a developer's machine: request
bodies are capped, and :meth:`JsonServer.stop` closes open keep-alive
connections and waits for the request threads, so nothing outlives the server.

Web pages open in the developer's browser must not reach it:

* the ``Host`` header must name the address and port it listens on
  (``127.0.0.1:PORT``, ``localhost:PORT``, ``[::1]:PORT`` for a loopback
  address), else 421: a DNS-rebinding page sends its own host name;
* a request carrying an ``Origin`` other than the one configured
  (``allowed_origin``, none by default) is refused with 403, and CORS
  headers are sent for that one origin only, never ``*``.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..protocol.iri import API_VERSION_HEADER

__all__ = ["JsonServer", "Request", "Route"]

log = logging.getLogger(__name__)

_DRAIN_LIMIT = 64 * 1024 * 1024  # an oversized body up to this is read and dropped
_CORS = {
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": f"Content-Type, {API_VERSION_HEADER}",
}
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_LOOPBACK_ADDRESSES = ("127.0.0.1", "localhost", "::1")
_WILDCARD_ADDRESSES = ("", "0.0.0.0", "::")  # reached from this machine by loopback names too


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

        def _cors(self, *, preflight: bool = False) -> None:
            server: JsonServer = self.server  # type: ignore[assignment]
            origin = self.headers.get("Origin")
            if server.allowed_origin is None or origin != server.allowed_origin:
                return
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Vary", "Origin")
            if preflight:
                for name, value in _CORS.items():
                    self.send_header(name, value)

        def _refusal(self) -> tuple[int, str] | None:
            """Why a request from elsewhere than this machine's own clients is refused."""
            server: JsonServer = self.server  # type: ignore[assignment]
            host = (self.headers.get("Host") or "").strip().lower()
            if host not in server.allowed_hosts:
                return 421, "Misdirected request: the Host header does not name this server"
            origin = self.headers.get("Origin")
            if origin is not None and origin != server.allowed_origin:
                return 403, "Cross-origin requests are not allowed"
            return None

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self._cors()
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
            refused = self._refusal()
            if refused is not None:
                log.info("%s %s refused: %s", method, parts.path, refused[1])
                self._send(refused[0], {"error": refused[1]})
                return
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
            refused = self._refusal()
            self.send_response(204 if refused is None else refused[0])
            if refused is None:
                self._cors(preflight=True)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


class JsonServer(ThreadingHTTPServer):
    """Serve ``route`` on ``(host, port)`` (port 0: any free one) in a background thread.

    ``allowed_hosts`` are the ``Host`` headers accepted (``name:port``,
    lower case); by default the listening address with its port, and the
    three loopback names when it is a loopback or wildcard address (other
    names for a wildcard address must be given here). ``allowed_origin``
    is the one web origin (``http://localhost:3000``) whose pages may call
    the server, with CORS headers for it; none by default.
    """

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
        allowed_hosts: Iterable[str] | None = None,
        allowed_origin: str | None = None,
    ) -> None:
        self._connections: set[socket.socket] = set()
        self._busy: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self.stopping = False
        self._name = name
        self._thread: threading.Thread | None = None
        self.allowed_origin = allowed_origin
        super().__init__((host, port), _handler(route, max_body))
        if allowed_hosts is None:
            allowed_hosts = _hosts_for(host, self.port)
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)

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


def _hosts_for(host: str, port: int) -> set[str]:
    """The ``Host`` headers that name ``host:port``."""
    names = {f"[{host}]" if ":" in host else host} - {"", "[::]", "0.0.0.0"}
    if host.lower() in _LOOPBACK_ADDRESSES + _WILDCARD_ADDRESSES:
        names.update(_LOOPBACK_NAMES)
    hosts = {f"{name}:{port}" for name in names}
    if port == 80:
        hosts.update(names)
    return hosts
