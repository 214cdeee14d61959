"""The sandbox: a local legacy IRI node and Data Marketplace (``iota-publish sandbox``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from iota_publisher.cli import main
from iota_publisher.errors import InvalidSecretKeyError, MarketplaceRejectedError
from iota_publisher.fetch import fetch_stream
from iota_publisher.marketplace import MarketplaceClient
from iota_publisher.node import NodeClient
from iota_publisher.pow import attach_to_tangle
from iota_publisher.sandbox import DEMO_DEVICE, Sandbox, SandboxError
from iota_publisher.trinary import TRYTE_ALPHABET as TRYTES
from iota_publisher.trinary import Transaction, build_bundle, transaction_hash
from iota_publisher.trinary.bundle import trailing_zeros
from iota_publisher.trinary.checksum import add_checksum

MWM = 5
NULL = "9" * 81
ADDRESS_A = "A" * 81
ADDRESS_B = "B" * 81
NOW = 1_700_000_000  # a fixed clock (s) for deterministic transactions
HEADERS = {"X-IOTA-API-Version": "1"}


@pytest.fixture
def sandbox(tmp_path):
    with Sandbox(tmp_path / "sandbox", mwm=MWM) as sb:
        yield sb


def call(url: str, body: object, *, header: bool = True, data: bytes | None = None):
    """One raw request: ``(status, answer)``."""
    response = requests.post(
        url,
        json=None if data is not None else body,
        data=data,
        headers=HEADERS if header else {},
        timeout=30,
    )
    return response.status_code, response.json()


def bundle(
    message: str = "HELLO",
    address: str = ADDRESS_A,
    tag: str = "SANDBOX",
    *,
    mwm: int = MWM,
    trunk: str = NULL,
    branch: str = NULL,
    timestamp: int = NOW,
    now_ms: int | None = None,
) -> list[str]:
    """An attached zero-value bundle, tail first."""
    raw = build_bundle(address, message, tag, timestamp=timestamp)
    clock = (lambda: now_ms) if now_ms is not None else None
    return attach_to_tangle(trunk, branch, mwm, raw, now=clock)


def hashes(trytes: list[str]) -> list[str]:
    return [transaction_hash(t) for t in trytes]


# -- the node: protocol ----------------------------------------------------------------


def test_every_answer_has_a_duration_and_iri_errors(sandbox):
    url = sandbox.node_url
    status, answer = call(url, {"command": "getNodeInfo"}, header=False)
    assert (status, answer["error"]) == (400, "Invalid API Version") and "duration" in answer
    status, answer = call(url, {"command": "fooBar"})
    assert (status, answer["error"]) == (400, "Command [fooBar] is unknown")
    status, answer = call(url, None, data=b"{not json")
    assert status == 400 and answer["error"].startswith("Invalid request payload")
    status, answer = call(url, {"depth": 3})
    assert status == 400 and "COMMAND parameter" in answer["error"]
    status, answer = call(url, None, data=b" " * 1_000_001)
    assert (status, answer["error"]) == (400, "Request too long")
    status, answer = call(url, {"command": "getTrytes", "hashes": ["abc"]})
    assert status == 400 and answer["error"].startswith("Invalid hashes input")
    status, answer = call(url, {"command": "getTrytes"})
    assert status == 400 and answer["error"].startswith("Invalid parameters")
    assert "duration" in answer


def test_node_info_and_empty_tangle(sandbox):
    with NodeClient(sandbox.node_url) as node:
        info = node.get_node_info()
        assert info["appName"] == "iota-publisher sandbox"
        assert info["latestMilestone"] == info["latestSolidSubtangleMilestone"] == NULL
        assert info["latestMilestoneIndex"] == 0 and info["neighbors"] == 0 and info["tips"] == 0
        assert isinstance(info["time"], int) and isinstance(info["duration"], int)
        assert node.get_transactions_to_approve(3) == (NULL, NULL)


def test_store_and_every_read_command(sandbox):
    url = sandbox.node_url
    with NodeClient(url) as node:
        trunk, branch = node.get_transactions_to_approve(3)
        raw = build_bundle(ADDRESS_A, "M" * 3000, "SANDBOX")  # two transactions
        attached = node.attach_to_tangle(trunk, branch, MWM, raw)  # PoW on the node
        assert all(trailing_zeros(h) >= MWM for h in hashes(attached))
        node.store_and_broadcast(attached)
        node.store_transactions(attached)  # a resend is harmless
        tail, second = hashes(attached)
        txs = [Transaction.from_trytes(t) for t in attached]

        assert node.find_transactions(addresses=[ADDRESS_A]) == [tail, second]
        assert node.find_transactions(bundles=[txs[0].bundle]) == [tail, second]
        assert node.find_transactions(tags=["SANDBOX"]) == [tail, second]
        assert node.find_transactions(approvees=[second]) == [tail]
        assert node.get_trytes([second, "C" * 81]) == [attached[1], "9" * 2673]
        assert node.check_consistency([tail]) == (True, None)
        state, info = node.check_consistency(["C" * 81])
        assert state is False and "C" * 81 in info
        status, answer = call(url, {"command": "checkConsistency", "tails": [second]})
        assert status == 400 and "not a tail" in answer["error"]

        info = node.get_node_info()
        assert info["latestMilestone"] == tail and info["latestMilestoneIndex"] == 1
        assert info["tips"] == 1
        assert node.get_transactions_to_approve(3) == (tail, tail)

    _, answer = call(
        url, {"command": "getInclusionStates", "transactions": [tail, "C" * 81], "tips": [tail]}
    )
    assert answer["states"] == [True, False]
    _, answer = call(
        url, {"command": "getBalances", "addresses": [add_checksum(ADDRESS_A)], "threshold": 100}
    )
    assert answer["balances"] == ["0"] and answer["milestoneIndex"] == 1
    assert answer["references"] == [tail]
    _, answer = call(url, {"command": "wereAddressesSpentFrom", "addresses": [ADDRESS_A]})
    assert answer["states"] == [False]
    _, answer = call(
        url, {"command": "getTransactionsToApprove", "depth": 3, "reference": "C" * 81}
    )
    assert answer["error"] == "reference transaction not found"
    _, answer = call(url, {"command": "getTransactionsToApprove", "depth": 99})
    assert answer["error"].startswith("Invalid depth input")


def test_empty_lists_and_legacy_forms_are_answered_as_iri_does(sandbox):
    url = sandbox.node_url
    stored = bundle("LEGACY", tag="SANDBOX")
    with NodeClient(url) as node:
        node.store_transactions(stored)
    (tail,) = hashes(stored)
    empty = {
        "getTrytes": ({"hashes": []}, {"trytes": []}),  # mam.js mamFetchAll's last call
        "findTransactions": ({"addresses": []}, {"hashes": []}),
        "getInclusionStates": ({"transactions": []}, {"states": []}),
        "getBalances": ({"addresses": []}, {"balances": []}),
        "wereAddressesSpentFrom": ({"addresses": []}, {"states": []}),
        "checkConsistency": ({"tails": []}, {"state": True}),
        "attachToTangle": (
            {
                "trunkTransaction": NULL,
                "branchTransaction": NULL,
                "minWeightMagnitude": MWM,
                "trytes": [],
            },
            {"trytes": []},
        ),
        "getMissingTransactions": ({}, {"hashes": []}),
        "getNeighbors": ({}, {"neighbors": []}),
        "addNeighbors": ({"uris": ["tcp://example.org:15600"]}, {"addedNeighbors": 0}),
        "removeNeighbors": ({"uris": []}, {"removedNeighbors": 0}),
        "interruptAttachingToTangle": ({}, {}),
    }
    for command, (params, expected) in empty.items():
        status, answer = call(url, {"command": command, **params})
        assert status == 200, (command, answer)
        assert {k: answer[k] for k in expected} == expected, command

    # tags padded with 9s beyond 27 trytes, addresses with checksums, a null reference,
    # older clients' threshold and tips
    for tag in ("SANDBOX", "SANDBOX" + "9" * 20, "SANDBOX" + "9" * 74):
        _, answer = call(url, {"command": "findTransactions", "tags": [tag]})
        assert answer["hashes"] == [tail], tag
    status, answer = call(
        url, {"command": "findTransactions", "tags": ["SANDBOX" + "9" * 20 + "A"]}
    )
    assert status == 400 and answer["error"].startswith("Invalid tags input")
    _, answer = call(
        url, {"command": "wereAddressesSpentFrom", "addresses": [add_checksum(ADDRESS_A)]}
    )
    assert answer["states"] == [False]
    _, answer = call(url, {"command": "getTransactionsToApprove", "depth": 3, "reference": None})
    assert answer["trunkTransaction"] == tail
    _, answer = call(
        url,
        {"command": "getBalances", "addresses": [ADDRESS_A], "threshold": 100, "tips": [tail]},
    )
    assert answer["balances"] == ["0"] and answer["references"] == [tail]
    _, answer = call(url, {"command": "getInclusionStates", "transactions": [tail], "tips": []})
    assert answer["states"] == [True]

    _, info = call(url, {"command": "getNodeInfo"})
    for name in (
        "appName",
        "appVersion",
        "jreAvailableProcessors",
        "jreVersion",
        "latestMilestone",
        "latestMilestoneIndex",
        "latestSolidSubtangleMilestone",
        "latestSolidSubtangleMilestoneIndex",
        "milestoneStartIndex",
        "lastSnapshottedMilestoneIndex",
        "neighbors",
        "packetsQueueSize",
        "time",
        "tips",
        "transactionsToRequest",
        "features",
        "coordinatorAddress",
        "dbSizeInBytes",
    ):
        assert name in info, name
    assert "RemotePOW" in info["features"] and info["dbSizeInBytes"] > 0
    _, config = call(url, {"command": "getNodeAPIConfiguration"})
    assert config["maxRequestsList"] == 1000 and config["maxGetTrytes"] == 10_000

    # what IRI refuses stays refused with empty lists allowed
    status, answer = call(url, {"command": "getTrytes", "hashes": ["A" * 80]})
    assert status == 400 and answer["error"].startswith("Invalid hashes input")
    status, answer = call(url, {"command": "getBalances", "addresses": ["A" * 80]})
    assert status == 400 and answer["error"].startswith("Invalid addresses input")


def test_attach_to_tangle_chains_in_index_order_whatever_the_order_sent(sandbox):
    raw = build_bundle(ADDRESS_A, "M" * 5000, "ORDER", timestamp=NOW)  # three, highest first
    with NodeClient(sandbox.node_url) as node:
        attached = node.attach_to_tangle(NULL, NULL, MWM, list(reversed(raw)))  # tail first
        assert [Transaction.from_trytes(t).current_index for t in attached] == [0, 1, 2]
        node.store_transactions(attached)  # a consistent bundle, or this would be refused
        assert node.check_consistency([transaction_hash(attached[0])]) == (True, None)


def test_find_transactions_intersects_keys(sandbox):
    one = bundle("ONE", ADDRESS_A, "RED")
    two = bundle("TWO", ADDRESS_B, "RED")
    three = bundle("THREE", ADDRESS_A, "BLUE")
    with NodeClient(sandbox.node_url) as node:
        for b in (one, two, three):
            node.store_transactions(b)
        (h1,), (h2,), (h3,) = hashes(one), hashes(two), hashes(three)
        assert node.find_transactions(addresses=[ADDRESS_A]) == [h1, h3]
        assert node.find_transactions(tags=["RED"]) == [h1, h2]
        assert node.find_transactions(addresses=[ADDRESS_A], tags=["RED"]) == [h1]
        assert node.find_transactions(addresses=[ADDRESS_B], tags=["BLUE"]) == []
        assert node.find_transactions(addresses=[ADDRESS_A, ADDRESS_B], tags=["RED", "BLUE"]) == [
            h1,
            h2,
            h3,
        ]
        assert node.find_transactions(approvees=[NULL], tags=["BLUE"]) == [h3]
    url = sandbox.node_url
    _, answer = call(url, {"command": "findTransactions", "tags": ["RED"]})  # unpadded
    assert answer["hashes"] == [h1, h2]
    _, answer = call(url, {"command": "findTransactions", "addresses": [add_checksum(ADDRESS_B)]})
    assert answer["hashes"] == [h2]
    status, answer = call(url, {"command": "findTransactions", "tags": ["T" * 28]})
    assert status == 400 and answer["error"].startswith("Invalid tags input")
    status, answer = call(url, {"command": "findTransactions"})
    assert status == 400 and answer["error"].startswith("Invalid parameters")


# -- the node: what it refuses ---------------------------------------------------------------


def test_attach_to_tangle_checks(sandbox):
    url = sandbox.node_url
    raw = build_bundle(ADDRESS_A, "HI", timestamp=NOW)
    base = {"command": "attachToTangle", "trunkTransaction": NULL, "branchTransaction": NULL}
    status, answer = call(url, {**base, "minWeightMagnitude": MWM - 1, "trytes": raw})
    assert status == 400 and "below this node's 5" in answer["error"]
    status, answer = call(url, {**base, "minWeightMagnitude": 40, "trytes": raw})
    assert status == 400 and answer["error"].startswith("Invalid minWeightMagnitude input")
    status, answer = call(url, {**base, "minWeightMagnitude": MWM, "trytes": ["ABC"]})
    assert status == 400 and answer["error"].startswith("Invalid trytes input")
    status, answer = call(
        url, {**base, "trunkTransaction": "x", "minWeightMagnitude": MWM, "trytes": raw}
    )
    assert status == 400 and answer["error"].startswith("Invalid trunkTransaction input")


def test_store_refuses_bad_trytes_weak_pow_value_and_future(sandbox):
    url = sandbox.node_url
    store = {"command": "storeTransactions"}
    for bad in (["ABC"], ["a" * 2673], "not a list", []):
        status, answer = call(url, {**store, "trytes": bad})
        assert status == 400 and answer["error"].startswith("Invalid trytes input"), bad
    # weight 1 with a fixed clock: deterministic, and below the node's 5
    weak = bundle("WEAK", mwm=1, now_ms=NOW * 1000)
    assert trailing_zeros(transaction_hash(weak[0])) < MWM
    status, answer = call(url, {**store, "trytes": weak})
    assert status == 400 and answer["error"].startswith("Invalid transaction hash")
    assert "minWeightMagnitude 5" in answer["error"]
    valued = Transaction.from_trytes(bundle("V")[0]).replace(value=5).as_trytes()
    status, answer = call(url, {**store, "trytes": [valued]})
    assert status == 400 and "zero-value" in answer["error"]
    future = bundle("LATER", now_ms=(int(time.time()) + 3 * 3600) * 1000)
    status, answer = call(url, {"command": "broadcastTransactions", "trytes": future})
    assert status == 400 and answer["error"].startswith("Invalid timestamp")
    _, answer = call(url, {"command": "findTransactions", "addresses": [ADDRESS_A]})
    assert answer["hashes"] == []  # nothing of it was stored


def test_inconsistent_bundle_is_refused_whole(sandbox):
    url = sandbox.node_url
    raw = build_bundle(ADDRESS_A, "M" * 3000, timestamp=NOW)  # highest index first
    tx0, _tx1 = attach_to_tangle(NULL, NULL, MWM, raw)
    # transaction 1 with another message, with its own valid proof of work
    other = Transaction.from_trytes(raw[0]).replace(signature_message_fragment="X" * 2187)
    (tx1_forged,) = attach_to_tangle(NULL, NULL, MWM, [other.as_trytes()])
    status, answer = call(url, {"command": "storeTransactions", "trytes": [tx0, tx1_forged]})
    assert status == 400 and answer["error"].startswith("Invalid bundle")
    assert "trunk" in answer["error"]
    status, answer = call(url, {"command": "broadcastTransactions", "trytes": [tx0, tx1_forged]})
    assert status == 400 and answer["error"].startswith("Invalid bundle")
    _, answer = call(url, {"command": "getTrytes", "hashes": hashes([tx0, tx1_forged])})
    assert answer["trytes"] == ["9" * 2673] * 2


def test_bundles_completed_across_requests(sandbox):
    url = sandbox.node_url
    raw = build_bundle(ADDRESS_A, "M" * 3000, timestamp=NOW)
    tx0, tx1 = attach_to_tangle(NULL, NULL, MWM, raw)
    h0 = transaction_hash(tx0)
    with NodeClient(url) as node:
        node.store_transactions([tx0])  # the tail alone: stored, pending
        state, info = node.check_consistency([h0])
        assert state is False and "incomplete" in info
        assert node.get_transactions_to_approve(3) == (NULL, NULL)  # never offered as a tip
        assert node.get_node_info()["latestMilestoneIndex"] == 0
        node.store_transactions([tx1])  # completes it: checked now
        assert node.check_consistency([h0]) == (True, None)
        info = node.get_node_info()
        assert (info["latestMilestone"], info["latestMilestoneIndex"]) == (h0, 1)

    # a tail completing a stored transaction into an inconsistent bundle is refused
    raw = build_bundle(ADDRESS_B, "N" * 3000, timestamp=NOW)
    good0, good1 = attach_to_tangle(NULL, NULL, MWM, raw)
    (bad0,) = attach_to_tangle(transaction_hash(good1), "C" * 81, MWM, [raw[1]])  # wrong branch
    status, _ = call(url, {"command": "storeTransactions", "trytes": [good1]})
    assert status == 200
    status, answer = call(url, {"command": "storeTransactions", "trytes": [bad0]})
    assert status == 400 and "branch" in answer["error"]
    status, _ = call(url, {"command": "storeTransactions", "trytes": [good0]})
    assert status == 200


def test_concurrent_clients(sandbox):
    url = sandbox.node_url
    letters = "ABCDEF"
    whole = [bundle(f"WHOLE{c}", tag=f"T{c}") for c in letters]
    halves = [
        attach_to_tangle(NULL, NULL, MWM, build_bundle(ADDRESS_B, "H" * 3000 + c, timestamp=NOW))
        for c in letters[:3]
    ]
    jobs = [list(b) for b in whole] + [[t] for pair in halves for t in pair]
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def work(trytes: list[str]) -> None:
        try:
            with NodeClient(url) as node:
                barrier.wait(timeout=10)
                node.store_and_broadcast(trytes)
                node.find_transactions(addresses=[ADDRESS_A, ADDRESS_B])
                node.get_node_info()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    with NodeClient(url) as node:
        stored = node.find_transactions(addresses=[ADDRESS_A, ADDRESS_B])
        assert len(stored) == 6 + 6
        tails = [transaction_hash(b[0]) for b in whole + halves]
        assert node.check_consistency(tails) == (True, None)  # halves completed, whichever first
        info = node.get_node_info()
        assert info["tips"] == 9 and info["latestMilestoneIndex"] == 9


def test_persistent_across_restarts_and_one_sandbox_per_directory(tmp_path):
    data = tmp_path / "sandbox"
    stored = bundle("KEEP")
    with Sandbox(data, mwm=MWM) as sb:
        with pytest.raises(SandboxError, match="another sandbox"):
            Sandbox(data).start()
        with NodeClient(sb.node_url) as node:
            node.store_transactions(stored)
        device_id, sk = sb.create_demo_device()
        with MarketplaceClient(sb.api_url) as market:
            market.new_data(device_id, sk, root="R" * 81, sidekey="S" * 81, time=1)
            market.purchase_stream(sb.user_id, device_id, api_key=sb.api_key)
        api_key = sb.api_key
    assert sorted(p.name for p in data.iterdir() if p.suffix == ".db") == ["market.db", "node.db"]
    assert (data / "node.db").stat().st_mode & 0o777 == 0o600
    with Sandbox(data, mwm=MWM) as sb:
        assert sb.create_demo_device() == (device_id, sk)
        assert sb.api_key == api_key  # the demo keys are kept in the data directory
        with NodeClient(sb.node_url) as node, MarketplaceClient(sb.api_url) as market:
            assert node.get_trytes(hashes(stored)) == stored
            assert node.get_node_info()["latestMilestoneIndex"] == 1
            stream = market.stream(device_id, sb.user_id, api_key=api_key)
            assert [p.root for p in stream] == ["R" * 81]


# -- the marketplace ----------------------------------------------------------------------


def _device(device_id: str, **overrides) -> dict:
    return {**DEMO_DEVICE, "sensorId": device_id, "owner": "someone", **overrides}


def test_new_data_contract(sandbox):
    device_id, sk = sandbox.create_demo_device()
    packet = {"root": "R" * 81, "sidekey": "S" * 81, "time": 5}
    for body in (
        {},
        {"id": device_id, "sk": sk},
        {"id": device_id, "packet": packet},
        {"sk": sk, "packet": packet},
    ):
        status, answer = call(sandbox.endpoint, body)
        assert (status, answer) == (400, {"error": "Ensure all fields are included"}), body
    status, answer = call(sandbox.endpoint, {"id": "nope", "sk": sk, "packet": packet})
    assert status == 403 and "nope" in answer["error"]
    status, answer = call(sandbox.endpoint, {"id": device_id, "sk": "WRONG", "packet": packet})
    assert status == 403 and "WRONG" not in answer["error"]
    status, answer = call(sandbox.endpoint, {"id": device_id, "sk": sk, "packet": packet})
    assert (status, answer) == (200, {"success": True})
    with (
        MarketplaceClient.from_endpoint(sandbox.endpoint) as market,
        pytest.raises(InvalidSecretKeyError),
    ):
        market.new_data(device_id, "WRONG", root="R" * 81, sidekey="S" * 81, time=6)


def test_devices_keys_limit_and_delete(sandbox):
    demo_id, demo_sk = sandbox.create_demo_device()
    with MarketplaceClient(sandbox.api_url) as market:
        keys = {demo_id: demo_sk}
        for i in range(4):
            keys[f"dev-{i}"] = market.new_device(sandbox.api_key, _device(f"dev-{i}", price=10))
        listed = market.devices()
        assert [d["sensorId"] for d in listed] == list(keys)
        assert all("sk" not in d and "seed" not in d for d in listed)
        assert all(len(d["address"]) == 81 and d["owner"] == sandbox.user_id for d in listed)
        mine = market.devices(sandbox.user_id, sandbox.api_key)
        assert {d["sensorId"]: d["sk"] for d in mine} == keys
        with pytest.raises(MarketplaceRejectedError) as info:
            market.devices(sandbox.user_id, "not-the-key")
        assert info.value.status == 403
        with pytest.raises(MarketplaceRejectedError, match="too many devices"):
            market.new_device(sandbox.api_key, _device("dev-5"))
        with pytest.raises(MarketplaceRejectedError, match="exists"):
            market.new_device(sandbox.api_key, _device("dev-0"))

        _other_user, other_key = sandbox.market.create_user()
        with pytest.raises(MarketplaceRejectedError, match="permission"):
            market.delete_device(other_key, "dev-0")
        market.delete_device(sandbox.api_key, "dev-0")
        assert "dev-0" not in [d["sensorId"] for d in market.devices()]
        with pytest.raises(InvalidSecretKeyError):
            market.new_data("dev-0", keys["dev-0"], root="R" * 81, sidekey="S" * 81, time=1)
        assert market.new_device(other_key, _device("theirs")) != keys["dev-1"]
    # the server checks devices as the blueprint says (the client checks first, so go raw)
    status, answer = call(
        f"{sandbox.api_url}/newDevice",
        {"apiKey": sandbox.api_key, "id": "9bad", "device": _device("9bad")},
    )
    assert status == 400 and "sensorId" in answer["error"]
    status, answer = call(
        f"{sandbox.api_url}/newDevice", {"apiKey": "wrong", "id": "fine", "device": _device("fine")}
    )
    assert status == 403 and answer["error"] == "Invalid API key"


def test_stream_purchase_and_wallet(sandbox):
    device_id, sk = sandbox.create_demo_device()
    user, key = sandbox.user_id, sandbox.api_key
    with MarketplaceClient(sandbox.api_url) as market:
        for t in range(45):  # one root per packet (a root registered again is kept once)
            root = "R" * 79 + TRYTES[t // 27] + TRYTES[t % 27]
            market.new_data(device_id, sk, root=root, sidekey="S" * 81, time=1000 + t)
        with pytest.raises(MarketplaceRejectedError, match="not purchased"):
            market.stream(device_id, user, api_key=key)
        pricey = market.new_device(key, _device("pricey", price=5_000_000))
        assert pricey
        balance = market.user(user, api_key=key)["wallet"]["balance"]
        with pytest.raises(MarketplaceRejectedError, match="Not enough funds"):
            market.purchase_stream(user, "pricey", api_key=key)
        assert market.user(user, api_key=key)["wallet"]["balance"] == balance  # nothing taken

        market.purchase_stream(user, device_id, api_key=key)
        market.purchase_stream(user, device_id, api_key=key)  # a second purchase costs nothing
        wallet = market.user(user, api_key=key)["wallet"]
        assert wallet["balance"] == balance - DEMO_DEVICE["price"]
        assert len(wallet["seed"]) == 81 and len(wallet["address"]) == 81
        assert wallet["keyIndex"] == 0

        pages = [
            market.stream(device_id, user, api_key=key),
            market.stream(device_id, user, 1025, api_key=key),
            market.stream(device_id, user, 1005, api_key=key),
        ]
        assert [len(p) for p in pages] == [20, 20, 5]
        assert [p.time for p in pages[0]] == list(range(1044, 1024, -1))
        every = market.iter_stream(device_id, user, api_key=key)
        assert [p.time for p in every] == list(range(1044, 999, -1))

        newcomer, newcomer_key = sandbox.market.create_user()
        assert market.user(newcomer, api_key=newcomer_key)["wallet"] is None
        with pytest.raises(MarketplaceRejectedError, match="Wallet not set"):
            market.purchase_stream(newcomer, device_id, api_key=newcomer_key)
        market.wallet(newcomer, api_key=newcomer_key)
        assert market.user(newcomer, api_key=newcomer_key)["wallet"]["balance"] == 1_000_000
        market.purchase_stream(newcomer, device_id, api_key=newcomer_key)
        with pytest.raises(MarketplaceRejectedError):
            market.user("nobody", api_key=key)
        with pytest.raises(MarketplaceRejectedError):
            market.purchase_stream(user, "no-such-device", api_key=key)
    status, answer = call(f"{sandbox.api_url}/stream?deviceId=x", None, data=b"")
    assert status == 405
    answer = requests.get(f"{sandbox.api_url}/stream", params={"deviceId": device_id}, timeout=30)
    assert answer.status_code == 400


def test_new_data_keeps_a_root_once(sandbox):
    """A publisher whose newData answer was lost sends the packet again: success, one entry."""
    device_id, sk = sandbox.create_demo_device()
    user, key = sandbox.user_id, sandbox.api_key
    with MarketplaceClient(sandbox.api_url) as market:
        market.new_data(device_id, sk, root="A" * 81, sidekey="S" * 81, time=1)
        market.new_data(device_id, sk, root="B" * 81, sidekey="S" * 81, time=2)
        market.new_data(device_id, sk, root="A" * 81, sidekey="S" * 81, time=1)  # again
        status, answer = call(
            sandbox.endpoint,
            {
                "id": device_id,
                "sk": sk,
                "packet": {"root": "B" * 81, "sidekey": "S" * 81, "time": 2},
            },
        )
        assert (status, answer) == (200, {"success": True})
        market.purchase_stream(user, device_id, api_key=key)
        stream = market.stream(device_id, user, api_key=key)
        assert [(p.time, p.root) for p in stream] == [(2, "B" * 81), (1, "A" * 81)]
        other_sk = market.new_device(key, _device("other"))  # the same root, another device
        market.new_data("other", other_sk, root="A" * 81, sidekey="S" * 81, time=1)
        market.purchase_stream(user, "other", api_key=key)
        assert [p.root for p in market.stream("other", user, api_key=key)] == ["A" * 81]


def test_a_users_data_needs_their_api_key(sandbox):
    device_id, _sk = sandbox.create_demo_device()
    user, key = sandbox.user_id, sandbox.api_key
    other, other_key = sandbox.market.create_user()
    api = sandbox.api_url
    requests_for = {
        "user": lambda extra: requests.get(f"{api}/user", params={"userId": user, **extra}),
        "wallet": lambda extra: requests.post(f"{api}/wallet", json={"userId": user, **extra}),
        "purchaseStream": lambda extra: requests.post(
            f"{api}/purchaseStream", json={"userId": user, "deviceId": device_id, **extra}
        ),
        "stream": lambda extra: requests.get(
            f"{api}/stream", params={"userId": user, "deviceId": device_id, **extra}
        ),
    }
    for endpoint, send in requests_for.items():
        for extra in ({}, {"apiKey": ""}, {"apiKey": "wrong"}, {"apiKey": other_key}):
            response = send(extra)
            assert response.status_code == 403, (endpoint, extra)
            error = response.json()["error"]
            assert isinstance(error, str) and "seed" not in response.text, endpoint
            assert other_key not in error
        assert send({"apiKey": key}).status_code == 200, endpoint
    # an unknown user is refused as a wrong key is (no telling which users exist)
    response = requests.get(f"{api}/user", params={"userId": "nobody", "apiKey": key})
    assert (response.status_code, response.json()) == (403, {"error": "Invalid API key"})
    # the key stays out of the client's errors
    with MarketplaceClient(api) as market, pytest.raises(MarketplaceRejectedError) as info:
        market.user(other, api_key=key)
    assert key not in str(info.value) and key not in repr(info.value.__dict__)


def test_demo_keys_are_random_per_data_directory_and_kept(tmp_path):
    seen = []
    for name in ("one", "two"):
        with Sandbox(tmp_path / name, mwm=MWM) as sb:
            device = sb.create_demo_device()
            with MarketplaceClient(sb.api_url) as market:
                wallet = market.user(sb.user_id, api_key=sb.api_key)["wallet"]
            seen.append((sb.api_key, device[1], wallet["seed"]))
        with Sandbox(tmp_path / name, mwm=MWM) as sb:  # a restart keeps them
            with MarketplaceClient(sb.api_url) as market:
                wallet = market.user(sb.user_id, api_key=sb.api_key)["wallet"]
            assert (sb.api_key, sb.create_demo_device()[1], wallet["seed"]) == seen[-1]
    (key1, sk1, seed1), (key2, sk2, seed2) = seen
    assert key1 != key2 and sk1 != sk2 and seed1 != seed2
    assert len(sk1) == 15 and len(seed1) == 81


def test_a_data_directory_with_derived_demo_keys_gets_random_ones(tmp_path):
    import sqlite3

    from iota_publisher.sandbox import SandboxMarket

    path = tmp_path / "market.db"
    market = SandboxMarket(path)
    market.create_demo_device()
    market.close()
    old_key, old_sk = "8c7d1f2e-known-to-anyone", "KNOWNTOANYONE99"
    with sqlite3.connect(path) as conn:  # as such a directory looks: no marker, fixed keys
        conn.execute("DELETE FROM meta")
        conn.execute("UPDATE users SET api_key = ? WHERE id = 'demo-user'", (old_key,))
        conn.execute("UPDATE devices SET sk = ? WHERE id = 'sandbox-station'", (old_sk,))
    market = SandboxMarket(path)
    try:
        new_key, (_id, new_sk) = market.demo_api_key, market.create_demo_device()
        assert new_key != old_key and new_sk != old_sk and len(new_sk) == 15
    finally:
        market.close()
    market = SandboxMarket(path)  # once only
    try:
        assert (market.demo_api_key, market.create_demo_device()[1]) == (new_key, new_sk)
    finally:
        market.close()


def test_no_wildcard_cors_and_host_checked(sandbox):
    node, api = sandbox.node_url, sandbox.api_url
    port = {node: int(node.rsplit(":", 1)[1]), api: int(api.rsplit(":", 1)[1])}
    info = {"command": "getNodeInfo"}
    for url in (node, api):
        response = requests.post(url, json=info, headers=HEADERS, timeout=30)
        assert "Access-Control-Allow-Origin" not in response.headers
        preflight = requests.options(
            url, headers={"Origin": "http://evil.example", **HEADERS}, timeout=30
        )
        assert "Access-Control-Allow-Origin" not in preflight.headers
        for host in ("evil.example", f"evil.example:{port[url]}", "127.0.0.1:1", ""):
            response = requests.post(url, json=info, headers={"Host": host, **HEADERS}, timeout=30)
            assert response.status_code == 421, (url, host)
            assert "Host" in response.json()["error"]
        for host in (f"localhost:{port[url]}", f"LOCALHOST:{port[url]}", f"[::1]:{port[url]}"):
            response = requests.post(url, json=info, headers={"Host": host, **HEADERS}, timeout=30)
            assert response.status_code != 421, (url, host)
        # a page elsewhere cannot make the browser send its requests either
        response = requests.post(
            url, json=info, headers={"Origin": "http://evil.example", **HEADERS}, timeout=30
        )
        assert response.status_code == 403
    assert call(node, info)[0] == 200


def test_one_allowed_origin_gets_cors_headers_naming_it(tmp_path):
    origin = "http://localhost:3000"
    with Sandbox(tmp_path / "sandbox", mwm=MWM, allowed_origin=origin) as sb:
        preflight = requests.options(sb.node_url, headers={"Origin": origin}, timeout=30)
        assert preflight.status_code == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == origin
        assert "X-IOTA-API-Version" in preflight.headers["Access-Control-Allow-Headers"]
        response = requests.post(
            sb.node_url,
            json={"command": "getNodeInfo"},
            headers={"Origin": origin, **HEADERS},
            timeout=30,
        )
        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == origin
        other = requests.post(
            sb.node_url,
            json={"command": "getNodeInfo"},
            headers={"Origin": "http://localhost:3001", **HEADERS},
            timeout=30,
        )
        assert other.status_code == 403 and "Access-Control-Allow-Origin" not in other.headers


# -- the whole flow ------------------------------------------------------------------------


def test_end_to_end_agent_publishes_and_the_buyer_reads_it_back(tmp_path):
    from iota_publisher.drivers import create_driver

    from iota_publisher.agent import Agent
    from iota_publisher.publisher import Publisher

    readings: list[dict] = []
    enqueued: list[tuple[int, dict]] = []

    class RecordingDriver:
        def __init__(self, driver):
            self.driver = driver

        def read(self):
            values = self.driver.read()
            readings.append(values)
            return values

        def close(self):
            self.driver.close()

    class RecordingPublisher(Publisher):
        def enqueue(self, data, time=None):
            enqueued.append((time, dict(data)))
            return super().enqueue(data, time)

    with Sandbox(tmp_path / "sandbox", mwm=MWM) as sb:
        config_path = sb.write_config(tmp_path / "sandbox-config.json", interval=1)
        config = json.loads(config_path.read_text())
        assert config["debug"] is False and config["mwm"] == MWM
        assert config["provider"] == sb.node_url and config["endpoint"] == sb.endpoint
        assert Path(config["stateDir"]).is_relative_to((tmp_path / "sandbox").resolve())
        assert config_path.stat().st_mode & 0o777 == 0o600

        agent = Agent(
            config_path,
            publisher_factory=RecordingPublisher,
            driver_factory=lambda name, options: RecordingDriver(create_driver(name, options)),
        )
        assert agent.run(count=3) == 0

        with MarketplaceClient(sb.api_url) as market, NodeClient(sb.node_url) as node:
            market.wallet(sb.user_id, api_key=sb.api_key)
            market.purchase_stream(sb.user_id, config["sensorId"], api_key=sb.api_key)
            fetched = list(
                fetch_stream(market, node, config["sensorId"], sb.user_id, api_key=sb.api_key)
            )
            # the messages are on the node's Tangle, in complete, consistent bundles
            tails = node.find_transactions(tags=["SENSORDATA"])
            assert tails

    assert len(enqueued) == len(readings) == 3
    assert [(p.time, p.data) for p in reversed(fetched)] == enqueued
    for (_time, data), station in zip(enqueued, readings, strict=True):
        assert data == {
            "temperature": round(station["temperature"].value, 1),
            "humidity": round(station["humidity"].value),
            "pressure": round(station["pressure"].value, 1),
        }
    assert fetched[-1].next_root == fetched[-2].root  # one channel, in order


# -- the command -------------------------------------------------------------------------


def test_cli_sandbox_runs_and_stops_on_sigterm(tmp_path):
    config = tmp_path / "cfg.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "iota_publisher",
            "sandbox",
            "--port",
            "0",
            "--mwm",
            "5",
            "--data",
            str(tmp_path / "data"),
            "--config",
            str(config),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    killer = threading.Timer(30, proc.kill)
    killer.start()
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        text = "".join(lines)
        assert "node (legacy IRI API):  http://127.0.0.1:" in text, text
        assert "marketplace API:        http://127.0.0.1:" in text
        assert "sensorId sandbox-station" in text and "userId demo-user" in text
        written = json.loads(config.read_text())
        assert written["provider"] in text and written["secretKey"] in text
        status, answer = call(written["provider"], {"command": "getNodeInfo"})
        assert status == 200 and answer["appName"] == "iota-publisher sandbox"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        killer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "sandbox stopped" in out and not err


def test_cli_sandbox_refuses_a_busy_data_directory(tmp_path):
    with Sandbox(tmp_path / "data"):
        result = CliRunner().invoke(
            main, ["sandbox", "--port", "0", "--data", str(tmp_path / "data")]
        )
    assert result.exit_code == 1 and "another sandbox" in result.output


def test_the_host_names_a_server_answers_to():
    from iota_publisher.sandbox._http import _hosts_for

    loopback = {"127.0.0.1:14265", "localhost:14265", "[::1]:14265"}
    assert _hosts_for("127.0.0.1", 14265) == loopback
    assert _hosts_for("0.0.0.0", 14265) == loopback  # a wildcard bind: this machine's names
    assert _hosts_for("192.168.1.2", 14265) == {"192.168.1.2:14265"}
    assert _hosts_for("192.168.1.2", 80) == {"192.168.1.2:80", "192.168.1.2"}
