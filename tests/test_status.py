"""`iota-publish status`, `retry` and `drop`, beside a publisher that holds the state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from iota_publisher.cli import main
from iota_publisher.config import load_config
from iota_publisher.errors import BundleError, NodeRejectedError, NodeUnavailableError
from iota_publisher.publisher import Publisher
from iota_publisher.store import Stage, Store
from iota_publisher.testing import FakeMarketplace, FakeNode
from iota_publisher.trinary import validate_bundle


class StrictNode(FakeNode):
    def store_and_broadcast(self, trytes):
        self.check("store_and_broadcast")
        try:
            validate_bundle(trytes, mwm=self.mwm)
        except BundleError as exc:
            raise NodeRejectedError(
                f"storeTransactions failed: HTTP 400: {exc}",
                command="storeTransactions",
                status=400,
            ) from None
        self.record(trytes)


def _config(tmp_path: Path, **values) -> str:
    base = {
        "sensorId": "sensor-1",
        "secretKey": "TOPSECRET",
        "debug": False,
        "mwm": 1,
        "security": 1,
        "provider": "http://127.0.0.1:9",
        "endpoint": "http://127.0.0.1:9/newData",
        "stateDir": str(tmp_path / "state"),
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**base, **values}))
    return str(path)


@pytest.fixture
def state(tmp_path):
    """One reading published, one parked (refused at 'attached'), one waiting; the
    publisher stays open (it holds the lock, as the daemon does)."""
    config_path = _config(tmp_path)
    node, market = StrictNode(mwm=1), FakeMarketplace(secret_key="TOPSECRET")
    pub = Publisher(load_config(config_path), node=node, marketplace=market)
    published = pub.publish({"n": 1}, time=1_600_000_000_000)
    node.mwm = 9  # the node wants more than the config gives: parked after the re-attaches
    pub.enqueue({"n": 2}, time=1_600_000_010_000)
    pub.drain()
    [parked] = pub.store.parked()
    node.mwm = 1
    node.fail("get_transactions_to_approve", NodeUnavailableError("down", command="tips"))
    waiting_id = pub.enqueue({"n": 3}, time=1_600_000_020_000)
    with pytest.raises(NodeUnavailableError):
        pub.drain()
    yield {
        "config": config_path,
        "pub": pub,
        "node": node,
        "market": market,
        "published": published,
        "parked": parked,
        "waiting": waiting_id,
        "channel": pub.store.load_channel(),
    }
    pub.close()


def _run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input)


def test_status_while_the_publisher_holds_the_state(state):
    result = _run("status", "--config", state["config"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "a publisher is running" in out
    assert "outbox: 1 waiting (queued 0, prepared 1, attached 0, stored 0), 1 parked" in out
    assert "totals: 1 registered, 0 dropped" in out
    assert f"oldest waiting: reading {state['waiting']} of 2020-09-13 12:27:00 UTC" in out
    assert "last error: down" in out
    parked = state["parked"]
    assert f"reading {parked.id} of 2020-09-13 12:26:50 UTC, parked at attached" in out
    assert "HTTP 400" in out
    assert f"root {state['published'].root}" in out
    assert f"next root {state['channel']['nextRoot']}" in out
    assert "index 3" in out and "security 1" in out
    assert "hashing backend: " in out
    for secret in ("TOPSECRET", state["channel"]["seed"], state["channel"]["sideKey"]):
        assert secret not in out
    assert state["published"].side_key not in out


def test_status_json(state):
    result = _run("status", "--config", state["config"], "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["running"] is True
    assert info["outbox"] == {
        "queued": 0,
        "prepared": 1,
        "attached": 0,
        "stored": 0,
        "parked": 1,
        "registered": 1,
        "dropped": 0,
    }
    assert info["waiting"] == 1
    assert info["oldest_waiting"]["id"] == state["waiting"]
    assert info["oldest_waiting"]["time_ms"] == 1_600_000_020_000
    [parked] = info["parked"]
    assert parked["id"] == state["parked"].id and parked["parked_from"] == "attached"
    assert parked["attempts"] == 4 and "HTTP 400" in parked["last_error"]
    assert info["last_published"]["root"] == state["published"].root
    assert info["last_published"]["time_ms"] == 1_600_000_000_000
    assert info["channel"]["index"] == 3 and info["channel"]["mode"] == "restricted"
    assert info["channel"]["first_root"] == state["published"].root
    assert info["backend"] in ("native", "pure")
    text = result.output
    for secret in ("TOPSECRET", state["channel"]["seed"], state["channel"]["sideKey"]):
        assert secret not in text


def test_status_list(state):
    result = _run("status", "--config", state["config"], "--list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["id", "time", "stage", "tries", "last", "error"]
    [row] = lines[1:]
    assert row.split()[:5] == [str(state["waiting"]), "2020-09-13", "12:27:00", "UTC", "prepared"]
    assert row.rstrip().endswith("down")
    rows = json.loads(_run("status", "-c", state["config"], "--list", "--json").output)
    assert [(r["id"], r["stage"], r["attempts"]) for r in rows] == [
        (state["waiting"], "prepared", 1)
    ]


def test_status_without_state(tmp_path):
    config = _config(tmp_path)
    result = _run("status", "--config", config)
    assert result.exit_code == 0 and "no outbox yet" in result.output
    assert json.loads(_run("status", "--config", config, "--json").output)["outbox"] is None
    assert not (tmp_path / "state").exists()


def test_status_bad_config(tmp_path):
    result = _run("status", "--config", str(tmp_path / "missing.json"))
    assert result.exit_code == 2


def test_retry_while_the_publisher_runs(state):
    parked = state["parked"]
    result = _run("retry", "--config", state["config"], str(parked.id))
    assert result.exit_code == 0, result.output
    assert f"reading {parked.id} back at stage attached" in result.output
    pub = state["pub"]
    assert pub.store.get(parked.id).stage is Stage.ATTACHED
    results = pub.drain()  # the running publisher picks it up (re-attached, same message)
    assert [r.id for r in results] == [parked.id, state["waiting"]]
    assert results[0].root == parked.root
    assert pub.store.load_channel()["start"] == state["channel"]["start"]
    again = _run("retry", "--config", state["config"], "--all")
    assert again.exit_code == 0 and "no parked readings" in again.output


def test_retry_errors(state):
    assert _run("retry", "--config", state["config"]).exit_code == 2
    assert _run("retry", "--config", state["config"], "1", "--all").exit_code == 2
    result = _run("retry", "--config", state["config"], str(state["waiting"]))
    assert result.exit_code == 1 and "not parked" in result.output
    other = Path(state["config"]).parent / "other"
    other.mkdir()
    result = _run("retry", "--config", _config(other), "--all")
    assert result.exit_code == 1 and "no outbox" in result.output


def test_drop_a_parked_reading_while_the_publisher_runs(state):
    parked = state["parked"]
    result = _run("drop", "--config", state["config"], str(parked.id))
    assert result.exit_code == 0, result.output
    assert f"reading {parked.id} dropped (it was parked)" in result.output
    assert "readers that follow the channel stop before it" in result.output
    pub = state["pub"]
    assert pub.store.get(parked.id) is None and pub.store.stats()["dropped"] == 1
    info = json.loads(_run("status", "-c", state["config"], "--json").output)
    assert info["parked"] == [] and info["outbox"]["dropped"] == 1


def test_drop_a_waiting_reading_needs_the_publisher_stopped(state):
    waiting = state["waiting"]
    result = _run("drop", "--config", state["config"], str(waiting), input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output
    result = _run("drop", "--config", state["config"], str(waiting), "--yes")
    assert result.exit_code == 1 and "stop it first" in result.output
    assert state["pub"].store.get(waiting) is not None
    state["pub"].close()  # the daemon stops
    result = _run("drop", "--config", state["config"], str(waiting), input="y\n")
    assert result.exit_code == 0, result.output
    assert f"reading {waiting} dropped (it was prepared)" in result.output
    with Store(Path(state["config"]).parent / "state", readonly=True) as store:
        assert store.get(waiting) is None and store.stats()["dropped"] == 1
    result = _run("drop", "--config", state["config"], str(waiting), "--yes")
    assert result.exit_code == 1 and f"no reading {waiting}" in result.output
    status = _run("status", "--config", state["config"])
    assert "no publisher running" in status.output


def test_status_and_retry_beside_another_process(tmp_path):
    import subprocess
    import sys

    config = _config(tmp_path)
    script = (
        "import sys\n"
        "from iota_publisher.store import Stage, Store\n"
        "store = Store(sys.argv[1])\n"
        "a = store.enqueue(1000, '{}')\n"
        "store.enqueue(2000, '{}')\n"
        "store.park(a, Stage.QUEUED, 'refused')\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "print(store.head().id, store.stats()['parked'], flush=True)\n"
        "store.close()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "state")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline() == "ready\n"
        info = json.loads(_run("status", "--config", config, "--json").output)
        assert info["running"] is True
        assert (info["waiting"], info["outbox"]["parked"]) == (1, 1)
        result = _run("retry", "--config", config, "--all")
        assert result.exit_code == 0 and "back at stage queued" in result.output
        out, _ = child.communicate("go\n", timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert out.split() == ["1", "0"]  # the holder sees the reading back, first in line
    assert child.returncode == 0
