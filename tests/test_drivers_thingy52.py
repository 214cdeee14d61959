"""The Thingy:52 driver: pure decoding, and the driver on FakeBleClient."""

from __future__ import annotations

import struct
import sys
import threading
from typing import Any

import pytest
from iota_publisher.drivers import (
    DriverError,
    SensorDataError,
    SensorUnavailableError,
    create_driver,
    fakes,
)
from iota_publisher.drivers import thingy52 as th

from iota_publisher.errors import ConfigError, TransientError

# =============================================================== Thingy:52 decoding


@pytest.mark.parametrize(
    ("raw", "celsius"),
    [
        (bytes([23, 5]), 23.05),  # the sample apps' "23.5" bug: hundredths are 05
        (bytes([23, 50]), 23.5),
        (bytes([0, 0]), 0.0),
        (struct.pack("<bB", -5, 25), -4.75),  # whole + hundredths / 100, as documented
        (struct.pack("<bB", -1, 231), -1.25),  # the firmware's wrapped negative fraction
        (struct.pack("<bB", 0, 206), -0.5),
        (struct.pack("<bB", -12, 0), -12.0),  # a saturated negative fraction
        (struct.pack("<bB", 127, 99), 127.99),
    ],
)
def test_decode_temperature(raw: bytes, celsius: float) -> None:
    assert th.decode_temperature(raw) == pytest.approx(celsius, abs=1e-9)


@pytest.mark.parametrize(
    "raw", [bytes([23]), bytes([23, 5, 0]), b"", bytes([20, 150]), bytes([5, 200])]
)
def test_decode_temperature_rejects_bad_bytes(raw: bytes) -> None:
    with pytest.raises(SensorDataError):
        th.decode_temperature(raw)


def test_decode_pressure_is_five_bytes() -> None:
    raw = struct.pack("<iB", 1013, 25)
    assert len(raw) == 5
    assert th.decode_pressure(raw) == pytest.approx(1013.25)
    assert th.decode_pressure(bytes([0xF5, 0x03, 0, 0, 7])) == pytest.approx(1013.07)
    for bad in (raw[:4], raw + b"\0", struct.pack("<iB", 1013, 100)):
        with pytest.raises(SensorDataError):
            th.decode_pressure(bad)


def test_decode_humidity_gas_color_battery() -> None:
    assert th.decode_humidity(bytes([45])) == 45
    assert th.decode_gas(struct.pack("<HH", 450, 12)) == (450, 12)
    assert th.decode_gas(bytes([0x90, 0x01, 0x00, 0x01])) == (400, 256)
    assert th.decode_color(struct.pack("<HHHH", 1, 2, 3, 65535)) == (1, 2, 3, 65535)
    assert th.decode_battery(bytearray([87])) == 87
    for decoder, bad in [
        (th.decode_humidity, b""),
        (th.decode_humidity, bytes([101])),
        (th.decode_gas, bytes(3)),
        (th.decode_color, bytes(7)),
        (th.decode_battery, bytes(2)),
        (th.decode_battery, bytes([200])),
    ]:
        with pytest.raises(SensorDataError):
            decoder(bad)


def test_config_encode_decode() -> None:
    default = th.EnvironmentConfig()
    raw = th.encode_config(default)
    assert raw == struct.pack("<HHHHBBBB", 2000, 2000, 2000, 1500, 2, 103, 78, 29)
    assert len(raw) == 12
    assert th.decode_config(raw) == default
    custom = th.EnvironmentConfig(100, 50, 100, 200, 1, 0, 0, 255)
    assert th.decode_config(bytearray(th.encode_config(custom))) == custom
    assert th.encode_config(th.EnvironmentConfig(60000, 60000, 60000, 60000, 3))[:2] == b"\x60\xea"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"temperature_interval": 99},
        {"temperature_interval": 60001},
        {"pressure_interval": 49},
        {"humidity_interval": 99},
        {"color_interval": 199},
        {"gas_mode": 0},
        {"gas_mode": 4},
        {"led_red": 256},
        {"led_blue": -1},
        {"temperature_interval": 1000.0},
        {"gas_mode": True},
    ],
)
def test_config_range_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        th.EnvironmentConfig(**kwargs)
    assert info.value.field == next(iter(kwargs))


def test_config_decode_errors() -> None:
    with pytest.raises(SensorDataError):
        th.decode_config(bytes(11))
    with pytest.raises(SensorDataError):  # all zero: intervals below their minimum
        th.decode_config(bytes(12))


def test_gas_mode_for_interval() -> None:
    assert [th.gas_mode_for_interval(ms) for ms in (200, 9999, 10000, 59999, 60000)] == [
        1,
        1,
        2,
        2,
        3,
    ]


# =============================================================== Thingy:52 driver

ADDRESS = "C4:6A:12:34:56:78"


@pytest.fixture
def fake() -> fakes.FakeBleClient:
    return fakes.FakeBleClient.thingy(battery=87)


@pytest.fixture
def scanner() -> fakes.FakeScanner:
    return fakes.FakeScanner(fakes.FakeBleDevice(ADDRESS, "Thingy"))


@pytest.fixture
def sleeps() -> list[float]:
    return []


def make_thingy(fake: Any, scanner: Any, sleeps: list[float], **options: Any) -> th.Thingy52:
    options.setdefault("address", ADDRESS)
    return th.Thingy52(client=fake, scanner=scanner, sleep=sleeps.append, **options)


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("thingy52") and t.is_alive()]


def test_full_read(
    fake: fakes.FakeBleClient, scanner: fakes.FakeScanner, sleeps: list[float]
) -> None:
    sensors = ["temperature", "pressure", "humidity", "gas", "color"]
    with make_thingy(fake, scanner, sleeps, sensors=sensors, adapter="hci1") as thingy:
        readings = thingy.read()
    values = {name: (r.value, r.unit) for name, r in readings.items()}
    assert values == {
        "temperature": (23.05, "C"),
        "pressure": (1013.25, "hPa"),
        "humidity": (45, "%"),
        "eco2": (450, "ppm"),
        "tvoc": (12, "ppb"),
        "color_red": (120, None),
        "color_green": (200, None),
        "color_blue": (90, None),
        "color_clear": (410, None),
        "battery": (87, "%"),
    }
    assert all(r.name == name for name, r in readings.items())
    assert scanner.calls == [{"address": ADDRESS, "name": None, "adapter": "hci1", "timeout": 10.0}]
    assert fake.devices == [scanner.device]  # the scanned device, not the bare address
    assert fake.writes == []  # no interval: the config is left alone
    assert f"read {th.BATTERY_LEVEL_UUID}" in fake.calls
    assert not sleeps


def test_default_sensors_and_values_since_read_began(
    fake: fakes.FakeBleClient, scanner: fakes.FakeScanner, sleeps: list[float]
) -> None:
    fake.scripts[th.TEMPERATURE_UUID] = [bytes([20, 0]), bytes([21, 0]), bytes([22, 50])]
    with make_thingy(fake, scanner, sleeps) as thingy:
        assert thingy.sensors == ("temperature", "pressure", "humidity", "gas")
        first = thingy.read()
        assert set(first) == {"temperature", "pressure", "humidity", "eco2", "tvoc", "battery"}
        assert fake.subscribed == {
            th.TEMPERATURE_UUID,
            th.PRESSURE_UUID,
            th.HUMIDITY_UUID,
            th.GAS_UUID,
        }
        second = thingy.read()
    assert first["temperature"].value < second["temperature"].value  # a new value each read
    assert fake.connect_count == 1  # the connection stays open between reads


def test_interval_writes_config(
    fake: fakes.FakeBleClient, scanner: fakes.FakeScanner, sleeps: list[float]
) -> None:
    fake.config = th.EnvironmentConfig(led_red=1, led_green=2, led_blue=3)
    with make_thingy(fake, scanner, sleeps, interval=5000) as thingy:
        thingy.read()
    [(uuid, raw)] = fake.writes
    assert uuid == th.CONFIG_UUID
    assert th.decode_config(raw) == th.EnvironmentConfig(5000, 5000, 5000, 5000, 1, 1, 2, 3)


def test_timeout_names_missing_characteristic(
    scanner: fakes.FakeScanner, sleeps: list[float]
) -> None:
    silent_gas = fakes.FakeBleClient(
        {
            "temperature": [bytes([21, 0])],
            "pressure": [struct.pack("<iB", 1000, 0)],
            "humidity": [b"\x30"],
        }
    )
    missing = r"no gas notification .* within 0.1 s"
    with (
        make_thingy(silent_gas, scanner, sleeps, timeout=0.1) as thingy,
        pytest.raises(SensorUnavailableError, match=missing) as info,
    ):
        thingy.read()
    assert isinstance(info.value, TransientError)
    assert "temperature" not in str(info.value)


def test_disconnect_then_reconnect_with_backoff(
    fake: fakes.FakeBleClient, scanner: fakes.FakeScanner, sleeps: list[float]
) -> None:
    with make_thingy(fake, scanner, sleeps) as thingy:
        thingy.read()
        fake.simulate_disconnect()
        fake.fail_next_connects(1)  # e.g. a Wi-Fi coexistence abort on the first try
        readings = thingy.read()
        assert readings["temperature"].value == 23.05
        assert sleeps == [1.0]
        assert len(scanner.calls) == 3  # scanned before every connect
        assert fake.connect_count == 3
        assert fake.subscribed == {
            th.TEMPERATURE_UUID,
            th.PRESSURE_UUID,
            th.HUMIDITY_UUID,
            th.GAS_UUID,
        }

        fake.simulate_disconnect()
        fake.fail_next_connects(5)
        with pytest.raises(SensorUnavailableError, match="after 3 tries"):
            thingy.read()
        assert sleeps == [1.0, 1.0, 2.0]  # bounded: three tries, doubling pauses
        assert thingy.read()["battery"].value == 87  # and the next read recovers


def test_device_not_found(fake: fakes.FakeBleClient, sleeps: list[float]) -> None:
    nobody = fakes.FakeScanner(fakes.FakeBleDevice("AA:BB:CC:DD:EE:FF", "Other"))
    with (
        make_thingy(fake, nobody, sleeps, address=None, name="Thingy") as thingy,
        pytest.raises(SensorUnavailableError, match="not found while scanning"),
    ):
        thingy.read()
    assert nobody.calls[0]["name"] == "Thingy"
    assert fake.connect_count == 0


def test_without_scanner_seam_the_address_is_passed(fake: fakes.FakeBleClient) -> None:
    with th.Thingy52(address=ADDRESS, client=fake) as thingy:
        thingy.read()
    assert fake.devices == [ADDRESS]


def test_close_stops_notifications_and_loop_thread(
    fake: fakes.FakeBleClient, scanner: fakes.FakeScanner, sleeps: list[float]
) -> None:
    thingy = make_thingy(fake, scanner, sleeps)
    thingy.read()
    assert loop_threads()
    thingy.close()
    assert not loop_threads()
    assert fake.calls[-1] == "disconnect"
    assert sum(call.startswith("stop_notify") for call in fake.calls) == 4
    assert not fake.is_connected and not fake.subscribed
    thingy.close()  # idempotent
    with pytest.raises(DriverError, match="closed"):
        thingy.read()


def test_close_without_read_starts_no_thread(fake: fakes.FakeBleClient) -> None:
    th.Thingy52(address=ADDRESS, client=fake).close()
    assert not loop_threads()


def test_create_driver(fake: fakes.FakeBleClient, scanner: fakes.FakeScanner) -> None:
    options = {"address": ADDRESS, "sensors": ["temperature", "humidity"], "timeout": 2}
    with create_driver("thingy52", options, client=fake, scanner=scanner) as thingy:
        assert isinstance(thingy, th.Thingy52)
        assert set(thingy.read()) == {"temperature", "humidity", "battery"}


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"address": "not-a-mac"}, "address"),
        ({"sensors": ["temperature", "light"]}, "sensors"),
        ({"sensors": []}, "sensors"),
        ({"interval": 100}, "interval"),
        ({"interval": 60001}, "interval"),
        ({"timeout": 0}, "timeout"),
        ({"adapter": 0}, "adapter"),
    ],
)
def test_thingy_option_errors(
    options: dict[str, Any], field: str, fake: fakes.FakeBleClient
) -> None:
    with pytest.raises(ConfigError) as info:
        th.Thingy52(client=fake, **options)
    assert info.value.field == field


def test_bleak_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "bleak", None)  # import bleak -> ImportError
    with pytest.raises(ConfigError, match=r"pip install iota-publisher\[ble\]"):
        th.Thingy52(address=ADDRESS)
    with pytest.raises(ConfigError, match=r"pip install iota-publisher\[ble\]"):
        create_driver("thingy52", {"name": "Thingy"})


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        (RuntimeError("No Bluetooth adapters found."), "bluetoothctl list"),
        (FileNotFoundError(2, "No such file or directory"), "bluetooth service"),
    ],
)
def test_absent_adapter_is_a_failing_sensor(
    fake: fakes.FakeBleClient, sleeps: list[float], error: Exception, hint: str
) -> None:
    async def no_adapter(**_: Any) -> Any:
        raise error

    with make_thingy(fake, no_adapter, sleeps, adapter="hci1") as thingy:
        with pytest.raises(SensorUnavailableError, match=hint) as info:
            thingy.read()
    assert isinstance(info.value, TransientError) and not isinstance(info.value, ConfigError)
    assert info.value.driver == "thingy52"
