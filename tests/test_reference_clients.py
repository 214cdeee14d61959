"""The sandbox node driven by the reference JavaScript clients, as legacy applications use it.

``tests/reference_clients`` pins ``@iota/core`` 1.0.0-beta.30 and ``@iota/mam.js``
1.0.0-beta.10 as ``tests/vectors`` does; the first test of the session installs
them there with ``npm ci``. Each test runs ``clients.js`` with Node against a
real :class:`~iota_publisher.sandbox.Sandbox` on 127.0.0.1: mam.js publishes
with remote proof of work (the node's ``attachToTangle``) and reads channels to
their end (``mamFetchAll`` ends with ``getTrytes`` of no hashes); ``@iota/core``
makes the calls a legacy application makes. Messages cross between the
reference clients and this package's publisher and reader both ways.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from iota_publisher.config import Config
from iota_publisher.fetch import fetch_channel
from iota_publisher.node import NodeClient
from iota_publisher.publisher import Publisher
from iota_publisher.sandbox import Sandbox
from iota_publisher.trinary import ascii_to_trytes, trytes_to_ascii

CLIENTS = Path(__file__).parent / "reference_clients"
MWM = 7
SEED = "REFERENCE9CLIENTS9SEED9" + "9" * 58
SIDE_KEY = "REFERENCE9SIDE9KEY"
NPM_TIMEOUT = 300
RUN_TIMEOUT = 120


@pytest.fixture(scope="session")
def node_js() -> str:
    """The ``node`` executable, with the pinned clients installed (once per session)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(n for n, p in (("node", node), ("npm", npm)) if p is None)
        pytest.skip(f"the reference JavaScript clients need Node.js: {missing} not found on PATH")
    result = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=CLIENTS,
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"npm ci failed in {CLIENTS}:\n{result.stderr[-4000:]}"
    return node


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    with Sandbox(tmp_path_factory.mktemp("sandbox"), mwm=MWM) as sb:
        yield sb


def run(node_js: str, command: str, *args: str) -> dict:
    result = subprocess.run(
        [node_js, str(CLIENTS / "clients.js"), command, *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"clients.js {command} failed:\n{result.stderr[-4000:]}"
    return json.loads(result.stdout)


def packet(time: int, data: dict) -> str:
    return ascii_to_trytes(json.dumps({"time": time, "data": data}, separators=(",", ":")))


def test_mam_js_publishes_with_remote_pow_and_reads_the_channel_to_its_end(node_js, sandbox):
    messages = [packet(1_700_000_000_000 + i, {"n": i}) for i in range(3)]
    published = run(node_js, "publish", sandbox.node_url, str(MWM), SEED, SIDE_KEY, *messages)[
        "published"
    ]
    assert len(published) == 3 and all(p["transactions"] >= 1 for p in published)
    root = published[0]["root"]

    read = run(node_js, "read", sandbox.node_url, root, SIDE_KEY)
    assert [m["message"] for m in read["all"]] == messages  # mamFetchAll reached the end
    assert [m["root"] for m in read["all"]] == [p["root"] for p in published]
    assert read["first"] == read["all"][0]

    with NodeClient(sandbox.node_url) as node:
        # attached by the node at its minWeightMagnitude, stored as consistent bundles
        assert node.check_consistency([p["tail"] for p in published]) == (True, None)
        # and this package's reader follows the reference publisher's channel
        fetched = list(fetch_channel(node, root, SIDE_KEY))
    assert [(p.time, p.data) for p in fetched] == [
        (1_700_000_000_000 + i, {"n": i}) for i in range(3)
    ]
    assert [p.root for p in fetched] == [p["root"] for p in published]


def test_mam_js_reads_what_the_publisher_published(node_js, sandbox, tmp_path):
    device_id, secret_key = sandbox.create_demo_device()
    config = Config.from_mapping(
        {
            "sensorId": device_id,
            "secretKey": secret_key,
            "debug": False,
            "provider": sandbox.node_url,
            "endpoint": sandbox.endpoint,
            "mwm": MWM,
            "sideKey": "fixed",
            "stateDir": str(tmp_path / "state"),
        }
    )
    with Publisher(config) as publisher:
        results = [publisher.publish({"t": 20 + i}, time=1_700_000_000_000 + i) for i in range(3)]
    side_key = results[0].side_key
    assert side_key and all(r.side_key == side_key for r in results)

    read = run(node_js, "read", sandbox.node_url, results[0].root, side_key)
    packets = [json.loads(trytes_to_ascii(m["message"])) for m in read["all"]]
    assert packets == [{"time": 1_700_000_000_000 + i, "data": {"t": 20 + i}} for i in range(3)]
    assert [m["root"] for m in read["all"]] == [r.root for r in results]
    assert read["first"]["root"] == results[0].root


def test_iota_core_calls_a_legacy_application_makes(node_js, sandbox):
    out = run(node_js, "core", sandbox.node_url, str(MWM))
    info = out["nodeInfo"]
    assert info["appName"] == "iota-publisher sandbox" and "RemotePOW" in info["features"]
    for name in ("latestMilestone", "latestSolidSubtangleMilestone", "coordinatorAddress"):
        assert len(info[name]) == 81
    assert out["neighbors"] == []
    assert set(out["toApprove"]) == {"trunkTransaction", "branchTransaction"}

    sent = out["sent"]
    assert [t["currentIndex"] for t in sent] == [0, 1]
    tail = sent[0]["hash"]
    hashes = [t["hash"] for t in sent]
    assert sorted(out["found"]) == sorted(hashes) and sorted(out["foundByTag"]) == sorted(hashes)
    assert out["nothingFound"] == [] and out["noObjects"] == [] and out["noTrytes"] == []
    assert out["objectMessage"] == out["message"]
    assert out["bundle"] == hashes
    assert out["inclusion"] == [True, False] and out["noInclusion"] == []
    if "latestInclusion" in out:  # in @iota/core releases before 1.0.0-beta.30
        assert out["latestInclusion"] == [True]
    assert out["consistent"] is True and out["consistentTail"] is True
    assert out["balances"] == [0] and out["noBalances"] == []
    assert out["spent"] == [False] and out["noSpent"] == []
    assert out["promotable"] is True
    assert out["storedAgain"] == len(sent)
    replayed = out["replayed"]
    assert [t["currentIndex"] for t in replayed] == [t["currentIndex"] for t in sent]
    assert {t["bundle"] for t in replayed} == {sent[0]["bundle"]}  # the same bundle, reattached
    assert replayed[0]["hash"] != tail
    assert out["promoted"] >= 1
    assert len(out["newAddress"]) in (81, 90)
    after = out["after"]
    # the sandbox confirms each complete bundle: the send, the reattachment, the promotion
    assert after["latestMilestoneIndex"] == info["latestMilestoneIndex"] + 3
