"""A fault-injecting HTTP proxy on 127.0.0.1, for system tests of the real daemon.

It stands between ``iota-publish run`` and a sandbox service and, per request, passes
it on or misbehaves as the test asks::

    with FaultProxy(sandbox.node_url) as proxy:
        proxy.fault("drop", command="storeTransactions", times=3)
        proxy.fault("hang")             # every request, until proxy.clear()
        proxy.fault("lost", path="/newData", times=1)   # forwarded; the answer never comes

Faults: ``pass``, ``drop`` (close without answering), ``delay`` (``seconds``, then
forward), ``hang`` (accept, never answer until :meth:`clear` or :meth:`close`),
``status`` (answer ``code`` with ``body``; ``body=None`` echoes the request),
``garbage`` (200 with a body that is not JSON), ``lost`` (forward, then close
without answering), ``redirect`` (``code`` 307/302 to ``location``), ``trickle``
(forward, then send the answer one byte every ``seconds``). A rule matches an IRI
``command`` (from the JSON body), a ``path`` suffix, or everything; it applies
``times`` times (``None``: until cleared). Rules are tried newest first.

Every request is recorded in :attr:`log` as ``(path, command, fault)``.
"""

from __future__ import annotations

import http.client
import json
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ["FaultProxy"]

_KINDS = {"pass", "drop", "delay", "hang", "status", "garbage", "lost", "redirect", "trickle"}


@dataclass
class _Rule:
    kind: str
    command: str | None
    path: str | None
    times: int | None
    params: dict[str, Any]

    def matches(self, path: str, command: str | None) -> bool:
        if self.command is not None and command != self.command:
            return False
        return self.path is None or path.split("?", 1)[0].endswith(self.path)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that went away (killed, timed out) is what these tests do; say nothing
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class FaultProxy:
    """Forward HTTP requests to ``upstream`` (``http://host:port``), with faults."""

    def __init__(self, upstream: str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be http://host:port, not {upstream!r}")
        self._upstream = (parts.hostname, parts.port or 80)
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.log: list[tuple[str, str | None, str]] = []
        self._server = _Server((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        bound_host, bound_port = self._server.server_address[:2]
        self.url = f"http://{bound_host}:{bound_port}"

    # -- control -----------------------------------------------------------------

    def fault(
        self,
        kind: str,
        *,
        command: str | None = None,
        path: str | None = None,
        times: int | None = None,
        **params: Any,
    ) -> None:
        """Misbehave with ``kind`` for matching requests (see the module docstring)."""
        if kind not in _KINDS:
            raise ValueError(f"unknown fault {kind!r}")
        with self._lock:
            self._released.clear()
            self._rules.insert(0, _Rule(kind, command, path, times, params))

    def clear(self) -> None:
        """Forget every rule and release hung requests: everything passes again."""
        with self._lock:
            self._rules.clear()
        self._released.set()

    def count(self, command: str | None = None, path: str | None = None) -> int:
        """How many requests for ``command`` / ``path`` came in."""
        with self._lock:
            return sum(
                1
                for p, c, _ in self.log
                if (command is None or c == command) and (path is None or p.endswith(path))
            )

    def close(self) -> None:
        self.clear()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the proxy -----------------------------------------------------------------

    def _pick(self, path: str, command: str | None) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(path, command):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self._rules.remove(rule)
                    self.log.append((path, command, rule.kind))
                    return rule
            self.log.append((path, command, "pass"))
            return None

    def _forward(
        self, method: str, path: str, headers: Any, body: bytes
    ) -> tuple[int, list, bytes]:
        host, port = self._upstream
        conn = http.client.HTTPConnection(host, port, timeout=120)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
            sent["Host"] = f"{host}:{port}"
            conn.request(method, path, body=body or None, headers=sent)
            response = conn.getresponse()
            data = response.read()
            kept = [
                (k, v)
                for k, v in response.getheaders()
                if k.lower() not in ("connection", "transfer-encoding", "content-length")
            ]
            return response.status, kept, data
        finally:
            conn.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                command = None
                try:
                    parsed = json.loads(body) if body else None
                    if isinstance(parsed, dict) and isinstance(parsed.get("command"), str):
                        command = parsed["command"]
                except ValueError:
                    pass
                rule = proxy._pick(self.path, command)
                kind = rule.kind if rule else "pass"
                params = rule.params if rule else {}
                if kind == "drop":
                    self._abort()
                    return
                if kind == "hang":
                    proxy._released.wait(params.get("seconds", 3600))
                    self._abort()
                    return
                if kind == "delay":
                    time.sleep(params.get("seconds", 1.0))
                if kind == "status":
                    echo = params.get("body")
                    data = body if echo is None else echo.encode()
                    self._answer(params.get("code", 500), [], data)
                    return
                if kind == "garbage":
                    self._answer(200, [("Content-Type", "application/json")], b"<html>oops")
                    return
                if kind == "redirect":
                    location = params.get("location", "http://127.0.0.2:9/elsewhere")
                    self._answer(params.get("code", 307), [("Location", location)], b"")
                    return
                try:
                    status, headers, data = proxy._forward(
                        self.command, self.path, self.headers, body
                    )
                except OSError:
                    self._answer(502, [], b'{"error": "upstream unreachable"}')
                    return
                if kind == "lost":
                    self._abort()
                    return
                if kind == "trickle":
                    self._trickle(status, headers, data, params.get("seconds", 1.0))
                    return
                self._answer(status, headers, data)

            def _answer(self, status: int, headers: list, data: bytes) -> None:
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _trickle(self, status: int, headers: list, data: bytes, seconds: float) -> None:
                self._answer_head(status, headers, len(data))
                for i in range(len(data)):
                    if proxy._released.wait(seconds):
                        break
                    try:
                        self.wfile.write(data[i : i + 1])
                        self.wfile.flush()
                    except OSError:
                        break
                self.close_connection = True

            def _answer_head(self, status: int, headers: list, length: int) -> None:
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.flush()

            def _abort(self) -> None:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

            do_GET = do_POST = do_DELETE = do_PUT = _serve

        return Handler
