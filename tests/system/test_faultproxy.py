"""The fault proxy itself does what the system tests rely on."""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .faultproxy import FaultProxy


@pytest.fixture
def upstream():
    seen: list[bytes] = []

    class Echo(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(body)
            data = json.dumps({"host": self.headers["Host"], "got": json.loads(body)}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def _post(url: str, body: dict, timeout: float = 5) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("POST", "/", body=json.dumps(body))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_passes_requests_on_with_the_upstream_host(upstream):
    url, _ = upstream
    with FaultProxy(url) as proxy:
        status, data = _post(proxy.url, {"command": "getNodeInfo"})
        assert status == 200
        assert json.loads(data) == {
            "host": url.removeprefix("http://"),
            "got": {"command": "getNodeInfo"},
        }
        assert proxy.log == [("/", "getNodeInfo", "pass")]


def test_faults_match_a_command_and_run_out(upstream):
    url, seen = upstream
    with FaultProxy(url) as proxy:
        proxy.fault("status", command="storeTransactions", times=2, code=500, body="busy")
        assert _post(proxy.url, {"command": "getNodeInfo"})[0] == 200
        assert _post(proxy.url, {"command": "storeTransactions"}) == (500, b"busy")
        assert _post(proxy.url, {"command": "storeTransactions"}) == (500, b"busy")
        assert _post(proxy.url, {"command": "storeTransactions"})[0] == 200
        assert proxy.count("storeTransactions") == 3
        assert len(seen) == 2


def test_lost_forwards_then_drops_the_answer(upstream):
    url, seen = upstream
    with FaultProxy(url) as proxy:
        proxy.fault("lost", times=1)
        with pytest.raises((http.client.HTTPException, OSError)):
            _post(proxy.url, {"n": 1})
        assert seen == [b'{"n": 1}']  # the upstream got it


def test_hang_holds_until_cleared(upstream):
    url, _ = upstream
    with FaultProxy(url) as proxy:
        proxy.fault("hang")
        with pytest.raises(OSError):  # a socket timeout
            _post(proxy.url, {"n": 1}, timeout=0.5)
        proxy.clear()
        assert _post(proxy.url, {"n": 2})[0] == 200


def test_redirect_and_garbage(upstream):
    url, seen = upstream
    with FaultProxy(url) as proxy:
        proxy.fault("redirect", times=1, code=307, location="http://127.0.0.2:1/newData")
        proxy.fault("garbage", times=1)
        assert _post(proxy.url, {})[0] == 200  # garbage is newest, so first
        assert _post(proxy.url, {})[0] == 307
        assert seen == []
