"""The sans-I/O protocol package: IRI and marketplace checks that clients and
servers share, and the verification of a node's proof of work."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from iota_publisher import protocol
from iota_publisher.errors import InvalidInputError, InvalidTrytesError, ProtocolError
from iota_publisher.pow import attach_to_tangle
from iota_publisher.protocol import iri
from iota_publisher.protocol import marketplace as mp
from iota_publisher.trinary import Transaction, build_bundle
from iota_publisher.trinary.bundle import trailing_zeros
from iota_publisher.trinary.checksum import add_checksum

TRUNK = "T" * 81
BRANCH = "B" * 81
HASH = "H" * 81
TX = "9" * 2673


@cache
def bundle(message: str = "HELLO") -> tuple[str, ...]:
    return tuple(build_bundle("A" * 81, message, timestamp=1))


@cache
def attached(message: str = "HELLO", mwm: int = 5) -> tuple[str, ...]:
    return tuple(attach_to_tangle(TRUNK, BRANCH, mwm, list(bundle(message)), now=lambda: 1000))


def fails(call, **expected) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        call()
    for name, value in expected.items():
        assert getattr(info.value, name) == value, name
    assert isinstance(info.value, ValueError)
    return info.value


# -- one place for the wire's constants -------------------------------------------------------


def test_constants():
    assert iri.HEADERS == {"Content-Type": "application/json", "X-IOTA-API-Version": "1"}
    assert iri.API_VERSION_HEADER == "X-IOTA-API-Version"
    assert (iri.MAX_REQUEST_LIST, iri.MAX_GET_TRYTES, iri.MAX_FIND_TRANSACTIONS) == (
        1_000,
        10_000,
        100_000,
    )
    assert (iri.MAX_DEPTH, iri.MAX_BODY_LENGTH, iri.MIN_MWM, iri.MAX_MWM) == (15, 1_000_000, 1, 243)
    assert (iri.HASH_LENGTH, iri.TAG_LENGTH, iri.TRANSACTION_LENGTH) == (81, 27, 2673)
    assert {"getTrytes", "attachToTangle", "storeTransactions"} <= iri.COMMANDS
    assert protocol.STREAM_PAGE_SIZE == mp.STREAM_PAGE_SIZE == 20


def test_one_stream_packet_everywhere():
    from iota_publisher import marketplace, testing

    assert testing.StreamPacket is marketplace.StreamPacket is protocol.StreamPacket
    assert marketplace.STREAM_PAGE_SIZE is mp.STREAM_PAGE_SIZE


# -- the guard: protocol literals live in the protocol package only ------------------------------


def _sources() -> dict[str, ast.Module]:
    """Every module of the package and of its drivers, parsed: ``{relative path: tree}``."""
    import iota_publisher.drivers

    import iota_publisher

    roots = [Path(iota_publisher.__file__).parent, *map(Path, iota_publisher.drivers.__path__)]
    trees = {}
    for root in dict.fromkeys(roots):
        for path in sorted(root.rglob("*.py")):
            name = f"{root.name}/{path.relative_to(root).as_posix()}"
            trees[name] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return trees


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the docstring nodes of a module (they may name the header, in words)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _strings(tree: ast.Module) -> list[str]:
    docs = _docstrings(tree)
    return [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
    ]


def _is_clip(node: ast.AST) -> bool:
    """A function that puts text on one line (``" ".join(text.split())``) and cuts it
    with ``...``: a copy of :func:`iota_publisher._http.clip`."""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    joins = any(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == "join"
        and isinstance(n.func.value, ast.Constant)
        and n.func.value.value == " "
        and any(
            isinstance(a, ast.Call) and isinstance(a.func, ast.Attribute) and a.func.attr == "split"
            for a in n.args
        )
        for n in ast.walk(node)
    )
    cuts = any(isinstance(n, ast.Constant) and n.value == "..." for n in ast.walk(node))
    return joins and cuts


def test_protocol_literals_are_defined_once():
    trees = _sources()
    assert "iota_publisher/protocol/iri.py" in trees and "drivers/netatmo.py" in trees

    header = [
        name
        for name, tree in trees.items()
        for text in _strings(tree)
        if "x-iota-api-version" in text.lower()
    ]
    assert header == ["iota_publisher/protocol/iri.py"], "the IRI header is spelled out twice"

    page_sizes = []
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                value = node.value
                for target in targets:
                    if (
                        isinstance(target, ast.Name)
                        and "PAGE" in target.id.upper()
                        and isinstance(value, ast.Constant)
                    ):
                        page_sizes.append(f"{name}:{target.id}")
            if (
                isinstance(node, ast.keyword)
                and "page" in (node.arg or "").lower()
                and isinstance(node.value, ast.Constant)
                and node.value.value == 20
            ):
                page_sizes.append(f"{name}:{node.arg}=20")
        for text in _strings(tree):
            if re.search(r"\bLIMIT\s+20\b", text, re.IGNORECASE):
                page_sizes.append(f"{name}: {text[:40]!r}")
    assert page_sizes == ["iota_publisher/protocol/marketplace.py:STREAM_PAGE_SIZE"]

    clips = {
        f"{name}:{node.name}"
        for name, tree in trees.items()
        for node in ast.walk(tree)
        if _is_clip(node)
    }
    assert clips == {"iota_publisher/_text.py:clip"}


def test_the_guard_finds_what_it_guards():
    tree = ast.parse(
        '''"""The X-IOTA-API-Version header, in words."""
PAGE = 20
H = {"X-IOTA-API-Version": "1"}


def _clip(text):
    """Cut."""
    text = " ".join(text.split())
    return text[:10] + "..."
'''
    )
    assert [s for s in _strings(tree) if "X-IOTA" in s] == ["X-IOTA-API-Version"]
    assert [n.name for n in ast.walk(tree) if _is_clip(n)] == ["_clip"]


def test_answer_limits_grow_with_the_request():
    assert iri.answer_limit("getTrytes", 10_000) > 26_000_000
    assert iri.answer_limit("getTrytes", 1) < 2_000_000
    assert iri.answer_limit("findTransactions") > 100_000 * 81
    assert iri.answer_limit("getNodeInfo") == 10_000_000
    assert mp.answer_limit("devices") > mp.answer_limit("newData")


# -- parameter checks --------------------------------------------------------------------------


def test_request_bodies():
    assert iri.get_node_info() == {"command": "getNodeInfo"}
    assert iri.get_transactions_to_approve(4, HASH) == {
        "command": "getTransactionsToApprove",
        "depth": 4,
        "reference": HASH,
    }
    assert iri.find_transactions(tags=["SENSORDATA"]) == {
        "command": "findTransactions",
        "tags": ["SENSORDATA" + "9" * 17],
    }
    assert iri.get_trytes((HASH,)) == {"command": "getTrytes", "hashes": [HASH]}
    assert iri.encode({"command": "getTips"}) == b'{"command": "getTips"}'


@pytest.mark.parametrize(
    ("call", "field", "kind", "index"),
    [
        (lambda: iri.store_transactions(TX), "trytes", "type", None),
        (lambda: iri.store_transactions([]), "trytes", "empty", None),
        (lambda: iri.store_transactions([TX, TX[:-1]]), "trytes", "trytes", 1),
        (lambda: iri.store_transactions([TX] * 1001), "trytes", "too_many", None),
        (lambda: iri.get_trytes([HASH.lower()]), "hashes", "trytes", 0),
        (lambda: iri.get_trytes([HASH] * 10_001), "hashes", "too_many", None),
        (lambda: iri.get_transactions_to_approve(0), "depth", "range", None),
        (lambda: iri.get_transactions_to_approve(16), "depth", "range", None),
        (lambda: iri.get_transactions_to_approve(True), "depth", "type", None),
        (
            lambda: iri.attach_to_tangle(TRUNK, BRANCH, 244, [TX]),
            "minWeightMagnitude",
            "range",
            None,
        ),
        (lambda: iri.attach_to_tangle(TRUNK, 3, 9, [TX]), "branchTransaction", "trytes", None),
        (iri.find_transactions, "addresses", "missing", None),
        (lambda: iri.find_transactions(tags=["T" * 28]), "tags", "trytes", 0),
        (lambda: iri.find_transactions(addresses=["A" * 90]), "addresses", "trytes", 0),
        (lambda: iri.check_consistency(None), "tails", "type", None),
        (lambda: iri.encode({"x": object()}), "params", "type", None),
        (lambda: iri.require({}, "trytes"), "trytes", "missing", None),
    ],
)
def test_parameter_checks_name_field_kind_and_index(call, field, kind, index):
    fails(call, field=field, kind=kind, index=index)


def test_server_side_leniency():
    assert iri.depth(0) == 0  # IRI accepts a depth of 0; the client asks for at least 1
    assert iri.integer(3.0, "threshold", 0, 100, floats=True) == 3
    fails(lambda: iri.integer(3.0, "threshold", 0, 100), kind="type")
    address = add_checksum("A" * 81)
    assert iri.address_list([address]) == ["A" * 81]
    fails(lambda: iri.address_list([address[:-1] + "9"]), kind="trytes", index=0)
    assert iri.hash_list([], "bundles", empty=True) == []
    assert iri.tag_list(["AB"], empty=True) == ["AB" + "9" * 25]
    # IRI pads tags with 9s: a longer tag ending in 9s is the same tag, for a server
    assert iri.tag_list(["AB" + "9" * 79], padded=True) == ["AB" + "9" * 25]
    fails(lambda: iri.tag_list(["AB" + "9" * 79]), kind="trytes", index=0)
    fails(lambda: iri.tag_list(["A", "T" * 28], padded=True), kind="trytes", index=1)
    fails(lambda: iri.tag_list(["T" * 82], padded=True), kind="trytes", index=0)
    assert iri.string_list(["tcp://a:1"], "uris") == ["tcp://a:1"]
    assert iri.string_list([], "uris", empty=True) == []
    fails(lambda: iri.string_list("tcp://a:1", "uris"), kind="type", index=None)
    fails(lambda: iri.string_list(["x", 3], "uris"), kind="type", index=1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: iri.store_transactions([TX[:-1]]), "Invalid trytes input: trytes[0] must be"),
        (lambda: iri.get_trytes([HASH] * 10_001), "Could not complete request: more than 10000"),
        (lambda: iri.require({}, "depth"), "Invalid parameters: depth is missing"),
        (lambda: iri.depth(99), "Invalid depth input: depth must be an int from 0 to 15"),
    ],
)
def test_iri_messages_for_a_server(call, message):
    assert iri.iri_message(fails(call)).startswith(message)


def test_invalid_input_for_a_client():
    err = protocol.invalid_input(fails(lambda: iri.store_transactions([TX, TX[:-1]])))
    assert isinstance(err, InvalidTrytesError) and err.field == "trytes[1]"
    err = protocol.invalid_input(fails(lambda: iri.mwm(0)), {"minWeightMagnitude": "mwm"})
    assert type(err) is InvalidInputError and err.field == "mwm"
    assert str(err).startswith("mwm must be an int from 1 to 243")


# -- answer checks -----------------------------------------------------------------------------


def test_answer_checks():
    assert iri.error_of({"error": "Invalid trytes input"}) == "Invalid trytes input"
    assert iri.error_of({"exception": "NPE"}) == "NPE"
    assert iri.error_of([1]) is None and iri.error_of({"x": 1}) is None
    assert iri.tips_answer({"trunkTransaction": TRUNK, "branchTransaction": BRANCH}) == (
        TRUNK,
        BRANCH,
    )
    fails(lambda: iri.tips_answer({"trunkTransaction": TRUNK}), field="branchTransaction")
    assert iri.consistency_answer({"state": False, "info": "x"}) == (False, "x")
    fails(lambda: iri.consistency_answer({"state": "true"}), field="state")
    fails(lambda: iri.tryte_field({"hashes": [HASH]}, "hashes", 81, 2), kind="range")
    sent = list(bundle())
    assert iri.attach_answer({"trytes": list(attached())}, sent) == list(attached())
    fails(lambda: iri.attach_answer({"trytes": [TX]}, sent), field="trytes")


def test_a_real_attachment_passes():
    iri.check_attached(attached("A" * 3000), TRUNK, BRANCH, 5)


def zero_nonces(trytes: tuple[str, ...]) -> list[str]:
    return [t[: -iri.NONCE_LENGTH] + "9" * iri.NONCE_LENGTH for t in trytes]


def chained_without_work(message: str) -> list[str]:
    """A one-transaction bundle chained on the tips as attachToTangle would, nonce all 9."""
    (trytes,) = bundle(message)
    tx = Transaction.from_trytes(trytes).replace(trunk_transaction=TRUNK, branch_transaction=BRANCH)
    return [tx.as_trytes()]


def test_zeroed_nonces_are_rejected():
    with pytest.raises(ProtocolError):
        iri.check_attached(zero_nonces(attached("A" * 3000)), TRUNK, BRANCH, 5)


def test_an_all_9_nonce_with_the_weight_is_valid_work():
    # a search that starts from the transaction's own nonce (IRI's, ours) returns the
    # all-9 nonce when the hash already has the weight: that answer is right, not lazy
    lucky = next(
        t
        for t in (chained_without_work(m) for m in "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        if trailing_zeros(Transaction.from_trytes(t[0]).hash) >= 1
    )
    iri.check_attached(lucky, TRUNK, BRANCH, 1)
    unlucky = next(
        t
        for t in (chained_without_work(m) for m in "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        if trailing_zeros(Transaction.from_trytes(t[0]).hash) == 0
    )
    with pytest.raises(ProtocolError, match="proof of work"):
        iri.check_attached(unlucky, TRUNK, BRANCH, 1)


def test_a_bundle_on_other_tips_is_rejected():
    with pytest.raises(ProtocolError, match="tips"):
        iri.check_attached(attached(), BRANCH, TRUNK, 5)


def test_too_little_work_is_rejected():
    with pytest.raises(ProtocolError, match="proof of work"):
        iri.check_attached(attached(mwm=1), TRUNK, BRANCH, 12)


def test_a_broken_chain_is_rejected():
    two = list(attached("A" * 3000))
    other = list(attached("B" * 3000))
    with pytest.raises(ProtocolError):
        iri.check_attached([two[0], other[1]], TRUNK, BRANCH, 5)


# -- marketplace -------------------------------------------------------------------------------


def test_marketplace_endpoints():
    assert mp.ENDPOINTS["newData"] == "POST" and mp.ENDPOINTS["stream"] == "GET"
    assert mp.REPEATABLE == {"newData", "devices", "user", "stream"}
    assert "purchaseStream" not in mp.REPEATABLE and "user" in mp.SECRET_ANSWERS


def _device() -> dict:
    from iota_publisher.sandbox import DEMO_DEVICE

    return dict(DEMO_DEVICE, sensorId="dev", owner="me")


_CALLS = {  # endpoint -> a client call that sends it once
    "newData": lambda c: c.new_data("dev", "sk-4711", root="R" * 81, sidekey="K" * 81, time=1),
    "newDevice": lambda c: c.new_device("key-4711", _device()),
    "devices": lambda c: c.devices(),
    "delete": lambda c: c.delete_device("key-4711", "dev"),
    "user": lambda c: c.user("me", api_key="key-4711"),
    "wallet": lambda c: c.wallet("me", api_key="key-4711"),
    "purchaseStream": lambda c: c.purchase_stream("me", "dev", api_key="key-4711"),
    "stream": lambda c: c.stream("dev", "me", api_key="key-4711"),
}


@pytest.mark.parametrize("repeatable", [mp.REPEATABLE, frozenset(mp.ENDPOINTS)])
def test_the_client_retries_what_the_protocol_counts_repeatable(monkeypatch, repeatable):
    import responses

    from iota_publisher._http import RetryPolicy
    from iota_publisher.errors import MarketplaceUnavailableError
    from iota_publisher.marketplace import MarketplaceClient

    assert set(_CALLS) == set(mp.ENDPOINTS)
    monkeypatch.setattr(mp, "REPEATABLE", repeatable)
    policy = RetryPolicy(attempts=2, base_delay=0, jitter=0)
    api = "https://mp.example/api"
    with MarketplaceClient(api, retry_policy=policy, sleep=lambda _s: None) as client:
        for endpoint, call in _CALLS.items():
            with responses.RequestsMock() as mock:
                method = getattr(responses, mp.ENDPOINTS[endpoint])
                mock.add(method, f"{api}/{endpoint}", status=503, json={"error": "busy"})
                with pytest.raises(MarketplaceUnavailableError):
                    call(client)
                assert len(mock.calls) == (2 if endpoint in repeatable else 1), endpoint


def test_new_data_request_shape():
    packet = mp.new_data("R" * 81, "K" * 81, 1550057296806)
    assert mp.new_data_request("dev", "sk", packet) == {
        "id": "dev",
        "sk": "sk",
        "packet": {"root": "R" * 81, "sidekey": "K" * 81, "time": 1550057296806},
    }
    err = fails(lambda: mp.new_data("R" * 81, "SECRET" + "k" * 75, 1), field="sidekey")
    assert "SECRET" not in str(err) and "'k'" not in str(err)
    fails(lambda: mp.new_data("R" * 81, "K" * 81, -1), field="time")
    fails(lambda: mp.new_data_request("", "sk", packet), field="id")


def test_stream_page():
    page = mp.stream_page([{"time": 2.0, "root": "R" * 81, "sidekey": "K" * 81, "messageId": "m"}])
    assert page == [mp.StreamPacket(2, "R" * 81, "K" * 81)]
    assert "K" * 81 not in repr(page[0])
    fails(lambda: mp.stream_page({"packets": []}), field="stream")
    fails(lambda: mp.stream_page([None]), field="packet", index=0)
    fails(lambda: mp.stream_page([{"time": "1", "root": "R" * 81, "sidekey": "K" * 81}]))


def test_the_protocol_package_does_no_io():
    import subprocess
    import sys

    code = (
        "import sys, iota_publisher.protocol; "
        "print([m for m in ('requests', 'urllib3', 'socket', 'http.client') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
