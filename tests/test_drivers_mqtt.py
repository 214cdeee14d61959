"""The mqtt source (drivers/mqtt.py): with the fake paho client, then against a real mosquitto."""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from iota_publisher.drivers import (
    DriverError,
    SensorDataError,
    SensorUnavailableError,
    create_driver,
    driver_class,
)
from iota_publisher.drivers.fakes import NOT_AUTHORIZED, FakeMqttClient, FakeMqttMessage
from iota_publisher.drivers.mqtt import MqttSource, check_topic_filter, topic_matches

from iota_publisher.errors import ConfigError

T0 = 1_556_712_000.0  # 2019-05-01T12:00:00Z


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(readings, client=None, clock=None, **options):
    client = client or FakeMqttClient()
    driver = create_driver(
        "mqtt", {"readings": readings, **options}, client=client, clock=clock or Clock()
    )
    return driver, client


def values(readings):
    return {name: r.value for name, r in readings.items()}


# -- topics ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic_filter", "topic", "match"),
    [
        ("a/b", "a/b", True),
        ("a/b", "a/b/c", False),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/+/c", "a/x/c", True),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("#", "a/b", True),
        ("+/b", "/b", True),
        ("#", "$SYS/broker/uptime", False),
        ("+/broker", "$SYS/broker", False),
        ("$SYS/#", "$SYS/broker", True),
    ],
)
def test_topic_matches(topic_filter, topic, match):
    assert topic_matches(topic_filter, topic) is match


@pytest.mark.parametrize("bad", ["", "a/b+", "a/#/b", "a#", "x\0"])
def test_bad_topic_filters(bad):
    with pytest.raises(ValueError):
        check_topic_filter(bad)


# -- options ---------------------------------------------------------------------------


def test_connects_and_subscribes_once_per_topic():
    driver, client = make(
        {
            "temperature": {"topic": "zigbee2mqtt/living-room", "path": "temperature"},
            "humidity": {"topic": "zigbee2mqtt/living-room", "path": "humidity"},
            "power": "tasmota/plug/power",
        },
        url="mqtt://broker.lan",
        qos=1,
        keepalive=30,
    )
    assert ("connect_async", ("broker.lan", 1883, 30)) in client.calls
    assert client.subscriptions == {"zigbee2mqtt/living-room": 1, "tasmota/plug/power": 1}
    assert driver.connected and driver.broker == "mqtt://broker.lan:1883"
    assert ("reconnect_delay_set", (1.0, 60.0)) in client.calls
    driver.close()
    assert not client.connected and not client.looping


def test_credentials_and_tls(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not read by the fake")
    driver, client = make(
        {"t": {"topic": "a"}},
        url="mqtts://broker.lan",
        username="pi",
        password="HIDDEN-PASSWORD",
        ca=str(ca),
    )
    assert client.password == "HIDDEN-PASSWORD"
    assert ("username_pw_set", ("pi", "***")) in client.calls
    assert ("tls_set", {"ca_certs": str(ca), "certfile": None, "keyfile": None}) in client.calls
    assert driver.port == 8883 and "HIDDEN" not in repr(driver)
    with pytest.raises(SensorUnavailableError) as info:
        driver.read()
    assert "HIDDEN" not in str(info.value)


def test_relative_tls_files_are_taken_from_the_config_folder(tmp_path):
    from iota_publisher.drivers import DriverContext

    prepared = MqttSource.prepare_options(
        {"ca": "ca.pem", "url": "mqtts://h"}, DriverContext(tmp_path, tmp_path / "state")
    )
    assert prepared == {"ca": str(tmp_path / "ca.pem"), "url": "mqtts://h"}


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"url": "http://broker"}, "mqtt:// or mqtts://"),
        ({"url": "mqtt://user:HIDDEN@broker"}, "'username' and 'password'"),
        ({"url": "mqtt://broker:99999"}, "not a URL"),
        ({"url": "mqtt://"}, "no host"),
        ({"url": "mqtt://broker/topic"}, "only mqtt(s)://host:port"),
        ({"qos": 3}, "'qos'"),
        ({"mode": "every"}, "one of 'latest', 'each'"),
        ({"staleAfter": 0}, "'staleAfter'"),
        ({"password": "HIDDEN"}, "needs a 'username'"),
        ({"ca": "/nonexistent/ca.pem"}, "need an mqtts:// url"),
        ({"url": "mqtts://h", "ca": "/nonexistent/ca.pem"}, "no file"),
        ({"url": "mqtts://h", "key": "/nonexistent/k.pem"}, "needs a 'cert'"),
        ({"readings": None}, "needs the option 'readings'"),
        ({"readings": {}}, "at least one"),
        ({"readings": {"t": {"topic": "a/b#"}}}, "'#' must be the whole last level"),
        ({"readings": {"t": {"path": "x"}}}, "readings.t.topic"),
        ({"readings": {"t": {"topic": "a", "pth": "x"}}}, "did you mean 'path'"),
        ({"readings": {"t": {"topic": "a", "path": "a..b"}}}, "malformed path"),
        ({"readings": {"t": {"topic": "a", "unit": 5}}}, "unit must be a string"),
        ({"readings": {"t": 5}}, "must be an object"),
        ({"timePath": "[x"}, "timePath"),
    ],
)
def test_bad_options(options, words):
    merged = {"readings": {"t": {"topic": "a"}}, **options}
    with pytest.raises(ConfigError) as info:
        create_driver("mqtt", merged, client=FakeMqttClient())
    assert words in str(info.value)
    assert "HIDDEN" not in str(info.value)


def test_missing_paho_names_the_extra(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_paho(name, *args, **kwargs):
        if name.startswith("paho"):
            raise ImportError("No module named 'paho'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_paho)
    with pytest.raises(ConfigError, match=r"pip install 'iota-publisher\[mqtt\]'"):
        create_driver("mqtt", {"readings": {"t": {"topic": "a"}}})


def test_declared_readings():
    cls = driver_class("mqtt")
    declared = cls.declared_readings(
        {"readings": {"t": {"topic": "a", "unit": "C"}, "p": {"topic": "b"}, "q": "c"}}
    )
    assert not declared.open and declared.names == ["t", "p", "q"]
    assert declared.find("t").unit == "C" and declared.find("p").unit is None
    assert cls.declared_readings({}).open


def test_options_are_checked_by_the_config_loader():
    problems = list(
        MqttSource.option_problems({"readings": {"t": "a"}, "qos": 5, "stale": 1}, "sensors[0]")
    )
    assert [p.field for p in problems] == ["sensors[0].stale", "sensors[0].qos"]
    assert "did you mean 'staleAfter'" in str(problems[0])
    problems = list(
        MqttSource.option_problems(
            {"url": "http://x", "readings": {"t": {"topic": "a/#/b"}}}, "sensors[0].options"
        )
    )
    assert [p.field for p in problems] == [
        "sensors[0].options.url",
        "sensors[0].options.readings.t",
    ]
    assert "mqtt:// or mqtts://" in str(problems[0]) and "'#'" in str(problems[1])
    assert list(MqttSource.option_problems({"readings": {"t": "a"}})) == []


# -- messages ------------------------------------------------------------------------


def test_no_message_yet_then_the_latest_value_every_read():
    driver, client = make({"temperature": {"topic": "sensors/t", "unit": "C"}})
    with pytest.raises(SensorUnavailableError, match="no message yet on topic 'sensors/t'"):
        driver.read()
    client.publish("sensors/t", b"21.5")
    client.publish("sensors/t", b" 22 \n")
    for _ in range(2):  # held for every window until a newer value
        reading = driver.read()["temperature"]
        assert (reading.value, reading.unit, reading.time) == (22, "C", None)


def test_json_paths_wildcards_and_the_payload_s_time():
    driver, client = make(
        {
            "temperature": {"topic": "zigbee2mqtt/+", "path": "temperature", "unit": "C"},
            "second": {"topic": "devices/#", "path": "list.1.v"},
            "energy": {"topic": "meter", "path": "data[0].kwh", "timePath": "data[0].at"},
        },
        timePath="time",
    )
    client.publish("zigbee2mqtt/living-room", b'{"temperature": 21.5, "time": 1556712000000}')
    client.publish(
        "devices/a/b", '{"list": [{"v": 1}, {"v": "2.5"}], "time": "2019-05-01T12:00:00Z"}'
    )
    client.publish("meter", b'{"data": [{"kwh": 3, "at": 1556712060}]}')
    readings = driver.read()
    assert values(readings) == {"temperature": 21.5, "second": 2.5, "energy": 3}
    assert readings["temperature"].time == T0 and readings["second"].time == T0
    assert readings["energy"].time == T0 + 60


def test_a_retained_message_is_a_value_at_once():
    client = FakeMqttClient()
    client.publish("home/t", b"19.5", retain=True)
    driver, _ = make({"t": {"topic": "home/+"}}, client=client)
    assert values(driver.read()) == {"t": 19.5}


@pytest.mark.parametrize(
    ("reading", "payload", "words"),
    [
        ({"topic": "x"}, b"ON", "the payload is not a number: 'ON'"),
        ({"topic": "x"}, b"NaN", "not a number"),
        ({"topic": "x"}, b"\xff\xfe", "not UTF-8"),
        ({"topic": "x", "path": "t"}, b"21.5 C", "not JSON"),
        ({"topic": "x", "path": "t"}, b'{"h": 1}', "path 't': no key 't'"),
        ({"topic": "x", "path": "t"}, b'{"t": true}', "holds a boolean, not a number"),
        ({"topic": "x", "path": "t"}, b'{"t": "warm"}', "holds a string 'warm'"),
        ({"topic": "x", "path": "t", "timePath": "at"}, b'{"t": 1, "at": "soon"}', "timePath"),
    ],
)
def test_bad_payloads_name_the_topic_and_keep_the_connection(reading, payload, words):
    driver, client = make({"t": reading})
    client.publish("x", payload)
    with pytest.raises(SensorDataError) as info:
        driver.read()
    assert words in str(info.value) and "topic 'x'" in str(info.value)
    assert driver.connected
    client.publish("x", b'{"t": 4, "at": 1556712000}' if "path" in reading else b"4")
    assert values(driver.read()) == {"t": 4}


def test_one_bad_or_silent_reading_leaves_the_others(caplog):
    driver, client = make({"t": {"topic": "a"}, "h": {"topic": "b"}, "p": {"topic": "c"}})
    client.publish("a", b"21")
    client.publish("b", b"oops")
    with caplog.at_level(logging.WARNING, logger="iota_publisher.drivers.mqtt"):
        assert values(driver.read()) == {"t": 21}
        assert values(driver.read()) == {"t": 21}
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2  # once per problem, not once per read
    assert any("topic 'b'" in w and "not a number" in w for w in warned)
    assert any("no message yet on topic 'c'" in w for w in warned)


def test_when_every_reading_fails_the_read_raises_all_problems():
    driver, client = make({"t": {"topic": "a"}, "h": {"topic": "b"}})
    client.publish("a", b"x")
    with pytest.raises(SensorUnavailableError) as info:
        driver.read()
    assert "topic 'a'" in str(info.value) and "no message yet on topic 'b'" in str(info.value)
    client.publish("b", b"y")
    with pytest.raises(SensorDataError):
        driver.read()


def test_stale_until_a_new_message():
    clock = Clock()
    driver, client = make({"t": {"topic": "a"}}, clock=clock, staleAfter=60)
    client.publish("a", b"1")
    clock.now += 60
    assert values(driver.read()) == {"t": 1}
    clock.now += 1
    with pytest.raises(SensorUnavailableError, match=r"'t' is stale: nothing new on topic 'a'"):
        driver.read()
    client.publish("a", b"2")
    assert values(driver.read()) == {"t": 2}


def test_stale_by_the_payload_s_own_time():
    clock = Clock(T0 + 120)
    driver, client = make(
        {"t": {"topic": "a", "path": "v"}}, clock=clock, staleAfter=60, timePath="at"
    )
    client.publish("a", b'{"v": 1, "at": 1556712000}')  # sent two minutes ago
    with pytest.raises(SensorUnavailableError, match="stale"):
        driver.read()


def test_each_mode_hands_over_every_value_once_with_its_time():
    clock = Clock()
    driver, client = make({"button": {"topic": "events/+"}, "other": "x"}, clock=clock, mode="each")
    for n in range(3):
        clock.now = T0 + n
        client.publish(f"events/{n}", str(n))
    clock.now = T0 + 10
    got = [driver.read()["button"] for _ in range(3)]
    assert [(r.value, r.time) for r in got] == [(0, T0), (1, T0 + 1), (2, T0 + 2)]
    client.publish("x", b"7")
    assert values(driver.read()) == {"other": 7}
    assert driver.read() == {}  # no event is not a failure


def test_each_mode_bounds_its_queue(monkeypatch, caplog):
    monkeypatch.setattr(MqttSource, "queue_limit", 2)
    driver, client = make({"n": "c"}, mode="each")
    for n in range(4):
        client.publish("c", str(n))
    with caplog.at_level(logging.WARNING, logger="iota_publisher.drivers.mqtt"):
        assert values(driver.read()) == {"n": 2}
    assert "2 value(s) dropped" in caplog.text
    assert values(driver.read()) == {"n": 3}


def test_a_reconnect_renews_subscriptions_and_replays_nothing():
    client = FakeMqttClient()
    client.publish("door", b"1", retain=True)
    driver, _ = make({"door": "door"}, client=client, mode="each")
    assert driver.read() == {}  # a retained message is an old event, not a new one
    client.publish("door", b"1", retain=True)
    assert values(driver.read()) == {"door": 1}
    client.drop()
    assert not driver.connected and client.subscriptions == {}
    assert driver.read() == {}  # a failed read would let the agent publish the last event again
    client.reconnect()  # the broker delivers the retained "1" again: not a new event
    assert client.subscriptions == {"door": 0}
    assert driver.read() == {}
    client.publish("door", b"0")
    assert values(driver.read()) == {"door": 0}


def test_the_latest_value_survives_a_reconnect():
    client = FakeMqttClient()
    client.publish("t", b"5", retain=True)
    driver, _ = make({"t": "t"}, client=client)
    assert values(driver.read()) == {"t": 5}
    client.drop()
    assert values(driver.read()) == {"t": 5}  # held: staleAfter says when it is too old
    client.reconnect()
    client.publish("t", b"6")
    assert values(driver.read()) == {"t": 6}


def test_each_mode_is_stale_when_nothing_came_since_the_start():
    clock = Clock()
    driver, _ = make({"n": "c"}, clock=clock, mode="each", staleAfter=30)
    assert driver.read() == {}
    clock.now += 31
    with pytest.raises(SensorUnavailableError, match="stale: nothing on topic 'c' for 31 s"):
        driver.read()


def test_a_replayed_retained_value_does_not_refresh_a_stale_reading():
    clock = Clock()
    client = FakeMqttClient()
    client.publish("t", b"5", retain=True)
    driver, _ = make({"t": "t"}, client=client, clock=clock, staleAfter=30)
    clock.now += 31
    client.drop()
    client.reconnect()
    with pytest.raises(SensorUnavailableError, match="stale"):
        driver.read()


def test_a_refused_connection_is_reported():
    client = FakeMqttClient(refuse=NOT_AUTHORIZED)
    driver, _ = make({"t": "t"}, client=client, username="pi", password="HIDDEN")
    with pytest.raises(SensorUnavailableError) as info:
        driver.read()
    assert "refused the connection: Not authorized" in str(info.value)
    assert "HIDDEN" not in str(info.value)


def test_close_is_idempotent_and_final():
    driver, client = make({"t": "t"})
    driver.close()
    driver.close()
    assert not client.looping
    with pytest.raises(DriverError, match="after close"):
        driver.read()


# -- against mosquitto -------------------------------------------------------------------

MOSQUITTO = shutil.which("mosquitto") or next(
    (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None
)
needs_mosquitto = pytest.mark.skipif(
    MOSQUITTO is None,
    reason="the mosquitto broker is not installed (Debian: apt install mosquitto)",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Broker:
    """A mosquitto on 127.0.0.1, started (and restarted) by the test."""

    def __init__(self, folder: Path, extra: str = "") -> None:
        self.port = _free_port()
        self.conf = folder / "mosquitto.conf"
        # run as root, mosquitto would switch to its own user, which cannot read tmp_path
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nuser {getpass.getuser()}\n"
            f"{extra or 'allow_anonymous true'}\n"
        )
        self.log = folder / "mosquitto.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.conf)], stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not start: {self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def publish(self, topic: str, payload: str, *, retain: bool = False, **auth) -> None:
        from paho.mqtt import publish

        publish.single(
            topic, payload, qos=1, retain=retain, hostname="127.0.0.1", port=self.port, **auth
        )


@pytest.fixture
def broker(tmp_path):
    broker = Broker(tmp_path)
    broker.start()
    yield broker
    broker.stop()


def wait_for(driver, check, timeout=10.0):
    """Read until ``check(readings)`` holds (the driver never blocks: the test polls)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            readings = driver.read()
            if check(readings):
                return readings
        except (SensorUnavailableError, SensorDataError) as exc:
            last = exc
        time.sleep(0.05)
    raise AssertionError(f"no matching reading within {timeout:g} s (last: {last})")


def connected(driver, timeout=10.0) -> None:
    deadline = time.monotonic() + timeout
    while not driver.connected:
        assert time.monotonic() < deadline, "the driver did not connect"
        time.sleep(0.02)
    time.sleep(0.2)  # the subscriptions' answer


@needs_mosquitto
def test_mosquitto_retained_live_wildcards_and_bad_payloads(broker):
    broker.publish("zigbee2mqtt/living-room", '{"temperature": 21.5, "humidity": 40}', retain=True)
    options = {
        "url": broker.url,
        "readings": {
            "temperature": {"topic": "zigbee2mqtt/+", "path": "temperature", "unit": "C"},
            "humidity": {"topic": "zigbee2mqtt/living-room", "path": "humidity", "unit": "%"},
            "power": {"topic": "tasmota/#"},
        },
    }
    with create_driver("mqtt", options) as driver:
        start = time.monotonic()
        # the first read waits for the subscriptions' answer: the retained values are there
        got = driver.read()
        assert time.monotonic() - start < MqttSource.first_read_wait + 0.5
        assert values(got) == {"temperature": 21.5, "humidity": 40}
        assert got["temperature"].unit == "C" and got["temperature"].time is None
        start = time.monotonic()
        assert values(driver.read()) == values(got)  # later reads do not wait
        assert time.monotonic() - start < 0.05
        connected(driver)
        broker.publish("tasmota/plug/power", "12.5")
        broker.publish("zigbee2mqtt/living-room", '{"temperature": 22, "humidity": 41}')
        wait_for(driver, lambda r: values(r) == {"temperature": 22, "humidity": 41, "power": 12.5})
        broker.publish("tasmota/plug/power", "garbage")
        got = wait_for(driver, lambda r: "power" not in r)
        assert values(got) == {"temperature": 22, "humidity": 41}
        broker.publish("tasmota/plug/power", "13")
        wait_for(driver, lambda r: r.get("power") is not None and r["power"].value == 13)


@needs_mosquitto
def test_mosquitto_with_a_password(tmp_path):
    passwords = tmp_path / "passwords"
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(passwords), "pi", "s3cret-pass"],
        check=True,
        capture_output=True,
    )
    broker = Broker(tmp_path, f"allow_anonymous false\npassword_file {passwords}")
    broker.start()
    try:
        auth = {"auth": {"username": "pi", "password": "s3cret-pass"}}
        broker.publish("home/t", "20.5", retain=True, **auth)
        good = {"url": broker.url, "username": "pi", "password": "s3cret-pass"}
        with create_driver("mqtt", {**good, "readings": {"t": "home/t"}}) as driver:
            assert values(wait_for(driver, lambda r: "t" in r)) == {"t": 20.5}
        wrong = {**good, "password": "WRONG-PASS", "readings": {"t": "home/t"}}
        with create_driver("mqtt", wrong) as driver:
            deadline = time.monotonic() + 10
            while True:
                with pytest.raises(SensorUnavailableError) as info:
                    driver.read()
                if "refused" in str(info.value) or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert "refused the connection" in str(info.value)
            assert "WRONG-PASS" not in str(info.value)
    finally:
        broker.stop()


@needs_mosquitto
def test_mosquitto_restart_mid_run(broker, monkeypatch):
    options = {"url": broker.url, "readings": {"n": "counter"}, "mode": "each", "qos": 1}
    with create_driver("mqtt", options) as driver:
        connected(driver)
        broker.publish("counter", "1")
        assert values(wait_for(driver, lambda r: "n" in r)) == {"n": 1}
        broker.stop()
        deadline = time.monotonic() + 10
        while driver.connected:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert driver.read() == {}
        broker.start()
        connected(driver, timeout=20)
        broker.publish("counter", "2")
        broker.publish("counter", "3")
        got = [wait_for(driver, lambda r: "n" in r)["n"].value for _ in range(2)]
        assert got == [2, 3]
        assert driver.read() == {}  # nothing invented


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_certificates(folder: Path) -> None:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all from it."""
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=test CA",
        cwd=folder,
    )
    for name, extra in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "")):
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={name}",
            cwd=folder,
        )
        (folder / f"{name}.ext").write_text(
            extra + "\n" if extra else "basicConstraints=CA:FALSE\n"
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            f"{name}.pem",
            "-extfile",
            f"{name}.ext",
            cwd=folder,
        )


@needs_mosquitto
@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test's CA")
# paho 2.2 leaves the socket of a failed TLS handshake to the garbage collector
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_mosquitto_over_tls_with_a_client_certificate(tmp_path):
    _make_certificates(tmp_path)
    broker = Broker(
        tmp_path,
        f"allow_anonymous true\ncafile {tmp_path / 'ca.pem'}\ncertfile {tmp_path / 'server.pem'}\n"
        f"keyfile {tmp_path / 'server.key'}\nrequire_certificate true",
    )
    broker.start()
    try:
        files = {"ca": "ca.pem", "cert": "client.pem", "key": "client.key"}
        tls = {k: str(tmp_path / v) for k, v in files.items()}
        broker.publish(
            "secure/t",
            "18.25",
            retain=True,
            tls={"ca_certs": tls["ca"], "certfile": tls["cert"], "keyfile": tls["key"]},
        )
        from iota_publisher.drivers import DriverContext

        options = MqttSource.prepare_options(
            {"url": f"mqtts://127.0.0.1:{broker.port}", **files, "readings": {"t": "secure/t"}},
            DriverContext(tmp_path, tmp_path),
        )
        with create_driver("mqtt", options) as driver:
            assert values(wait_for(driver, lambda r: "t" in r)) == {"t": 18.25}
        # a broker whose certificate the CA did not sign is never trusted
        other = tmp_path / "other"
        other.mkdir()
        _make_certificates(other)
        options["ca"] = str(other / "ca.pem")
        with create_driver("mqtt", options) as driver:
            time.sleep(1.0)
            with pytest.raises(SensorUnavailableError, match="not connected"):
                driver.read()
            assert not driver.connected
    finally:
        broker.stop()


class SilentClient(FakeMqttClient):
    """A broker that never answers (a host that drops the packets)."""

    def loop_start(self) -> None:
        self.looping = True


def test_the_first_read_waits_boundedly_for_a_silent_broker(monkeypatch):
    monkeypatch.setattr(MqttSource, "first_read_wait", 0.2)
    driver, _ = make({"t": "t"}, client=SilentClient())
    start = time.monotonic()
    with pytest.raises(SensorUnavailableError, match="no message yet"):
        driver.read()
    assert 0.15 < time.monotonic() - start < 1.0
    start = time.monotonic()
    with pytest.raises(SensorUnavailableError):
        driver.read()  # only the first read waits
    assert time.monotonic() - start < 0.05


def test_a_refused_connection_ends_the_first_wait_at_once():
    driver, _ = make({"t": "t"}, client=FakeMqttClient(refuse=NOT_AUTHORIZED))
    start = time.monotonic()
    with pytest.raises(SensorUnavailableError):
        driver.read()
    assert time.monotonic() - start < 0.5


@needs_mosquitto
def test_iota_publish_read_shows_the_retained_values(broker, tmp_path):
    from click.testing import CliRunner

    from iota_publisher.cli import main

    broker.publish("zigbee2mqtt/living-room", '{"temperature": 21.5}', retain=True)
    config = json.loads((Path(__file__).parent.parent / "examples" / "mqtt.json").read_text())
    options = config["sensors"][0]["options"]
    options.update(url=broker.url)
    del options["username"], options["password"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**config, "stateDir": str(tmp_path / "state")}))
    result = CliRunner().invoke(main, ["read", "--config", str(path)])
    assert "home.living.temperature = 21.5 C" in result.output
    assert '"living": 21.5' in result.output


# -- Home Assistant discovery -----------------------------------------------------------

#: https://www.home-assistant.io/integrations/mqtt/#discovery-topic and .../sensor.mqtt/
HA_TOPIC = re.compile(r"^homeassistant/sensor/[a-zA-Z0-9_-]+/[a-zA-Z0-9_-]+/config$")
HA_SENSOR_KEYS = {
    "name",
    "unique_id",
    "state_topic",
    "value_template",
    "unit_of_measurement",
    "device_class",
    "state_class",
    "availability_topic",
    "payload_available",
    "payload_not_available",
    "expire_after",
    "device",
}
HA_DEVICE_KEYS = {"identifiers", "name", "manufacturer", "model", "sw_version"}
HA_DEVICE_CLASSES = {"temperature", "pressure", "power", "voltage", "illuminance", "humidity"}


def check_discovery(topic: str, config: dict) -> None:
    """One discovery message against Home Assistant's documented MQTT sensor schema."""
    assert HA_TOPIC.match(topic), topic
    assert set(config) <= HA_SENSOR_KEYS, set(config) - HA_SENSOR_KEYS
    assert {"state_topic", "unique_id", "availability_topic", "device"} <= set(config)
    assert "+" not in config["state_topic"] and "#" not in config["state_topic"]
    assert set(config["device"]) <= HA_DEVICE_KEYS and config["device"]["identifiers"]
    assert config["state_class"] == "measurement"
    assert config.get("device_class", "temperature") in HA_DEVICE_CLASSES
    if config.get("device_class") == "temperature":
        assert config["unit_of_measurement"] in ("°C", "°F", "K")
    assert config["value_template"].startswith("{{ ") and config["value_template"].endswith(" }}")


HA_READINGS = {
    "living.temperature": {"topic": "zigbee2mqtt/living-room", "path": "temperature", "unit": "C"},
    "power": {"topic": "tele/plug/SENSOR", "path": "ENERGY.Power", "unit": "W"},
    "first": {"topic": "x/list", "path": "list[0].some-key"},
    "plain": {"topic": "esphome/t", "unit": "%"},
    "any": {"topic": "zigbee2mqtt/+", "path": "battery"},
}


def test_home_assistant_discovery_with_the_fake():
    driver, client = make(HA_READINGS, homeAssistant="pi-livingroom", staleAfter=600)
    names = [name for name, _ in client.calls]
    assert names.index("will_set") < names.index("connect_async")
    assert client.will == FakeMqttMessage(
        "iota-publisher/pi-livingroom/availability", b"offline", 1, True
    )
    configs = {
        m.topic: json.loads(m.payload) for m in client.published if m.topic.endswith("/config")
    }
    assert all(m.retain for m in client.published)
    assert sorted(configs) == [
        "homeassistant/sensor/pi-livingroom/first/config",
        "homeassistant/sensor/pi-livingroom/living_temperature/config",
        "homeassistant/sensor/pi-livingroom/plain/config",
        "homeassistant/sensor/pi-livingroom/power/config",
    ]  # not the wildcard one: it has no one state topic
    for topic, config in configs.items():
        check_discovery(topic, config)
    living = configs["homeassistant/sensor/pi-livingroom/living_temperature/config"]
    assert living["value_template"] == "{{ value_json.temperature }}"
    assert living["unit_of_measurement"] == "°C" and living["device_class"] == "temperature"
    assert living["expire_after"] == 600
    assert living["availability_topic"] == "iota-publisher/pi-livingroom/availability"
    first = configs["homeassistant/sensor/pi-livingroom/first/config"]
    assert first["value_template"] == "{{ value_json.list[0]['some-key'] }}"
    plain = configs["homeassistant/sensor/pi-livingroom/plain/config"]
    assert plain["value_template"] == "{{ value }}" and "device_class" not in plain
    assert client.retained["iota-publisher/pi-livingroom/availability"] == b"online"
    client.drop()  # the broker publishes the will
    assert client.retained["iota-publisher/pi-livingroom/availability"] == b"offline"
    client.reconnect()
    assert client.retained["iota-publisher/pi-livingroom/availability"] == b"online"
    driver.close()  # a clean disconnect fires no will: the driver says it
    assert client.retained["iota-publisher/pi-livingroom/availability"] == b"offline"


def test_home_assistant_id_defaults_to_the_client_id():
    _, client = make({"t": "a/t"}, homeAssistant=True, clientId="Pi 4/kitchen")
    assert client.will.topic == "iota-publisher/Pi_4_kitchen/availability"
    _, client = make({"t": "a/t"})
    assert client.will is None and client.published == []
    with pytest.raises(ConfigError, match="homeAssistant"):
        make({"t": "a/t"}, homeAssistant=" ")


def retained(broker, topic_filter: str, count: int, timeout: float = 5.0) -> dict[str, bytes]:
    """The retained messages under ``topic_filter`` (at least ``count`` of them), by topic."""
    import paho.mqtt.client as paho

    got: dict[str, bytes] = {}
    listener = paho.Client(paho.CallbackAPIVersion.VERSION2)
    listener.on_message = lambda _c, _u, m: got.__setitem__(m.topic, bytes(m.payload))
    listener.on_connect = lambda c, *_: c.subscribe(topic_filter, qos=1)
    listener.connect("127.0.0.1", broker.port)
    listener.loop_start()
    try:
        deadline = time.monotonic() + timeout
        while len(got) < count:
            assert time.monotonic() < deadline, f"only {sorted(got)} within {timeout:g} s"
            time.sleep(0.02)
    finally:
        listener.disconnect()
        listener.loop_stop()
    return got


@needs_mosquitto
def test_mosquitto_home_assistant_discovery(broker):
    options = {"url": broker.url, "readings": HA_READINGS, "homeAssistant": "pi"}
    with create_driver("mqtt", options) as driver:
        connected(driver)
        got = retained(broker, "#", 5)
        assert got["iota-publisher/pi/availability"] == b"online"
        configs = {t: json.loads(p) for t, p in got.items() if t.startswith("homeassistant/")}
        assert len(configs) == 4
        for topic, config in configs.items():
            check_discovery(topic, config)
    # said on close: a clean disconnect fires no will
    assert retained(broker, "iota-publisher/#", 1) == {"iota-publisher/pi/availability": b"offline"}


@needs_mosquitto
def test_mosquitto_publishes_the_last_will_when_the_link_dies(broker):
    options = {"url": broker.url, "readings": {"t": "a/t"}, "homeAssistant": "pi"}
    driver = create_driver("mqtt", options)
    try:
        connected(driver)
        assert retained(broker, "iota-publisher/#", 1) == {
            "iota-publisher/pi/availability": b"online"
        }
        driver._client.loop_stop()  # the process hangs, its socket dies: no goodbye
        driver._client.socket().close()
        deadline = time.monotonic() + 5
        while (
            retained(broker, "iota-publisher/#", 1)["iota-publisher/pi/availability"] != b"offline"
        ):
            assert time.monotonic() < deadline, "the broker did not publish the will"
            time.sleep(0.05)
    finally:
        start = time.monotonic()
        driver.close()
        assert time.monotonic() - start < 3


def test_each_mode_reports_a_bad_message_in_its_turn_and_keeps_old_events():
    clock = Clock()
    driver, client = make(
        {"n": {"topic": "c", "path": "v"}}, clock=clock, mode="each", staleAfter=10
    )
    client.publish("c", b'{"v": 1}')
    client.publish("c", b"garbage")
    client.publish("c", b'{"v": 3}')
    clock.now += 60  # queued events are handed over even when they are old
    assert driver.read()["n"].value == 1
    with pytest.raises(SensorDataError, match="not JSON"):
        driver.read()
    reading = driver.read()["n"]
    assert (reading.value, reading.time) == (3, T0)
    with pytest.raises(SensorUnavailableError, match="stale"):
        driver.read()


def test_an_unexpected_failure_in_decoding_is_a_bad_payload():
    driver, client = make({"n": {"topic": "c", "path": "v"}}, timePath="at")
    client.publish("c", '{"v": 1, "at": 1' + "0" * 400 + "}")  # too large for a float
    with pytest.raises(SensorDataError, match="topic 'c'"):
        driver.read()
    client.publish("c", b'{"v": 2, "at": 1556712000}')
    assert values(driver.read()) == {"n": 2}


class RecordingPublisher:
    """What the agent publishes in debug mode."""

    def __init__(self) -> None:
        self.packets: list[tuple[dict, int]] = []

    def publish(self, data, *, time):
        self.packets.append((data, time))

    def close(self):
        pass


@needs_mosquitto
def test_the_agent_publishes_each_event_once_across_a_broker_restart(broker, tmp_path):
    import threading

    from iota_publisher.agent import Agent, SystemdNotifier

    config = {
        "sensorId": "sensor-1",
        "secretKey": "SECRET",
        "debug": True,
        "stateDir": str(tmp_path / "state"),
        "interval": 1,
        "sensors": [
            {
                "name": "meter",
                "driver": "mqtt",
                "options": {
                    "url": broker.url,
                    "mode": "each",
                    "qos": 1,
                    "readings": {"pulses": {"topic": "meter/+/pulses", "path": "n"}},
                },
            }
        ],
        "fields": [{"id": "pulses", "reading": "pulses"}],
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    publisher = RecordingPublisher()
    opened: list = []

    def open_driver(name, options):
        opened.append(create_driver(name, options))
        return opened[-1]

    def connected_now() -> bool:
        return bool(opened) and opened[-1].connected

    agent = Agent(
        path,
        publisher_factory=lambda _cfg: publisher,
        driver_factory=open_driver,
        notifier=SystemdNotifier(address=""),
    )
    # no --count: it counts windows, and windows without an event go by during the restart
    runner = threading.Thread(target=agent.run, daemon=True)
    runner.start()
    try:

        def published(count: int, timeout: float = 20.0) -> None:
            deadline = time.monotonic() + timeout
            while len(publisher.packets) < count:
                assert time.monotonic() < deadline, f"published: {publisher.packets}"
                time.sleep(0.05)

        deadline = time.monotonic() + 10
        while not connected_now():
            assert time.monotonic() < deadline, "the agent's driver did not connect"
            time.sleep(0.05)
        time.sleep(0.2)
        broker.publish("meter/a/pulses", '{"n": 1}')
        published(1)
        broker.stop()
        time.sleep(1.5)  # a window or two without the broker
        broker.start()
        deadline = time.monotonic() + 20
        while not connected_now():
            assert time.monotonic() < deadline, "the agent's driver did not reconnect"
            time.sleep(0.05)
        time.sleep(0.2)
        broker.publish("meter/a/pulses", '{"n": 2}')
        broker.publish("meter/b/pulses", '{"n": 3}')
        published(3)
    finally:
        agent.stop()
        runner.join(10)
    assert [data for data, _ in publisher.packets] == [{"pulses": 1}, {"pulses": 2}, {"pulses": 3}]
    assert len(opened) == 1  # one connection for the whole run
