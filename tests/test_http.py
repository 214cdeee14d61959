"""The HTTP boundary (iota_publisher._http) as both clients meet it: time, size,
redirects, transient statuses and secrets, against servers on 127.0.0.1 that
misbehave on purpose (and ``responses`` where the wire does not matter)."""

from __future__ import annotations

import gc
import gzip
import json
import logging
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
import requests
import responses

from iota_publisher._http import (
    DEFAULT_TIMEOUT,
    TRANSIENT_STATUSES,
    Answer,
    DeadlineAdapter,
    RetryPolicy,
    Timeouts,
    clip,
    is_secret_name,
    is_transient_status,
    new_session,
    redact_headers,
    redact_url,
    request_json,
    retry,
    scrub,
    secrets_in,
    send,
)
from iota_publisher.errors import (
    HttpError,
    HttpUnavailableError,
    InvalidMarketplaceResponseError,
    InvalidNodeResponseError,
    MarketplaceError,
    MarketplaceUnavailableError,
    NodeUnavailableError,
    TransientError,
)
from iota_publisher.marketplace import MarketplaceClient
from iota_publisher.node import NodeClient

SK = "sk-TOPSECRET-4711"
SIDEKEY = "SIDEKEY" + "Q" * 74
ROOT = "ROOT" + "9" * 77
HASH = "H" * 81
TX = "9" * 2673


# -- a server that says exactly what a test tells it to ----------------------------------


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    """Raw HTTP/1.1 on 127.0.0.1: ``behave(request, sock)`` writes the answer bytes."""

    behave: Callable[[Request, socket.socket], None]
    seen: list[Request] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self.listener.accept()
            except OSError:
                continue
            self.connections += 1
            t = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            t.start()
            self.threads.append(t)

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(10)
        buffer = b""
        with sock:
            try:
                while not self.stopping.is_set():
                    while b"\r\n\r\n" not in buffer:
                        chunk = sock.recv(65536)
                        if not chunk:
                            return
                        buffer += chunk
                    head, _, buffer = buffer.partition(b"\r\n\r\n")
                    lines = head.decode("latin-1").split("\r\n")
                    method, path, _ = lines[0].split(" ", 2)
                    headers = {}
                    for line in lines[1:]:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                    length = int(headers.get("content-length", 0))
                    while len(buffer) < length:
                        buffer += sock.recv(65536)
                    body, buffer = buffer[:length], buffer[length:]
                    request = Request(method, path, headers, body)
                    self.seen.append(request)
                    self.behave(request, sock)
            except OSError:  # the client hung up: expected in most of these tests
                return

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.listener.close()
        for t in self.threads:
            t.join(5)


def head(status: int, headers: dict[str, str] | None = None, length: int | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} X", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def reply(status: int, obj: object, headers: dict[str, str] | None = None):
    def behave(request: Request, sock: socket.socket) -> None:
        data = json.dumps(obj).encode()
        sock.sendall(head(status, headers, len(data)) + data)

    return behave


def chunked(sock: socket.socket, data: bytes) -> None:
    sock.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")


NO_RETRY = RetryPolicy(attempts=1)


# -- time ----------------------------------------------------------------------------------


def trickle(request: Request, sock: socket.socket) -> None:
    """A valid answer, one byte every 0.2 s: no read ever waits long, the whole takes 20 s."""
    data = json.dumps({"appName": "x" * 90}).encode()
    sock.sendall(head(200, length=len(data)))
    for i in range(len(data)):
        sock.sendall(data[i : i + 1])
        time.sleep(0.2)


def test_a_trickling_node_cannot_stall_a_call_past_its_timeout():
    with Server(trickle) as server:
        with NodeClient(server.url, timeout=1.0, retry_policy=NO_RETRY) as node:
            started = time.monotonic()
            with pytest.raises(NodeUnavailableError) as info:
                node.get_node_info()
            elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert "within 1 s" in str(info.value) and info.value.status == 200


def test_a_trickling_marketplace_cannot_stall_a_call_past_its_timeout():
    with Server(trickle) as server:
        with MarketplaceClient(server.url, timeout=1.0, retry_policy=NO_RETRY) as market:
            started = time.monotonic()
            with pytest.raises(MarketplaceUnavailableError, match="timed out after 1 s"):
                market.devices()
            assert time.monotonic() - started < 2.0


def test_timeouts_are_connect_read_and_total():
    assert Timeouts.of(5) == Timeouts(5.0, 5.0, 5.0)
    for bad in (0, -1, "5", True, None):
        with pytest.raises(ValueError):
            Timeouts.of(bad)
    assert DEFAULT_TIMEOUT == 30.0


def test_connections_are_kept_alive_between_calls():
    with Server(reply(200, {"appName": "IRI"})) as server:
        with NodeClient(server.url) as node:
            for _ in range(3):
                assert node.get_node_info() == {"appName": "IRI"}
    assert len(server.seen) == 3 and server.connections == 1


def drip(data: bytes, pace: float = 0.5):
    """``data`` one byte every ``pace`` s (until the client hangs up)."""

    def behave(request: Request, sock: socket.socket) -> None:
        for i in range(len(data)):
            sock.sendall(data[i : i + 1])
            time.sleep(pace)

    return behave


# a status line and headers that never end, and headers followed by a body that takes 20 s
HEADER_TRICKLE = drip(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + b"X" * 40)
BODY_TRICKLE = trickle


@pytest.mark.parametrize("behave", [HEADER_TRICKLE, BODY_TRICKLE], ids=["headers", "body"])
def test_a_trickle_anywhere_in_the_answer_ends_at_the_total_deadline(behave):
    with Server(behave) as server:
        started = time.monotonic()
        with pytest.raises(HttpUnavailableError) as info:
            request_json("GET", server.url, timeout=1)
        elapsed = time.monotonic() - started
        assert info.value.kind == "timeout" and "within 1 s" in str(info.value)
        assert elapsed < 1.5
        with NodeClient(server.url, timeout=1.0, retry_policy=NO_RETRY) as node:
            started = time.monotonic()
            with pytest.raises(NodeUnavailableError, match="within 1 s"):
                node.get_node_info()
            assert time.monotonic() - started < 1.5
        with MarketplaceClient(server.url, timeout=1.0, retry_policy=NO_RETRY) as market:
            started = time.monotonic()
            with pytest.raises(MarketplaceUnavailableError, match="timed out after 1 s"):
                market.devices()
            assert time.monotonic() - started < 1.5


def test_a_trickled_tls_handshake_ends_at_the_total_deadline():
    # a TLS record header announcing 16 kB, then its bytes one at a time: the handshake waits
    # (CPython bounds a whole handshake by the socket's timeout; the watchdog backs that up)
    with Server(lambda request, sock: None) as server:
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                try:
                    drip(b"\x16\x03\x03\x40\x00" + b"\x00" * 40)(Request("", "", {}, b""), conn)
                except OSError:
                    pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            with NodeClient(f"https://127.0.0.1:{port}", timeout=1.0, retry_policy=NO_RETRY) as n:
                started = time.monotonic()
                with pytest.raises(NodeUnavailableError, match="within 1 s|timed out"):
                    n.get_node_info()
                assert time.monotonic() - started < 1.5
        finally:
            thread.join(5)
            listener.close()
        assert server.seen == []


def test_a_silent_server_fails_by_the_read_timeout():
    def silent(request: Request, sock: socket.socket) -> None:
        time.sleep(1.2)

    failures = []

    def fail(failure):
        failures.append(failure)
        return RuntimeError(failure.reason)

    with Server(silent) as server, new_session() as session:
        started = time.monotonic()
        with pytest.raises(RuntimeError):
            send(session, "GET", server.url, fail=fail, timeouts=Timeouts(1.0, 0.5, 3.0))
        elapsed = time.monotonic() - started
    assert failures[0].kind == "timeout" and failures[0].transient
    assert failures[0].name == "ReadTimeout" and 0.4 < elapsed < 1.5


def test_a_session_of_the_caller_is_bounded_with_the_deadline_adapter():
    failures = []

    def fail(failure):
        failures.append(failure)
        return RuntimeError(failure.reason)

    with Server(HEADER_TRICKLE) as server, requests.Session() as session:
        session.mount("http://", DeadlineAdapter())
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="within 1 s"):
            send(session, "GET", server.url, fail=fail, timeouts=Timeouts.of(1))
        assert time.monotonic() - started < 1.5
    assert failures[0].kind == "timeout" and failures[0].transient


def test_connections_are_reused_after_a_timed_out_call_and_never_broken():
    calls = []

    def first_stalls(request: Request, sock: socket.socket) -> None:
        calls.append(request)
        if len(calls) == 1:
            HEADER_TRICKLE(request, sock)
        else:
            reply(200, {"appName": "IRI"})(request, sock)

    session = new_session()
    with Server(reply(200, {"appName": "IRI"})) as good, Server(HEADER_TRICKLE) as stalling:
        with Server(first_stalls) as flaky:
            with NodeClient(good.url, session=session, timeout=1.0, retry_policy=NO_RETRY) as a:
                assert a.get_node_info() == {"appName": "IRI"}
                with pytest.raises(HttpUnavailableError):
                    request_json("GET", stalling.url, session=session, timeout=1)
                assert a.get_node_info() == {"appName": "IRI"}
                assert a.get_node_info() == {"appName": "IRI"}
            with NodeClient(flaky.url, session=session, timeout=1.0, retry_policy=NO_RETRY) as b:
                with pytest.raises(NodeUnavailableError, match="within 1 s"):
                    b.get_node_info()
                time.sleep(1.2)  # past the deadline of the calls to come, if one lingered
                for _ in range(2):
                    assert b.get_node_info() == {"appName": "IRI"}
            session.close()
            del a, b, session  # urllib3 2 closes pooled connections only as they are collected
            gc.collect()  # (a failed exchange's traceback holds its pool in a cycle)
    assert len(good.seen) == 3 and good.connections == 1
    # the timed-out connection is dropped, not pooled: one new connection serves the rest
    assert len(flaky.seen) == 3 and flaky.connections == 2
    watchdogs = [t for t in threading.enumerate() if t.name == "iota-publisher-http-deadline"]
    assert len(watchdogs) == 1


# -- redirects -----------------------------------------------------------------------------


def test_a_redirect_to_another_host_never_gets_the_secret_key(caplog):
    with Server(reply(200, {"success": True})) as thief:
        target = f"http://127.0.0.1:{thief.port}/collect?key={SK}"
        with Server(reply(307, {}, {"Location": target})) as server:
            caplog.set_level(logging.DEBUG)
            with MarketplaceClient(server.url, sleep=lambda s: None) as market:
                with pytest.raises(InvalidMarketplaceResponseError) as info:
                    market.new_data("dev", SK, root=ROOT, sidekey=SIDEKEY, time=1)
    assert thief.seen == [] and len(server.seen) == 1
    assert SK in server.seen[0].body.decode()  # sent where it was meant to go, only there
    message = str(info.value)
    assert "307" in message and f"127.0.0.1:{thief.port}" in message
    assert "collect" not in message and SK not in message and SIDEKEY not in message
    assert not isinstance(info.value, TransientError)
    assert SK not in caplog.text


def test_a_302_on_store_transactions_is_an_error_not_a_success():
    moved = reply(302, {}, {"Location": "https://elsewhere.example/"})
    with Server(moved) as server:
        with NodeClient(server.url, sleep=lambda s: None) as node:
            with pytest.raises(InvalidNodeResponseError) as info:
                node.store_transactions([TX])
    assert len(server.seen) == 1  # refused at once, not retried, not followed
    assert info.value.status is None or info.value.status == 302
    assert "302" in str(info.value) and "https://elsewhere.example" in str(info.value)


def test_redirect_message_shows_no_userinfo():
    location = "https://user:hunter22@evil.example:8443/x?token=abc"
    with Server(reply(301, {}, {"Location": location})) as server:
        with NodeClient(server.url, retry_policy=NO_RETRY) as node:
            with pytest.raises(InvalidNodeResponseError) as info:
                node.get_node_info()
    assert "https://evil.example:8443" in str(info.value)
    assert "hunter22" not in str(info.value) and "abc" not in str(info.value)


# -- size ----------------------------------------------------------------------------------


def flood(total: int):
    """A chunked answer of ``total`` bytes, made as it is sent (never held whole)."""

    def behave(request: Request, sock: socket.socket) -> None:
        sock.sendall(head(200, {"Transfer-Encoding": "chunked"}))
        block = b'{"trytes": ["' + b"9" * 65_000
        sent = 0
        while sent < total:
            chunked(sock, block)
            sent += len(block)
            block = b"9" * 65_536
        sock.sendall(b"0\r\n\r\n")

    return behave


@contextmanager
def peak_memory() -> Iterator[list[int]]:
    peak: list[int] = []
    tracemalloc.start()
    try:
        yield peak
    finally:
        peak.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


def test_a_100_mb_answer_fails_fast_with_bounded_memory():
    with Server(flood(100_000_000)) as server:
        with NodeClient(server.url, retry_policy=NO_RETRY) as node, peak_memory() as peak:
            started = time.monotonic()
            with pytest.raises(InvalidNodeResponseError, match="larger than") as info:
                node.get_trytes([HASH])  # a sensible limit for one transaction: about 1 MB
            elapsed = time.monotonic() - started
    assert peak[0] < 16_000_000 and elapsed < 10
    assert not isinstance(info.value, TransientError)


def test_a_declared_length_over_the_limit_fails_before_reading():
    def huge(request: Request, sock: socket.socket) -> None:
        sock.sendall(head(200, length=100_000_000) + b"{")

    with Server(huge) as server:
        with MarketplaceClient(server.url, retry_policy=NO_RETRY) as market:
            with pytest.raises(InvalidMarketplaceResponseError, match="larger than 1000000"):
                market.user("someone")


def gzip_bomb(megabytes: int) -> bytes:
    """Gzip of ``megabytes`` MB of zeros, compressed a megabyte at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1_000_000)
    parts = [packer.compress(b'{"hashes": ["')]
    parts += [packer.compress(zeros) for _ in range(megabytes)]
    return b"".join(parts) + packer.flush()


def test_a_gzip_bomb_fails_fast_with_bounded_memory():
    bomb = gzip_bomb(60)  # 60 MB of zeros behind a 10 MB limit
    assert len(bomb) < 1_000_000

    def behave(request: Request, sock: socket.socket) -> None:
        sock.sendall(head(200, {"Content-Encoding": "gzip"}, len(bomb)) + bomb)

    with Server(behave) as server:
        with NodeClient(server.url, retry_policy=NO_RETRY) as node, peak_memory() as peak:
            started = time.monotonic()
            with pytest.raises(InvalidNodeResponseError, match="larger than"):
                node.check_consistency([HASH])  # a 10 MB limit
            elapsed = time.monotonic() - started
    assert peak[0] < 40_000_000 and elapsed < 10


def test_gzip_and_deflate_answers_are_inflated():
    answers = {
        "gzip": gzip.compress(b'{"state": true}'),
        "deflate": zlib.compress(b'{"state": true}'),
    }
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    answers["raw-deflate"] = raw.compress(b'{"state": true}') + raw.flush()
    for name, data in answers.items():
        encoding = "deflate" if name == "raw-deflate" else name

        def behave(request: Request, sock: socket.socket, data=data, encoding=encoding) -> None:
            sock.sendall(head(200, {"Content-Encoding": encoding}, len(data)) + data)

        with Server(behave) as server, NodeClient(server.url) as node:
            assert node.check_consistency([HASH]) == (True, None), name
        assert server.seen[0].headers["accept-encoding"] == "gzip, deflate"


def test_an_unknown_or_broken_encoding_is_an_invalid_answer():
    for encoding, data in (("br", b"\x0b\x02"), ("gzip", b"not gzip at all")):

        def behave(request: Request, sock: socket.socket, data=data, encoding=encoding) -> None:
            sock.sendall(head(200, {"Content-Encoding": encoding}, len(data)) + data)

        with Server(behave) as server, NodeClient(server.url, retry_policy=NO_RETRY) as node:
            with pytest.raises(InvalidNodeResponseError):
                node.get_node_info()


def test_an_answer_cut_short_is_transient():
    def cut(request: Request, sock: socket.socket) -> None:
        sock.sendall(head(200, length=1000) + b'{"appName": ')
        sock.shutdown(socket.SHUT_RDWR)

    with Server(cut) as server, NodeClient(server.url, retry_policy=NO_RETRY) as node:
        with pytest.raises(NodeUnavailableError, match="connection failed"):
            node.get_node_info()


# -- transient statuses --------------------------------------------------------------------


def test_one_list_of_transient_statuses():
    assert {408, 429, 500, 502, 503, 504, 599} <= TRANSIENT_STATUSES
    assert all(is_transient_status(s) for s in range(500, 600))
    assert not any(is_transient_status(s) for s in (200, 301, 400, 401, 403, 404, 409, 422))


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


def test_408_is_transient_for_the_node(rsps):
    rsps.post("http://node.test/", status=408, json={"error": "Request Timeout"})
    rsps.post("http://node.test/", json={"appName": "IRI"})
    waits: list[float] = []
    with NodeClient("http://node.test/", sleep=waits.append, rng=lambda: 0.0) as node:
        assert node.get_node_info() == {"appName": "IRI"}
    assert waits == [0.5]


def test_408_is_transient_for_the_marketplace(rsps):
    rsps.post("https://mp.test/newData", status=408, body="Request Timeout")
    rsps.post("https://mp.test/newData", json={"success": True})
    waits: list[float] = []
    with MarketplaceClient("https://mp.test", sleep=waits.append, rng=lambda: 0.0) as market:
        market.new_data("dev", SK, root=ROOT, sidekey=SIDEKEY, time=1)
    assert waits == [0.5]


def test_408_unavailable_when_retries_run_out(rsps):
    rsps.post("https://mp.test/newData", status=408, body="Request Timeout")
    with MarketplaceClient("https://mp.test", retry_policy=NO_RETRY) as market:
        with pytest.raises(MarketplaceUnavailableError) as info:
            market.new_data("dev", SK, root=ROOT, sidekey=SIDEKEY, time=1)
    assert info.value.status == 408


# -- secrets -------------------------------------------------------------------------------


def echo(status: int):
    def callback(request: requests.PreparedRequest):
        return status, {}, f"failed to handle {request.body!s}"

    return callback


@pytest.mark.parametrize("status", [500, 403])
def test_an_echoed_request_holds_no_secret_in_errors_or_logs(rsps, caplog, status):
    rsps.add_callback(responses.POST, "https://mp.test/newData", callback=echo(status))
    policy = RetryPolicy(attempts=3, base_delay=0.0)
    caplog.set_level(logging.DEBUG)
    with MarketplaceClient("https://mp.test", retry_policy=policy, sleep=lambda s: None) as m:
        with pytest.raises(MarketplaceError) as info:
            m.new_data("dev", SK, root=ROOT, sidekey=SIDEKEY, time=1)
    shown = str(info.value) + str(info.value.text) + repr(info.value) + caplog.text
    assert "failed to handle" in shown and "***" in shown
    assert SK not in shown and SIDEKEY not in shown
    if status == 500:
        assert len(rsps.calls) == 3
        assert sum(r.levelno == logging.WARNING for r in caplog.records) == 2


def test_api_keys_in_urls_and_json_bodies_are_masked(rsps):
    key = "aaaaaaa-0b7a-4e44-7777-ef661777b9d2"
    rsps.add_callback(responses.GET, "https://mp.test/devices", callback=echo(400))
    rsps.add_callback(responses.POST, "https://mp.test/newDevice", callback=echo(400))
    with MarketplaceClient("https://mp.test") as market:
        with pytest.raises(MarketplaceError) as first:
            market.devices("user", key)
        device = {
            "sensorId": "dev",
            "type": "t",
            "owner": "o",
            "location": {"city": "c", "country": "d"},
            "lat": 1,
            "lon": 2,
            "dataTypes": [{"id": "t", "name": "T", "unit": "C"}],
        }
        with pytest.raises(MarketplaceError) as second:
            market.new_device(key, device)
    for info in (first, second):
        assert key not in str(info.value) + str(info.value.text)


def test_redact_url():
    assert (
        redact_url("https://me:pw@node.example:443/api?token=t0k&x=1&apiKey=K#frag")
        == "https://me:***@node.example:443/api?token=***&x=1&apiKey=***"
    )
    assert redact_url("http://node.example/") == "http://node.example/"


def test_secrets_in_finds_keys_wherever_a_request_carries_them():
    found = secrets_in(
        url="https://u:pass1234@h/p?apiKey=K1234&userId=me",
        params={"secretKey": "S1234", "deviceId": "d"},
        body={"id": "dev", "sk": "SK1234", "packet": {"sidekey": "SIDE", "root": "ROOT"}},
        headers={"Authorization": "Bearer T0KEN", "Accept": "x"},
    )
    assert set(found) == {"pass1234", "K1234", "S1234", "SK1234", "SIDE", "Bearer T0KEN", "T0KEN"}


def test_scrub_masks_quoted_and_escaped_forms():
    secret = 'a b/c"d'
    text = f"raw {secret} url a%20b%2Fc%22d plus a+b%2Fc%22d json {json.dumps(secret)}"
    assert secret not in scrub(text, [secret]) and "%2F" not in scrub(text, [secret])
    assert scrub("nothing here", []) == "nothing here"


def test_redact_headers_and_secret_names():
    shown = redact_headers({"Authorization": "Bearer x", "X-Api-Key": "k", "Accept": "*/*"})
    assert shown == {"Authorization": "***", "X-Api-Key": "***", "Accept": "*/*"}
    assert all(map(is_secret_name, ["apiKey", "sk", "sidekey", "client_secret", "Cookie"]))
    assert not any(map(is_secret_name, ["deviceId", "userId", "trytes", "root", 3]))


def test_clip_is_the_one_clip():
    assert clip("a\n  b\tc") == "a b c"
    long = clip("x" * 5000)
    assert len(long) == 500 and long.endswith("...")


# -- request_json: what drivers will call --------------------------------------------------


def test_request_json_returns_the_answer():
    with Server(reply(200, {"temperature": 21.5})) as server:
        answer = request_json("GET", server.url + "/now?token=T0K", timeout=2)
    assert isinstance(answer, Answer) and answer.ok and answer.json() == {"temperature": 21.5}


def test_request_json_maps_failures():
    with Server(reply(503, {"error": "busy"})) as server:
        url = server.url + "/x?token=T0KEN"
        with pytest.raises(HttpUnavailableError) as info:
            request_json("GET", url, timeout=2)
        assert info.value.status == 503 and info.value.text == '{"error": "busy"}'
        assert "T0KEN" not in str(info.value) and "token=***" in str(info.value)
        assert request_json("GET", url, timeout=2, check=False).status == 503
    with Server(reply(404, {"error": "no"})) as server:
        with pytest.raises(HttpError) as info:
            request_json("POST", server.url, json={"a": 1}, timeout=2)
        assert not isinstance(info.value, TransientError) and info.value.kind == "status"
    with Server(reply(302, {}, {"Location": "http://x.example/"})) as server:
        with pytest.raises(HttpError) as info:
            request_json("GET", server.url, timeout=2, check=False)
        assert info.value.kind == "redirect"


def test_request_json_not_json_and_too_large():
    def text(request: Request, sock: socket.socket) -> None:
        sock.sendall(head(200, length=5) + b"hello")

    with Server(text) as server:
        with pytest.raises(HttpError, match="not JSON"):
            request_json("GET", server.url, timeout=2)
        with pytest.raises(HttpError, match="larger than 4 bytes") as info:
            request_json("GET", server.url, timeout=2, max_bytes=4)
        assert info.value.kind == "too_large"


def test_request_json_timeout_is_transient():
    with Server(trickle) as server:
        with pytest.raises(HttpUnavailableError) as info:
            request_json("GET", server.url, timeout=0.5)
    assert info.value.kind == "timeout"


def test_send_fail_gets_a_neutral_failure():
    failures = []

    def fail(failure):
        failures.append(failure)
        return RuntimeError(failure.reason)

    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with requests.Session() as session, pytest.raises(RuntimeError):
        send(session, "GET", f"http://127.0.0.1:{port}/", fail=fail, timeouts=Timeouts.of(2))
    assert failures[0].kind == "connection" and failures[0].transient


# -- retry waits end when asked ------------------------------------------------------------


def test_interrupt_ends_a_retry_wait(rsps):
    rsps.post("http://node.test/", status=503, json={"error": "busy"})
    policy = RetryPolicy(attempts=5, base_delay=30.0, max_delay=30.0, jitter=0.0)
    node = NodeClient("http://node.test/", retry_policy=policy)
    threading.Timer(0.2, node.interrupt).start()
    started = time.monotonic()
    with node, pytest.raises(NodeUnavailableError):
        node.get_node_info()
    assert time.monotonic() - started < 5 and len(rsps.calls) == 1


def test_retry_stops_when_its_event_is_set():
    stop = threading.Event()
    calls = []

    def call():
        calls.append(1)
        stop.set()
        raise NodeUnavailableError("down")

    with pytest.raises(NodeUnavailableError):
        retry(call, RetryPolicy(attempts=5), what="x", sleep=lambda s: None, stop=stop)
    assert len(calls) == 1
