"""The agent loop: windows, sensor failures, outages, signals, systemd notify."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from iota_publisher.drivers import Reading

from iota_publisher.agent import Agent, SystemdNotifier
from iota_publisher.errors import NodeUnavailableError
from iota_publisher.publisher import Publisher
from iota_publisher.testing import FakeMarketplace, FakeNode


class VirtualTime:
    """Wall and monotonic time for an agent's threads: it stands still while any
    worker runs and jumps to the earliest wake-up once every worker waits."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.agent = None
        self.on_advance = None  # called with the new time; may return a jump (seconds)
        self._cond = threading.Condition()
        self._sleeping: dict[threading.Thread, tuple[float, threading.Event]] = {}

    def __call__(self) -> float:
        return self.now

    def wait(self, event: threading.Event, seconds: float) -> None:
        me = threading.current_thread()
        with self._cond:
            wake = self.now + max(0.0, seconds)
            self._sleeping[me] = (wake, event)
            try:
                while not event.is_set() and self.now < wake:
                    if self._all_asleep():
                        self._advance()
                    else:
                        self._cond.wait(0.002)
            finally:
                self._sleeping.pop(me, None)
                self._cond.notify_all()

    def _all_asleep(self) -> bool:
        workers = [t for t in self.agent._workers if t.is_alive()]
        for t in workers:
            entry = self._sleeping.get(t)
            if entry is None or entry[1].is_set() or entry[0] <= self.now:
                return False
        return bool(workers)

    def _advance(self) -> None:
        target = min(wake for wake, _ in self._sleeping.values())
        jump = self.on_advance(target) if self.on_advance else None
        self.now = max(self.now, target) + (jump or 0.0)
        self._cond.notify_all()


class CountingDriver:
    def __init__(self, values, fail=()):
        self.values = list(values)
        self.fail = set(fail)
        self.calls = 0
        self.closed = False

    def read(self):
        self.calls += 1
        if self.calls in self.fail:
            raise OSError("sensor unplugged")
        return {
            "temperature": Reading(
                "temperature", self.values[(self.calls - 1) % len(self.values)], "C"
            )
        }

    def close(self):
        self.closed = True


def write_config(tmp_path, **extra):
    cfg = {
        "sensorId": "sensor-1",
        "secretKey": "SECRET",
        "debug": False,
        "mwm": 3,
        "security": 1,
        "provider": "http://127.0.0.1:1",
        "endpoint": "http://127.0.0.1:2/newData",
        "stateDir": str(tmp_path / "state"),
        "interval": 10,
        "sensors": [{"name": "a", "driver": "simulated"}, {"name": "b", "driver": "simulated"}],
        "fields": [
            {"id": "ta", "sensor": "a", "reading": "temperature", "unit": "F", "round": 1},
            {"id": "tb", "sensor": "b", "reading": "temperature"},
        ],
        **extra,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    return path


def make_agent(tmp_path, drivers, node=None, market=None, clock=None, factory=None, **extra):
    node = node or FakeNode(mwm=3)
    market = market or FakeMarketplace()
    clock = clock or VirtualTime()
    agent = Agent(
        write_config(tmp_path, **extra),
        publisher_factory=lambda cfg: Publisher(cfg, node=node, marketplace=market, clock=clock),
        driver_factory=factory or (lambda name, options: drivers.pop(0)),
        clock=clock,
        monotonic=clock,
        notifier=SystemdNotifier(address=""),
    )
    # time passes only while every worker waits, and at once
    clock.agent = agent
    agent._wait = clock.wait  # type: ignore[method-assign]
    return agent, node, market, clock


def test_publishes_mapped_readings_on_aligned_windows(tmp_path):
    a, b = CountingDriver([20.0, 21.0, 22.0]), CountingDriver([5])
    agent, _node, market, _clock = make_agent(tmp_path, [a, b])
    assert agent.run(count=3) == 0
    times = [r["packet"]["time"] for r in market.registered]
    assert len(times) == 3
    assert all(t % 10_000 == 0 for t in times[1:])  # windows on the 10 s grid after the first
    assert a.closed and b.closed


def test_a_failing_sensor_does_not_stop_the_others(tmp_path, caplog):
    a, b = CountingDriver([20.0], fail={1, 2}), CountingDriver([5])
    agent, _node, market, _clock = make_agent(tmp_path, [a, b])
    assert agent.run(count=2) == 0
    assert "sensor 'a' failed" in caplog.text
    assert "field 'ta' left out" in caplog.text
    # the first packets carry only b's field; a's comes back once it recovers
    assert len(market.registered) == 2


def test_node_outage_keeps_readings_and_sends_them_later(tmp_path, caplog):
    node = FakeNode(mwm=3)
    node.fail("get_transactions_to_approve", *[NodeUnavailableError("down")] * 3)
    a, b = CountingDriver([20.0]), CountingDriver([5])
    agent, node, market, _clock = make_agent(tmp_path, [a, b], node=node)
    assert agent.run(count=4) == 0
    assert "readings wait in the outbox" in caplog.text
    # every reading taken was registered once, in order
    times = [r["packet"]["time"] for r in market.registered]
    assert times == sorted(times) and len(set(times)) == len(times)


def test_wrong_secret_key_stops_with_an_error(tmp_path, capsys):
    market = FakeMarketplace(secret_key="OTHER")
    agent, *_ = make_agent(tmp_path, [CountingDriver([1]), CountingDriver([2])], market=market)
    assert agent.run(count=5) == 1
    assert "secret key" in capsys.readouterr().err


def test_missed_windows_are_skipped_after_a_clock_jump(tmp_path):
    a, b = CountingDriver([20.0]), CountingDriver([5])
    agent, _node, market, clock = make_agent(tmp_path, [a, b])
    start, jumps = clock.now, [3600.0]

    def jump(target):  # the wait for the second window ends an hour late (suspend, NTP step)
        return jumps.pop() if jumps and target == start + 10 else None

    clock.on_advance = jump
    assert agent.run(count=3) == 0
    times = [r["packet"]["time"] for r in market.registered]
    assert times[1] - times[0] > 3_600_000  # the hour of missed windows was not replayed
    assert times[2] - times[1] == 10_000


def test_systemd_notify_messages(tmp_path):
    path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(2)
    try:
        SystemdNotifier(path).notify(READY="1", STATUS="hello")
        assert server.recv(1024) == b"READY=1\nSTATUS=hello"
    finally:
        server.close()


def test_debug_mode_prints_one_json_line_per_reading(tmp_path, capsys):
    a, b = CountingDriver([20.0]), CountingDriver([5])
    agent, _node, market, _clock = make_agent(tmp_path, [a, b], debug=True)
    agent._publisher_factory = None  # the real publisher, which sends nothing in debug mode
    assert agent.run(count=2) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])["data"] == {"ta": 68.0, "tb": 5}
    assert market.registered == [] and not (tmp_path / "state").exists()


@pytest.mark.skipif(sys.platform != "linux", reason="signals and sd_notify are Linux-only here")
def test_sigterm_and_sighup_in_a_real_process(tmp_path):
    """Run `iota-publish run` in debug mode with the simulated sensor; HUP reloads, TERM stops."""
    cfg = write_config(
        tmp_path,
        debug=True,
        interval=1,
        sensors=[{"name": "a", "driver": "simulated"}],
        fields=[{"id": "ta", "sensor": "a", "reading": "temperature"}],
    )
    notify = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(notify)
    server.settimeout(20)
    env = {**os.environ, "NOTIFY_SOCKET": notify}
    proc = subprocess.Popen(
        [sys.executable, "-m", "iota_publisher.cli", "-v", "run", "--config", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert b"READY=1" in server.recv(1024)
        time.sleep(1.5)
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        server.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "config reloaded" in err
    packets = [json.loads(line) for line in out.splitlines()]
    assert len(packets) >= 2 and all("ta" in p["data"] for p in packets)


def test_file_source_publishes_every_record_then_stops(tmp_path, capsys):
    """The template's first example: publish each object of data.json, then stop."""
    (tmp_path / "data.json").write_text(json.dumps([{"t": 1}, {"t": 2}, {"t": 3}]))
    cfg = write_config(
        tmp_path,
        debug=True,
        interval=1,
        sensors=[{"name": "data", "driver": "file", "options": {"path": "data.json"}}],
        fields=[{"id": "t", "reading": "t"}],
    )
    clock = VirtualTime()
    agent = Agent(cfg, notifier=SystemdNotifier(address=""), clock=clock, monotonic=clock)
    clock.agent = agent
    agent._wait = clock.wait  # type: ignore[method-assign]
    assert agent.run() == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["data"] for line in lines] == [{"t": 1}, {"t": 2}, {"t": 3}]
