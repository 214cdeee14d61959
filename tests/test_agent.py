"""The agent loop: windows, sensor failures, outages, signals, systemd notify."""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from iota_publisher.drivers import Reading

from iota_publisher.agent import Agent, SystemdNotifier
from iota_publisher.errors import (
    MarketplaceRejectedError,
    NodeRejectedError,
    NodeUnavailableError,
)
from iota_publisher.fetch import fetch_message
from iota_publisher.publisher import Publisher
from iota_publisher.testing import FakeMarketplace, FakeNode
from iota_publisher.trinary import trytes_to_ascii


class VirtualTime:
    """Time for an agent's threads: it stands still while any worker runs and
    jumps to the earliest wake-up once every worker waits. Waits count
    :meth:`monotonic` seconds; the wall clock (calling it) can be stepped by
    ``on_advance`` (given the new monotonic time, it returns a step or ``None``)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.mono = start
        self.offset = 0.0
        self.agent = None
        self.on_advance = None
        self._cond = threading.Condition()
        self._sleeping: dict[threading.Thread, tuple[float, threading.Event]] = {}

    @property
    def now(self) -> float:
        return self.mono + self.offset

    def __call__(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def wait(self, event: threading.Event, seconds: float) -> None:
        me = threading.current_thread()
        with self._cond:
            wake = self.mono + max(0.0, seconds)
            self._sleeping[me] = (wake, event)
            try:
                while not event.is_set() and self.mono < wake:
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
            if entry is None or entry[1].is_set() or entry[0] <= self.mono:
                return False
        return bool(workers)

    def _advance(self) -> None:
        self.mono = max(self.mono, min(wake for wake, _ in self._sleeping.values()))
        step = self.on_advance(self.mono) if self.on_advance else None
        self.offset += step or 0.0
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
        monotonic=clock.monotonic,
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
    agent = Agent(cfg, notifier=SystemdNotifier(address=""), clock=clock, monotonic=clock.monotonic)
    clock.agent = agent
    agent._wait = clock.wait  # type: ignore[method-assign]
    assert agent.run() == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["data"] for line in lines] == [{"t": 1}, {"t": 2}, {"t": 3}]


def test_a_file_sources_own_times_stamp_the_packets(tmp_path, capsys):
    """History back-filled with its own timestamps (``time_key``): the packets carry the
    records' times, not the windows' in which they were read."""
    records = [
        {"at": "2024-05-01T12:00:00Z", "t": 1},
        {"at": "2024-05-01T12:01:00Z", "t": 2},
        {"at": 1714564920000, "t": 3},  # ms since the epoch: 12:02:00
    ]
    (tmp_path / "data.json").write_text(json.dumps(records))
    cfg = write_config(
        tmp_path,
        debug=True,
        interval=1,
        sensors=[
            {
                "name": "data",
                "driver": "file",
                "options": {"path": "data.json", "time_key": "at"},
            }
        ],
        fields=[{"id": "t", "reading": "t"}],
    )
    clock = VirtualTime()
    agent = Agent(cfg, notifier=SystemdNotifier(address=""), clock=clock, monotonic=clock.monotonic)
    clock.agent = agent
    agent._wait = clock.wait  # type: ignore[method-assign]
    assert agent.run() == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["time"], line["data"]) for line in lines] == [
        (1714564800000, {"t": 1}),
        (1714564860000, {"t": 2}),
        (1714564920000, {"t": 3}),
    ]


# -- readings are facts, sends are retries ------------------------------------------------

COUNTER = (
    "import pathlib, sys\n"
    "p = pathlib.Path(sys.argv[1])\n"
    "n = int(p.read_text()) + 1 if p.exists() else 1\n"
    "p.write_text(str(n))\n"
    "print('{\"n\": %d}' % n)\n"
)


def counter_config(tmp_path):
    return {
        "interval": 10,
        "sensors": [
            {
                "name": "c",
                "driver": "command",
                "options": {"command": [sys.executable, "-c", COUNTER, str(tmp_path / "n")]},
            }
        ],
        "fields": [{"id": "n", "sensor": "c", "reading": "n"}],
    }


def read_back(node, registered):
    """The packet a registration points at, from the node."""
    parsed = fetch_message(node, registered["root"], registered["sidekey"])
    packet = json.loads(trytes_to_ascii(parsed.message))
    assert packet["time"] == registered["time"]
    return packet


def real_drivers(name, options):
    from iota_publisher.drivers import create_driver

    return create_driver(name, options)


def test_a_counter_with_the_node_down_is_read_once_per_window_on_the_grid(tmp_path):
    """A `command` sensor printing a counter, interval 10 s, node down: 1, 2, 3, 4 on the grid."""
    node = FakeNode(mwm=3)
    node.fail("get_transactions_to_approve", *[NodeUnavailableError("down")] * 10_000)
    agent, node, market, clock = make_agent(
        tmp_path, [], node=node, factory=real_drivers, **counter_config(tmp_path)
    )
    start = clock.now
    assert agent.run(count=4) == 1  # readings stay unsent
    assert agent.summary.read == 4 and agent.summary.waiting == 4
    assert agent.summary.published == 0 and "down" in agent.summary.last_error
    assert (tmp_path / "n").read_text() == "4"  # read once per window, never again

    # the node is back: the same four readings, each once, with the time it was taken
    node.pending.clear()
    agent2, *_ = make_agent(
        tmp_path,
        [],
        node=node,
        market=market,
        factory=real_drivers,
        clock=clock,
        **counter_config(tmp_path),
    )
    assert agent2.run(count=1) == 0
    packets = [read_back(node, r["packet"]) for r in market.registered]
    assert [p["data"]["n"] for p in packets] == [1, 2, 3, 4, 5]
    times = [p["time"] for p in packets[:4]]
    assert times == [int((start + 10 * i) * 1000) for i in range(4)]
    assert all(t % 10_000 == 0 for t in times)


def test_count_counts_windows_even_when_a_window_yields_no_packet(tmp_path, capsys):
    a = CountingDriver([20.0])
    agent, _node, market, _clock = make_agent(
        tmp_path,
        [a],
        # a program's readings are known only when it runs
        sensors=[{"name": "a", "driver": "command", "options": {"command": [sys.executable]}}],
        fields=[{"id": "x", "sensor": "a", "reading": "temprature"}],  # misspelled
    )
    assert agent.run(count=3) == 1
    assert a.calls == 3 and market.registered == []
    err = capsys.readouterr().err
    assert "iota-publish run: 0 read, 0 published, 0 waiting; last error: no field" in err


def test_once_with_every_sensor_failing_exits_1(tmp_path, caplog):
    a, b = CountingDriver([1], fail={1}), CountingDriver([2], fail={1})
    agent, _node, _market, _clock = make_agent(tmp_path, [a, b])
    assert agent.run(once=True) == 1
    assert agent.summary.read == 0 and "sensor unplugged" in agent.summary.last_error


def test_a_backward_clock_step_never_stalls_the_grid(tmp_path):
    a, b = CountingDriver([20.0]), CountingDriver([5])
    agent, _node, market, clock = make_agent(tmp_path, [a, b])
    start, jumps = clock.now, [-120.0]

    def jump(target):  # on the way to the second window the clock is stepped back 2 minutes
        return jumps.pop() if jumps and target == start + 5 else None

    clock.on_advance = jump
    assert agent.run(count=3) == 0
    times = [r["packet"]["time"] / 1000 for r in market.registered]
    # re-anchored on the new clock's grid at once: no two-minute gap
    assert times == [start, start - 110, start - 100]


def test_outage_logs_one_warning_when_it_starts_and_one_when_it_ends(tmp_path, caplog):
    node = FakeNode(mwm=3)
    node.fail("get_transactions_to_approve", *[NodeUnavailableError("node down")] * 6)
    a, b = CountingDriver([20.0]), CountingDriver([5])
    agent, node, _market, _clock = make_agent(tmp_path, [a, b], node=node)
    with caplog.at_level(logging.INFO, logger="iota_publisher"):
        assert agent.run(count=3) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings
    assert "sending failed (node down); readings wait in the outbox" in warnings[0]
    assert "sending works again after" in warnings[1]
    published = [
        r.getMessage()
        for r in caplog.records
        if r.name == "iota_publisher.agent" and "published reading" in r.getMessage()
    ]
    assert len(published) == 3
    assert re.search(
        r"taken \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: root [A-Z9]{81} \(\d+\.\d s", published[0]
    )


def test_a_permanent_error_does_not_stop_the_daemon(tmp_path, caplog):
    node = FakeNode(mwm=3)
    node.fail("get_transactions_to_approve", NodeRejectedError("no tips for you"))
    a, b = CountingDriver([20.0]), CountingDriver([5])
    agent, node, market, _clock = make_agent(tmp_path, [a, b], node=node)
    assert agent.run(count=2) == 0
    assert "sending failed (no tips for you); readings wait in the outbox" in caplog.text
    assert len(market.registered) == 2


def test_a_parked_reading_lets_the_others_through_and_fails_the_run(tmp_path, capsys):
    market = FakeMarketplace()
    market.fail("new_data", MarketplaceRejectedError("bad packet", status=400))
    a, b = CountingDriver([20.0]), CountingDriver([5])
    agent, _node, market, _clock = make_agent(tmp_path, [a, b], market=market)
    assert agent.run(count=3) == 1  # one reading of this run stays unsent
    assert len(market.registered) == 2
    assert agent.summary.parked == 1 and agent.summary.waiting == 0
    assert "reading 1 parked: bad packet" in agent.summary.last_error
    assert "1 parked; last error: reading 1 parked" in capsys.readouterr().err


def test_a_wedged_send_is_abandoned_on_stop_and_nothing_is_lost(tmp_path):
    """A drain blocked in a call: stop returns within the grace, the reading stays queued."""
    release = threading.Event()

    class Stuck(FakeNode):
        def get_transactions_to_approve(self, depth=3):
            release.wait(30)
            raise NodeUnavailableError("gone")

    a, b = CountingDriver([20.0]), CountingDriver([5])
    agent, *_ = make_agent(tmp_path, [a, b], node=Stuck(mwm=3))
    agent._wait = lambda event, seconds: event.wait(seconds)  # real time: the sender blocks
    threading.Timer(0.5, agent.stop).start()
    started = time.monotonic()
    try:
        assert agent.run() == 0
        assert time.monotonic() - started < 2.5
        assert agent.abandoned
        assert agent.summary.waiting == 1
    finally:
        release.set()
    for worker in agent._workers:
        worker.join(5)
    stats = agent._publisher.store.stats()
    assert stats["queued"] + stats["prepared"] == 1 and stats["registered"] == 0
    agent._publisher.close()


def test_watchdog_pings_while_a_backlog_drains(tmp_path, monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # ping every 0.2 s
    path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    node = FakeNode(mwm=3)
    real = node.store_and_broadcast

    def slow(trytes):
        time.sleep(0.05)
        return real(trytes)

    node.store_and_broadcast = slow
    cfg = Publisher(Agent(write_config(tmp_path)).config, node=node, marketplace=FakeMarketplace())
    for i in range(30):
        cfg.enqueue({"ta": i}, time=1_600_000_000_000 + i)
    cfg.close()
    a, b = CountingDriver([20.0]), CountingDriver([5])
    agent, *_ = make_agent(tmp_path, [a, b], node=node)
    agent._notifier = SystemdNotifier(path)
    agent._wait = lambda event, seconds: event.wait(seconds)
    pings: list[float] = []
    done = threading.Event()

    def listen():
        server.settimeout(0.1)
        while not done.is_set():
            try:
                if b"WATCHDOG=1" in server.recv(1024):
                    pings.append(time.monotonic())
            except OSError:
                pass

    listener = threading.Thread(target=listen)
    listener.start()
    try:
        assert agent.run(once=True) == 0
    finally:
        done.set()
        listener.join()
        server.close()
    assert agent.published == 31
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert len(pings) >= 5 and max(gaps) < 1.0


# -- visible by default ------------------------------------------------------------------


def test_run_logs_at_info_with_timestamps_unless_journald_listens(tmp_path, monkeypatch):
    from iota_publisher.cli._common import setup_logging, under_journald

    root = logging.getLogger("iota_publisher")
    saved = root.handlers[:], root.level
    try:
        monkeypatch.delenv("JOURNAL_STREAM", raising=False)
        setup_logging(0, daemon=True)
        assert root.level == logging.INFO
        record = logging.LogRecord("iota_publisher.agent", logging.INFO, "", 0, "hi", (), None)
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", root.handlers[0].format(record))
        setup_logging(-1, daemon=True)
        assert root.level == logging.WARNING
        setup_logging(0)
        assert root.level == logging.WARNING  # other commands stay quiet

        with open(tmp_path / "journal", "w") as stream:
            st = os.fstat(stream.fileno())
            monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
            assert under_journald(stream)
            monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino + 1}")
            assert not under_journald(stream)
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


def test_run_shows_retries_once_per_outage_not_once_per_retry(monkeypatch):
    from iota_publisher.cli._common import setup_logging

    root = logging.getLogger("iota_publisher")
    saved = root.handlers[:], root.level
    try:
        setup_logging(0, daemon=True)
        handler = root.handlers[0]
        retry = logging.LogRecord(
            "iota_publisher._http.retries",
            logging.WARNING,
            "",
            0,
            "%s failed (%s); retry %d of %d in %.1f s",
            ("x", "y", 1, 3, 0.5),
            None,
        )
        assert not handler.filter(retry)
        other = logging.LogRecord("iota_publisher._http", logging.WARNING, "", 0, "other", (), None)
        assert handler.filter(other)
        setup_logging(1, daemon=True)  # -v shows them, at debug
        assert root.handlers[0].filter(retry) and retry.levelname == "DEBUG"
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


def test_no_secret_reaches_the_log_or_the_summary(tmp_path, caplog, capsys):
    node = FakeNode(mwm=3)
    node.fail("get_transactions_to_approve", NodeUnavailableError("down: SECRETKEY99 PASSWORD1"))
    a, b = CountingDriver([20.0]), CountingDriver([5])
    agent, *_ = make_agent(
        tmp_path,
        [a, b],
        node=node,
        secretKey="SECRETKEY99",
        provider="http://user:PASSWORD1@127.0.0.1:1/?key=QUERYKEY1",
    )
    with caplog.at_level(logging.DEBUG, logger="iota_publisher"):
        agent.run(once=True)
    text = caplog.text + capsys.readouterr().err
    assert "publishing as sensor-1 through http://user:***@127.0.0.1:1/?key=***" in text
    for secret in ("SECRETKEY99", "PASSWORD1", "QUERYKEY1"):
        assert secret not in text


def test_a_reload_keeps_the_grid_and_the_sender_going(tmp_path, caplog):
    agent_box = []

    class Reloading(CountingDriver):
        def read(self):
            if self.calls == 1:  # during the second window: SIGHUP
                agent_box[0].reload()
            return super().read()

    drivers = [Reloading([20.0]), CountingDriver([5]), CountingDriver([21.0]), CountingDriver([6])]
    agent, _node, market, clock = make_agent(tmp_path, drivers)
    agent_box.append(agent)
    start = clock.now
    with caplog.at_level(logging.INFO, logger="iota_publisher"):
        assert agent.run(count=4) == 0
    assert "config reloaded" in caplog.text
    times = [r["packet"]["time"] / 1000 for r in market.registered]
    assert len(times) == 4 and times[0] == start
    assert all(t % 10 == 0 for t in times) and len(set(times)) == 4
