"""The IRI node client: requests, answers, error mapping, retries, and attach()."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import responses

from iota_publisher._http import RetryPolicy
from iota_publisher.errors import (
    ConfigError,
    InvalidInputError,
    InvalidNodeResponseError,
    InvalidTrytesError,
    NodeRejectedError,
    NodeUnavailableError,
    TransientError,
)
from iota_publisher.node import NodeClient, attach
from iota_publisher.pow import attach_to_tangle
from iota_publisher.trinary import Transaction, build_bundle, validate_bundle

URL = "http://node.test:14265"
TRUNK = "T" * 81
BRANCH = "B" * 81
HASH = "H" * 81
SHORT_BRANCH = {"branchTransaction": "B" * 80}
INT_BRANCH = {"branchTransaction": 1}
POLICY = RetryPolicy(attempts=4, base_delay=0.1, max_delay=0.3, jitter=0.5)


@cache
def bundle(message: str = "HELLO") -> tuple[str, ...]:
    return tuple(build_bundle("A" * 81, message, timestamp=1))


@cache
def attached(message: str = "HELLO", mwm: int = 1) -> tuple[str, ...]:
    return tuple(attach_to_tangle(TRUNK, BRANCH, mwm, list(bundle(message)), now=lambda: 1000))


@pytest.fixture
def mock(monkeypatch) -> Iterator[responses.RequestsMock]:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # so that ``verify`` stays True
        monkeypatch.delenv(name, raising=False)
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture
def delays() -> list[float]:
    return []


@pytest.fixture
def client(delays: list[float]) -> Iterator[NodeClient]:
    with NodeClient(URL, retry_policy=POLICY, sleep=delays.append, rng=lambda: 0.0) as c:
        yield c


def sent(mock: responses.RequestsMock, i: int = 0) -> dict:
    return json.loads(mock.calls[i].request.body)


def answer(mock: responses.RequestsMock, obj: object = None, status: int = 200, **kw) -> None:
    """Queue one answer: JSON ``obj`` (``{}`` by default), or ``body=`` text or an exception."""
    if "body" not in kw:
        kw["json"] = {} if obj is None else obj
    mock.add(responses.POST, URL, status=status, **kw)


# -- requests and answers ----------------------------------------------------


def test_headers_timeout_and_tls(mock, client):
    info = {"appName": "IRI", "appVersion": "1.8.6", "latestMilestoneIndex": 1}
    answer(mock, info)
    assert client.get_node_info() == info
    request = mock.calls[0].request
    assert request.headers["X-IOTA-API-Version"] == "1"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("iota-publisher/")
    assert sent(mock) == {"command": "getNodeInfo"}
    assert request.req_kwargs["timeout"] == (30.0, 30.0)
    assert request.req_kwargs["verify"] is True


def test_tls_verification_cannot_be_turned_off(mock):
    with requests.Session() as session:
        session.verify = False
        answer(mock)
        NodeClient(URL, session=session, timeout=2).call("getTips")
        assert mock.calls[0].request.req_kwargs["verify"] is True
        assert mock.calls[0].request.req_kwargs["timeout"] == (2.0, 2.0)
        session.verify = "/etc/ssl/my-ca.pem"  # a CA bundle is kept
        answer(mock)
        NodeClient(URL, session=session).call("getTips")
        assert mock.calls[1].request.req_kwargs["verify"] == "/etc/ssl/my-ca.pem"


def test_call_passes_parameters(mock, client):
    answer(mock, {"balances": ["0"], "duration": 1})
    assert client.call("getBalances", addresses=[HASH], threshold=100)["balances"] == ["0"]
    assert sent(mock) == {"command": "getBalances", "addresses": [HASH], "threshold": 100}


def test_get_transactions_to_approve(mock, client):
    answer(mock, {"trunkTransaction": TRUNK, "branchTransaction": BRANCH, "duration": 5})
    answer(mock, {"trunkTransaction": TRUNK, "branchTransaction": BRANCH})
    assert client.get_transactions_to_approve() == (TRUNK, BRANCH)
    assert client.get_transactions_to_approve(7, reference=HASH) == (TRUNK, BRANCH)
    assert sent(mock, 0) == {"command": "getTransactionsToApprove", "depth": 3}
    assert sent(mock, 1) == {"command": "getTransactionsToApprove", "depth": 7, "reference": HASH}


def test_attach_to_tangle_remote(mock, client):
    trytes = list(bundle("A" * 3000))
    result = list(attached("A" * 3000))
    answer(mock, {"trytes": result})
    assert client.attach_to_tangle(TRUNK, BRANCH, 14, trytes) == result
    assert sent(mock) == {
        "command": "attachToTangle",
        "trunkTransaction": TRUNK,
        "branchTransaction": BRANCH,
        "minWeightMagnitude": 14,
        "trytes": trytes,
    }


@pytest.mark.parametrize(
    "trytes",
    [
        [],  # fewer than sent
        ["9" * 2673],  # not the transaction sent
        ["A" * 2672],  # wrong length
        "not a list",
    ],
    ids=["count", "other-transaction", "length", "type"],
)
def test_attach_to_tangle_checks_the_answer(mock, client, trytes):
    answer(mock, {"trytes": trytes})
    with pytest.raises(InvalidNodeResponseError) as info:
        client.attach_to_tangle(TRUNK, BRANCH, 14, list(bundle()))
    assert info.value.command == "attachToTangle"
    assert len(mock.calls) == 1


def test_store_broadcast(mock, client):
    trytes = list(attached())
    for _ in range(4):
        answer(mock, {"duration": 1})
    assert client.store_transactions(trytes) is None
    assert client.broadcast_transactions(trytes) is None
    client.store_and_broadcast(trytes)
    commands = [sent(mock, i)["command"] for i in range(4)]
    assert commands == ["storeTransactions", "broadcastTransactions"] * 2
    assert all(sent(mock, i)["trytes"] == trytes for i in range(4))


def test_find_transactions(mock, client):
    answer(mock, {"hashes": [HASH, TRUNK]})
    assert client.find_transactions(addresses=["A" * 81], tags=["SENSORDATA"]) == [HASH, TRUNK]
    assert sent(mock) == {
        "command": "findTransactions",
        "addresses": ["A" * 81],
        "tags": ["SENSORDATA" + "9" * 17],
    }
    answer(mock, {"hashes": []})
    assert client.find_transactions(bundles=[HASH], approvees=[TRUNK]) == []
    assert sent(mock, 1) == {"command": "findTransactions", "bundles": [HASH], "approvees": [TRUNK]}


def test_get_trytes_keeps_unknown_transactions(mock, client):
    known = attached()[0]
    answer(mock, {"trytes": [known, "9" * 2673]})
    assert client.get_trytes([HASH, TRUNK]) == [known, "9" * 2673]
    assert sent(mock) == {"command": "getTrytes", "hashes": [HASH, TRUNK]}


def test_check_consistency(mock, client):
    info = "tails are not consistent (would lead to inconsistent ledger)"
    answer(mock, {"state": True})
    answer(mock, {"state": False, "info": info})
    assert client.check_consistency([HASH]) == (True, None)
    assert client.check_consistency([HASH, TRUNK]) == (False, info)
    assert sent(mock, 1) == {"command": "checkConsistency", "tails": [HASH, TRUNK]}


# -- errors and retries --------------------------------------------------------


def test_400_is_rejected_at_once(mock, client, delays):
    answer(mock, {"error": "Invalid trytes input"}, status=400)
    with pytest.raises(NodeRejectedError) as info:
        client.store_transactions(list(attached()))
    err = info.value
    assert (err.command, err.status, err.text) == ("storeTransactions", 400, "Invalid trytes input")
    assert str(err) == f"storeTransactions failed at {URL}: HTTP 400: Invalid trytes input"
    assert not isinstance(err, TransientError)
    assert len(mock.calls) == 1 and delays == []


def test_exception_key_and_non_json_error_bodies(mock, client):
    answer(mock, {"exception": "java.lang.NullPointerException"}, status=400)
    with pytest.raises(NodeRejectedError) as info:
        client.get_node_info()
    assert info.value.text == "java.lang.NullPointerException"
    answer(mock, status=404, body="<html><body>" + "Not found " * 200 + "</body></html>")
    with pytest.raises(NodeRejectedError) as info:
        client.get_node_info()
    assert info.value.status == 404
    assert info.value.text.startswith("<html><body>Not found")
    assert len(info.value.text) <= 500


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_transient_statuses_are_retried_then_raised(mock, client, delays, status):
    for _ in range(POLICY.attempts):
        answer(mock, {"error": "busy"}, status=status)
    with pytest.raises(NodeUnavailableError) as info:
        client.get_node_info()
    err = info.value
    assert (err.status, err.text, err.command) == (status, "busy", "getNodeInfo")
    assert len(mock.calls) == POLICY.attempts
    assert delays == [0.1, 0.2, 0.3]  # grows, then capped at max_delay


def test_jitter_shortens_the_wait(mock, delays):
    for _ in range(2):
        answer(mock, status=503)
    with (
        NodeClient(
            URL,
            retry_policy=RetryPolicy(attempts=2, base_delay=1.0, jitter=0.5),
            sleep=delays.append,
            rng=lambda: 1.0,
        ) as c,
        pytest.raises(NodeUnavailableError),
    ):
        c.get_node_info()
    assert delays == [0.5]


def test_success_after_two_failures(mock, client, delays):
    answer(mock, status=503, body="Service Unavailable")
    answer(mock, {"error": "overloaded"}, status=500)
    answer(mock, {"appName": "IRI"})
    assert client.get_node_info() == {"appName": "IRI"}
    assert len(mock.calls) == 3
    assert delays == [0.1, 0.2]


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ConnectTimeout("connect timed out"),
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ConnectionError("connection reset"),
    ],
    ids=["connect-timeout", "read-timeout", "connection"],
)
def test_network_failures_are_retried(mock, client, delays, exc):
    for _ in range(POLICY.attempts):
        answer(mock, body=exc)
    with pytest.raises(NodeUnavailableError) as info:
        client.get_transactions_to_approve()
    err = info.value
    assert err.__cause__ is exc
    assert (err.status, err.text, err.command) == (None, None, "getTransactionsToApprove")
    assert str(err).startswith(f"getTransactionsToApprove failed at {URL}: ")
    assert len(mock.calls) == POLICY.attempts and len(delays) == POLICY.attempts - 1


@pytest.mark.parametrize(
    ("command", "kwargs", "reply"),
    [
        ("get_node_info", {}, {"body": "<html>maintenance</html>"}),
        ("get_node_info", {}, {"json": ["not", "an", "object"]}),
        ("get_node_info", {}, {"json": {"error": "Command [x] is unknown"}}),
        ("get_node_info", {}, {"status": 302, "body": ""}),
        ("get_transactions_to_approve", {}, {"json": {"trunkTransaction": TRUNK}}),
        ("get_transactions_to_approve", {}, {"json": {"trunkTransaction": TRUNK, **SHORT_BRANCH}}),
        ("get_transactions_to_approve", {}, {"json": {"trunkTransaction": TRUNK, **INT_BRANCH}}),
        ("find_transactions", {"bundles": [HASH]}, {"json": {}}),
        ("find_transactions", {"bundles": [HASH]}, {"json": {"hashes": ["h" * 81]}}),
        ("get_trytes", {"hashes": [HASH]}, {"json": {"trytes": []}}),
        ("get_trytes", {"hashes": [HASH]}, {"json": {"trytes": [None]}}),
        ("check_consistency", {"tails": [HASH]}, {"json": {"state": "true"}}),
        ("check_consistency", {"tails": [HASH]}, {"json": {"state": False, "info": 3}}),
    ],
)
def test_malformed_answers(mock, client, delays, command, kwargs, reply):
    mock.add(responses.POST, URL, **reply)
    with pytest.raises(InvalidNodeResponseError) as info:
        getattr(client, command)(**kwargs)
    assert isinstance(info.value, ValueError)
    assert info.value.command is not None and URL in str(info.value)
    assert len(mock.calls) == 1 and delays == []


def test_error_key_in_200_carries_the_text(mock, client):
    answer(mock, {"error": "Command [x] is unknown"})
    with pytest.raises(InvalidNodeResponseError) as info:
        client.call("x")
    assert (info.value.status, info.value.text) == (200, "Command [x] is unknown")


# -- arguments and configuration -----------------------------------------------

TX = attached()[0]


@pytest.mark.parametrize(
    ("call", "field", "error"),
    [
        (lambda c: c.get_transactions_to_approve(0), "depth", InvalidInputError),
        (lambda c: c.get_transactions_to_approve(True), "depth", InvalidInputError),
        (lambda c: c.get_transactions_to_approve("3"), "depth", InvalidInputError),
        (lambda c: c.get_transactions_to_approve(3, "A" * 80), "reference", InvalidTrytesError),
        (lambda c: c.attach_to_tangle("t" * 81, BRANCH, 9, [TX]), "trunk", InvalidTrytesError),
        (lambda c: c.attach_to_tangle(TRUNK, BRANCH, 0, [TX]), "mwm", InvalidInputError),
        (lambda c: c.attach_to_tangle(TRUNK, BRANCH, 244, [TX]), "mwm", InvalidInputError),
        (lambda c: c.attach_to_tangle(TRUNK, BRANCH, 9, []), "trytes", InvalidInputError),
        (lambda c: c.store_transactions(TX), "trytes", InvalidInputError),
        (lambda c: c.store_transactions([TX[:-1]]), "trytes[0]", InvalidTrytesError),
        (lambda c: c.broadcast_transactions([TX, TX + "9"]), "trytes[1]", InvalidTrytesError),
        (lambda c: c.store_and_broadcast([]), "trytes", InvalidInputError),
        (lambda c: c.find_transactions(), "addresses", InvalidInputError),
        (lambda c: c.find_transactions(addresses=["A" * 90]), "addresses[0]", InvalidTrytesError),
        (lambda c: c.find_transactions(tags=["T" * 28]), "tags[0]", InvalidTrytesError),
        (lambda c: c.find_transactions(approvees=[]), "approvees", InvalidInputError),
        (lambda c: c.get_trytes([HASH.lower()]), "hashes[0]", InvalidTrytesError),
        (lambda c: c.check_consistency(None), "tails", InvalidInputError),
        (lambda c: c.call("getTips", when=object()), "params", InvalidInputError),
    ],
)
def test_arguments_are_checked_before_sending(mock, client, call, field, error):
    with pytest.raises(error) as info:
        call(client)
    assert info.value.field == field
    assert len(mock.calls) == 0


@pytest.mark.parametrize(
    "url",
    [
        "ftp://node.test",
        "node.test:14265",
        "http://",
        "http://:14265",
        "http://node.test:99999",
        14265,
        "",
    ],
)
def test_bad_url(url):
    with pytest.raises(ConfigError) as info:
        NodeClient(url)
    assert info.value.field == "provider"


def test_bad_timeout():
    with pytest.raises(InvalidInputError) as info:
        NodeClient(URL, timeout=0)
    assert info.value.field == "timeout"


def test_credentials_stay_out_of_messages(mock, delays):
    secret_url = "https://user:s3cret@node.test:443/api?token=t0ken"
    mock.add(responses.POST, secret_url, status=400, json={"error": "bad request"})
    with NodeClient(secret_url, retry_policy=POLICY, sleep=delays.append) as c:
        assert "s3cret" not in repr(c)
        with pytest.raises(NodeRejectedError) as info:
            c.get_node_info()
    shown = "https://node.test:443/api"  # no user, password, query
    assert str(info.value) == f"getNodeInfo failed at {shown}: HTTP 400: bad request"
    with pytest.raises(ConfigError) as info:
        NodeClient("ftp://user:s3cret@node.test")
    assert "s3cret" not in str(info.value)


def test_sessions_are_closed_only_when_owned(monkeypatch):
    closed: list[str] = []

    class Recording(requests.Session):
        def close(self) -> None:
            closed.append(self.name)
            super().close()

    own = Recording()
    own.name = "own"
    monkeypatch.setattr("iota_publisher._http.new_session", lambda: own)
    with NodeClient(URL):
        pass
    theirs = Recording()
    theirs.name = "theirs"
    with theirs:
        NodeClient(URL, session=theirs).close()
        assert closed == ["own"]
    assert closed == ["own", "theirs"]


def test_debug_log_names_command_not_trytes(mock, client, caplog):
    answer(mock, {"duration": 3})
    with caplog.at_level(logging.DEBUG, logger="iota_publisher.node"):
        client.store_transactions(list(attached()))
    lines = [r.getMessage() for r in caplog.records if r.name == "iota_publisher.node"]
    assert len(lines) == 1 and lines[0].startswith(f"storeTransactions at {URL} took ")
    assert not any(re.search("[9A-Z]{81}", line) for line in lines)


# -- attach() --------------------------------------------------------------------


@pytest.mark.parametrize("message", ["HELLO", "A" * 3000])
def test_attach_local(mock, client, message):
    answer(mock, {"trunkTransaction": TRUNK, "branchTransaction": BRANCH})
    result = attach(client, list(bundle(message)), depth=4, mwm=3)
    assert sent(mock) == {"command": "getTransactionsToApprove", "depth": 4}
    txs = validate_bundle(result, mwm=3)
    assert Transaction.from_trytes(result[0]).current_index == 0  # tail first
    assert (txs[-1].trunk_transaction, txs[-1].branch_transaction) == (TRUNK, BRANCH)


def test_attach_remote(mock, client):
    trytes = list(bundle("A" * 3000))
    result = list(attached("A" * 3000, mwm=5))  # the node's work is checked: it must be done
    answer(mock, {"trunkTransaction": TRUNK, "branchTransaction": BRANCH})
    answer(mock, {"trytes": result})
    assert attach(client, trytes, pow="remote", mwm=5) == result
    assert sent(mock, 1)["command"] == "attachToTangle"
    body = sent(mock, 1)
    assert (body["trunkTransaction"], body["branchTransaction"]) == (TRUNK, BRANCH)
    assert body["minWeightMagnitude"] == 5


def test_attach_remote_checks_the_answer(mock, client):
    answer(mock, {"trunkTransaction": TRUNK, "branchTransaction": BRANCH})
    answer(mock, {"trytes": list(attached())})
    with pytest.raises(InvalidNodeResponseError):
        attach(client, list(bundle("A" * 3000)), pow="remote")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"pow": "gpu"}, "pow"),
        ({"mwm": 0}, "mwm"),
        ({"depth": 0}, "depth"),
        ({"trytes": []}, "trytes"),
    ],
)
def test_attach_bad_arguments(mock, client, kwargs, field):
    trytes = kwargs.pop("trytes", list(bundle()))
    with pytest.raises(InvalidInputError) as info:
        attach(client, trytes, **kwargs)
    assert info.value.field == field
    assert len(mock.calls) == 0


# -- over the wire: a real HTTP server on 127.0.0.1 --------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append((dict(self.headers), json.loads(body)))
        self.server.behave(self)

    def log_message(self, *args: object) -> None:
        pass


def _reply(status: int, obj: object) -> Callable[[BaseHTTPRequestHandler], None]:
    def behave(handler: BaseHTTPRequestHandler) -> None:
        data = json.dumps(obj).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return behave


@contextmanager
def serve(
    behave: Callable[[BaseHTTPRequestHandler], None],
) -> Iterator[tuple[ThreadingHTTPServer, str]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.handle_error = lambda request, address: None  # a client that hung up is expected
    server.seen = []
    server.behave = behave
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_wire_headers_body_and_basic_auth():
    tips = {"trunkTransaction": TRUNK, "branchTransaction": BRANCH}
    with serve(_reply(200, tips)) as (server, url):
        host = url.removeprefix("http://")
        with NodeClient(f"http://user:pw@{host}") as c:
            assert c.get_transactions_to_approve(5) == (TRUNK, BRANCH)
    headers, body = server.seen[0]
    assert headers["X-IOTA-API-Version"] == "1"
    assert headers["Content-Type"] == "application/json"
    assert headers["Authorization"] == "Basic dXNlcjpwdw=="  # user:pw
    assert body == {"command": "getTransactionsToApprove", "depth": 5}


def test_wire_rejection():
    with serve(_reply(400, {"error": "Invalid trytes input"})) as (server, url):
        with NodeClient(url) as c, pytest.raises(NodeRejectedError) as info:
            c.store_transactions([TX])
    assert str(info.value) == f"storeTransactions failed at {url}: HTTP 400: Invalid trytes input"
    assert len(server.seen) == 1


def test_wire_dropped_connection_is_unavailable():
    def hang_up(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True  # answer nothing

    with serve(hang_up) as (server, url):
        with NodeClient(url, retry_policy=RetryPolicy(attempts=2), sleep=lambda s: None) as c:
            with pytest.raises(NodeUnavailableError) as info:
                c.get_node_info()
    assert info.value.status is None
    assert len(server.seen) == 2


def test_wire_read_timeout_is_unavailable():
    with serve(lambda handler: time.sleep(0.5)) as (_server, url):
        with NodeClient(url, timeout=0.1, retry_policy=RetryPolicy(attempts=1)) as c:
            with pytest.raises(NodeUnavailableError) as info:
                c.get_node_info()
    assert isinstance(info.value.__cause__, requests.exceptions.ReadTimeout)


def test_connection_refused_is_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with NodeClient(f"http://127.0.0.1:{port}", retry_policy=RetryPolicy(attempts=1)) as c:
        with pytest.raises(NodeUnavailableError) as info:
            c.check_consistency([HASH])
    assert (info.value.command, info.value.status) == ("checkConsistency", None)
    assert isinstance(info.value.__cause__, requests.ConnectionError)


def _zeroed(trytes: tuple[str, ...]) -> list[str]:
    return [t[:-27] + "9" * 27 for t in trytes]


@pytest.mark.parametrize(
    "reply",
    [
        lambda: _zeroed(attached("A" * 3000, mwm=5)),  # no work done
        lambda: list(attached("A" * 3000, mwm=1)),  # too little work
        lambda: list(reversed(attached("A" * 3000, mwm=5)))[:1] + list(attached("B" * 3000))[1:],
    ],
    ids=["zeroed-nonces", "too-light", "other-transactions"],
)
def test_attach_remote_verifies_the_work(mock, client, reply):
    answer(mock, {"trunkTransaction": TRUNK, "branchTransaction": BRANCH})
    answer(mock, {"trytes": reply()})
    with pytest.raises(InvalidNodeResponseError) as info:
        attach(client, list(bundle("A" * 3000)), pow="remote", mwm=5)
    assert info.value.command == "attachToTangle" and not isinstance(info.value, TransientError)


def test_attach_remote_rejects_other_tips(mock, client):
    answer(mock, {"trunkTransaction": BRANCH, "branchTransaction": TRUNK})
    answer(mock, {"trytes": list(attached("A" * 3000, mwm=5))})  # attached on TRUNK, BRANCH
    with pytest.raises(InvalidNodeResponseError, match="tips"):
        attach(client, list(bundle("A" * 3000)), pow="remote", mwm=5)


def test_attach_takes_a_strategy_and_stays_importable_from_node(mock, client):
    from iota_publisher import attaching, node

    assert node.attach is attaching.attach
    seen = []

    def strategy(n, trunk, branch, mwm, trytes):
        seen.append((n, trunk, branch, mwm, len(trytes)))
        return list(attached())

    answer(mock, {"trunkTransaction": TRUNK, "branchTransaction": BRANCH})
    assert attach(client, list(bundle()), pow=strategy, mwm=7) == list(attached())
    assert seen == [(client, TRUNK, BRANCH, 7, 1)]


def test_remote_pow_through_the_sandbox_node_is_verified_and_stored(tmp_path):
    from iota_publisher.sandbox import Sandbox

    with Sandbox(tmp_path / "sandbox", mwm=5) as sandbox:
        with NodeClient(sandbox.node_url) as node:
            result = attach(node, list(bundle("A" * 3000)), pow="remote", mwm=5)
            node.store_and_broadcast(result)
            tail = Transaction.from_trytes(result[0])
            assert tail.current_index == 0
            assert node.find_transactions(addresses=["A" * 81]) != []
            assert node.check_consistency([tail.hash]) == (True, None)
