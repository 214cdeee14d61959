"""Kill a publishing process at random points, many times; nothing is lost or signed twice."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

from iota_publisher.fetch import fetch_message
from iota_publisher.testing import FakeMarketplace, FakeNode
from iota_publisher.trinary import trytes_to_ascii

READINGS = 40
BASE_TIME = 1_600_000_000_000

CHILD = """
import random, sys, time
from iota_publisher.testing import FakeMarketplace, FakeNode
from iota_publisher.config import Config
from iota_publisher.publisher import Publisher

state, node_log, market_log, mode = sys.argv[1:5]
rng = random.Random()

def slow(obj, *names):
    for name in names:
        real = getattr(obj, name)
        def wrapped(*a, _real=real, **k):
            time.sleep(rng.uniform(0, 0.03))
            out = _real(*a, **k)
            time.sleep(rng.uniform(0, 0.03))
            return out
        setattr(obj, name, wrapped)

node = FakeNode(mwm=1, path=node_log)
market = FakeMarketplace(path=market_log)
slow(node, "get_transactions_to_approve", "store_and_broadcast")
slow(market, "new_data")
config = Config.from_mapping({{
    "sensorId": "sensor-1", "secretKey": "SECRET", "debug": False, "mwm": 1, "security": 1,
    "provider": "http://127.0.0.1:1", "endpoint": "http://127.0.0.1:2/newData", "stateDir": state,
}})
with Publisher(config, node=node, marketplace=market) as pub:
    if mode == "enqueue":
        for i in range({readings}):
            pub.enqueue({{"n": i}}, time={base} + i)
    else:
        pub.drain()
print("done")
"""


def run_child(args, kill_after=None):
    script = CHILD.format(readings=READINGS, base=BASE_TIME)
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    if kill_after is None:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
        return True
    try:
        proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        return False
    _out, err = proc.communicate()
    assert proc.returncode == 0, err.decode()
    return True


def test_kill_minus_nine_at_random_points(tmp_path):
    state = tmp_path / "state"
    node_log, market_log = tmp_path / "node.jsonl", tmp_path / "market.jsonl"
    args = [str(state), str(node_log), str(market_log)]
    run_child(args + ["enqueue"])

    rng = random.Random(1234)
    kills = 0
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and kills < 25:
        finished = run_child(args + ["drain"], kill_after=rng.uniform(0.3, 0.8))
        if finished:
            break
        kills += 1
    run_child(args + ["drain"])  # and a last, undisturbed run to finish
    assert kills >= 5, "the kills did not interrupt the publisher often enough to mean anything"

    market = FakeMarketplace(path=market_log)
    node = FakeNode(mwm=1, path=node_log)
    by_time: dict[int, set[tuple[str, str]]] = {}
    for record in market.registered:
        p = record["packet"]
        by_time.setdefault(p["time"], set()).add((p["root"], p["sidekey"]))

    # every accepted reading registered, and re-sends carried the same message
    assert sorted(by_time) == [BASE_TIME + i for i in range(READINGS)]
    assert all(len(v) == 1 for v in by_time.values()), "a reading became two different messages"
    messages = [next(iter(by_time[BASE_TIME + i])) for i in range(READINGS)]
    roots = [root for root, _ in messages]
    assert len(set(roots)) == READINGS  # no channel index used twice

    # the chain of next roots is unbroken, in order, and every packet reads back
    for i, (root, side_key) in enumerate(messages):
        parsed = fetch_message(node, root, side_key)
        assert parsed is not None
        packet = json.loads(trytes_to_ascii(parsed.message))
        assert packet == {"time": BASE_TIME + i, "data": {"n": i}}
        if i + 1 < READINGS:
            assert parsed.next_root == roots[i + 1]
