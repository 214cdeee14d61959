"""Thingy:52 (BLE, on FakeBleClient) and Netatmo (web API, on `responses`) drivers."""

from __future__ import annotations

import json
import logging
import stat
import struct
import sys
import threading
from typing import Any

import pytest
import requests
import responses
from iota_publisher.drivers import (
    DriverError,
    SensorDataError,
    SensorUnavailableError,
    create_driver,
    fakes,
)
from iota_publisher.drivers import netatmo as nm
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


# =============================================================== Netatmo

API = "https://api.netatmo.com"
TOKEN_URL = f"{API}/oauth2/token"
STATIONS_URL = f"{API}/api/getstationsdata"
CLIENT_SECRET = "s3cr3t-CLIENT-secret-0123456789"
REFRESH_1 = "5c8e1f2a|refresh-one-0123456789abcdef"
REFRESH_2 = "5c8e1f2a|refresh-two-fedcba9876543210"
REFRESH_3 = "5c8e1f2a|refresh-three-aaaabbbbccccdddd"
ACCESS_1 = "5c8e1f2a|access-one-11112222333344445555"
ACCESS_2 = "5c8e1f2a|access-two-66667777888899990000"
SECRETS = (CLIENT_SECRET, REFRESH_1, REFRESH_2, REFRESH_3, ACCESS_1, ACCESS_2)

T_INDOOR, T_OUTDOOR, T_RAIN, T_WIND = 1717000210, 1717000185, 1717000192, 1717000199


def stations_payload() -> dict[str, Any]:
    """A getstationsdata answer: a station with outdoor, rain, wind and an unreachable module."""
    return {
        "status": "ok",
        "time_exec": 0.041,
        "time_server": 1717000300,
        "body": {
            "devices": [
                {
                    "_id": "70:ee:50:2a:3b:4c",
                    "station_name": "Home (Living room)",
                    "home_name": "Home",
                    "module_name": "Living room",
                    "type": "NAMain",
                    "firmware": 202,
                    "wifi_status": 48,
                    "reachable": True,
                    "co2_calibrating": False,
                    "last_status_store": 1717000212,
                    "data_type": ["Temperature", "CO2", "Humidity", "Noise", "Pressure"],
                    "place": {
                        "altitude": 112,
                        "city": "Leuven",
                        "country": "BE",
                        "timezone": "Europe/Brussels",
                        "location": [4.7005, 50.8798],
                    },
                    "dashboard_data": {
                        "time_utc": T_INDOOR,
                        "Temperature": 21.4,
                        "CO2": 612,
                        "Humidity": 47,
                        "Noise": 38,
                        "Pressure": 1016.2,
                        "AbsolutePressure": 1002.9,
                        "min_temp": 20.1,
                        "max_temp": 22.0,
                        "date_min_temp": 1716962400,
                        "date_max_temp": 1716990000,
                        "temp_trend": "stable",
                        "pressure_trend": "up",
                    },
                    "modules": [
                        {
                            "_id": "02:00:00:2a:11:22",
                            "type": "NAModule1",
                            "module_name": "Garden",
                            "data_type": ["Temperature", "Humidity"],
                            "reachable": True,
                            "firmware": 53,
                            "last_message": 1717000205,
                            "last_seen": 1717000185,
                            "rf_status": 71,
                            "battery_vp": 5300,
                            "battery_percent": 64,
                            "dashboard_data": {
                                "time_utc": T_OUTDOOR,
                                "Temperature": -3.2,
                                "Humidity": 88,
                                "min_temp": -4.0,
                                "max_temp": 2.5,
                                "temp_trend": "down",
                            },
                        },
                        {
                            "_id": "05:00:00:0b:33:44",
                            "type": "NAModule3",
                            "module_name": "Rain gauge",
                            "data_type": ["Rain"],
                            "reachable": True,
                            "last_seen": 1717000192,
                            "battery_percent": 91,
                            "dashboard_data": {
                                "time_utc": T_RAIN,
                                "Rain": 0.303,
                                "sum_rain_1": 1.212,
                                "sum_rain_24": 6.9,
                            },
                        },
                        {
                            "_id": "06:00:00:0c:55:66",
                            "type": "NAModule2",
                            "module_name": "Wind gauge",
                            "data_type": ["Wind"],
                            "reachable": True,
                            "last_seen": 1717000199,
                            "battery_percent": 77,
                            "dashboard_data": {
                                "time_utc": T_WIND,
                                "WindStrength": 14,
                                "WindAngle": 225,
                                "GustStrength": 31,
                                "GustAngle": 240,
                                "max_wind_str": 35,
                                "max_wind_angle": 230,
                            },
                        },
                        {
                            "_id": "03:00:00:0d:77:88",
                            "type": "NAModule4",
                            "module_name": "Bedroom",
                            "data_type": ["Temperature", "CO2", "Humidity"],
                            "reachable": False,
                            "last_seen": 1716800000,
                            "battery_percent": 3,
                        },
                    ],
                }
            ],
            "user": {
                "mail": "owner@example.org",
                "administrative": {"lang": "en", "unit": 0, "windunit": 0, "pressureunit": 0},
            },
        },
    }


class Clock:
    def __init__(self, now: float = 1_717_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def clock() -> Clock:
    return Clock()


def token_answer(access: str, refresh: str, expires_in: int = 10800) -> dict[str, Any]:
    return {
        "access_token": access,
        "refresh_token": refresh,
        "expires_in": expires_in,
        "expire_in": expires_in,
        "scope": ["read_station"],
    }


def make_netatmo(tmp_path, clock: Clock, **options: Any) -> nm.Netatmo:
    options.setdefault("client_id", "app-client-id")
    options.setdefault("client_secret", CLIENT_SECRET)
    options.setdefault("refresh_token", REFRESH_1)
    options.setdefault("token_file", tmp_path / "netatmo-token.json")
    return nm.Netatmo(clock=clock, **options)


def calls_to(api: responses.RequestsMock, url: str) -> list[Any]:
    return [c for c in api.calls if c.request.url.split("?")[0] == url]


def test_first_read_refreshes_and_persists_before_use(tmp_path, api, clock, caplog) -> None:
    token_file = tmp_path / "netatmo-token.json"
    seen: dict[str, Any] = {}

    def stations(request):
        seen["authorization"] = request.headers["Authorization"]
        seen["file"] = json.loads(token_file.read_text())
        seen["mode"] = stat.S_IMODE(token_file.stat().st_mode)
        return 200, {}, json.dumps(stations_payload())

    api.add(responses.POST, TOKEN_URL, json=token_answer(ACCESS_1, REFRESH_2))
    api.add_callback(responses.GET, STATIONS_URL, callback=stations)
    caplog.set_level(logging.DEBUG)
    with make_netatmo(tmp_path, clock) as station:
        readings = station.read()

    [refresh] = calls_to(api, TOKEN_URL)
    form = dict(p.split("=", 1) for p in refresh.request.body.split("&"))
    assert form["grant_type"] == "refresh_token"
    assert requests.utils.unquote(form["refresh_token"]) == REFRESH_1
    assert form["client_id"] == "app-client-id"
    assert "password" not in form
    # the rotated pair was on disk, 0600, before getstationsdata was called with the new token
    assert seen["authorization"] == f"Bearer {ACCESS_1}"
    assert seen["file"]["refresh_token"] == REFRESH_2
    assert seen["file"]["access_token"] == ACCESS_1
    assert seen["file"]["expires_at"] == clock.now + 10800
    assert seen["mode"] == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["netatmo-token.json"]  # no temp file left
    assert "indoor.temperature" in readings
    assert "indoor_bedroom" in caplog.text and "unreachable" in caplog.text


def test_readings_units_and_times(tmp_path, api, clock) -> None:
    api.add(responses.POST, TOKEN_URL, json=token_answer(ACCESS_1, REFRESH_2))
    api.add(responses.GET, STATIONS_URL, json=stations_payload())
    with make_netatmo(tmp_path, clock) as station:
        readings = station.read()
        assert station.last_update == {
            "indoor": T_INDOOR,
            "outdoor": T_OUTDOOR,
            "rain": T_RAIN,
            "wind": T_WIND,
        }
    table = {name: (r.value, r.unit, r.time) for name, r in readings.items()}
    assert table == {
        "indoor.temperature": (21.4, "C", T_INDOOR),
        "indoor.humidity": (47, "%", T_INDOOR),
        "indoor.co2": (612, "ppm", T_INDOOR),
        "indoor.noise": (38, "dB", T_INDOOR),
        "indoor.pressure": (1016.2, "mbar", T_INDOOR),
        "indoor.absolute_pressure": (1002.9, "mbar", T_INDOOR),
        "outdoor.temperature": (-3.2, "C", T_OUTDOOR),
        "outdoor.humidity": (88, "%", T_OUTDOOR),
        "outdoor.battery": (64, "%", 1717000185),
        "rain.rain": (0.303, "mm", T_RAIN),
        "rain.sum_rain_1": (1.212, "mm", T_RAIN),
        "rain.sum_rain_24": (6.9, "mm", T_RAIN),
        "rain.battery": (91, "%", 1717000192),
        "wind.wind_strength": (14, "km/h", T_WIND),
        "wind.wind_angle": (225, "deg", T_WIND),
        "wind.gust_strength": (31, "km/h", T_WIND),
        "wind.gust_angle": (240, "deg", T_WIND),
        "wind.battery": (77, "%", 1717000199),
    }
    assert all(r.name == name for name, r in readings.items())


def test_second_read_within_expiry_does_not_refresh_and_reports_unchanged(
    tmp_path, api, clock
) -> None:
    api.add(responses.POST, TOKEN_URL, json=token_answer(ACCESS_1, REFRESH_2))
    api.add(responses.GET, STATIONS_URL, json=stations_payload())
    with make_netatmo(tmp_path, clock, device_id="70:ee:50:2a:3b:4c") as station:
        station.read()
        assert station.unchanged == frozenset()
        clock.now += 600
        second = station.read()
        assert station.unchanged == {"indoor", "outdoor", "rain", "wind"}
    assert len(calls_to(api, TOKEN_URL)) == 1
    gets = calls_to(api, STATIONS_URL)
    assert len(gets) == 2
    assert all(c.request.headers["Authorization"] == f"Bearer {ACCESS_1}" for c in gets)
    assert "device_id=70%3Aee%3A50%3A2a%3A3b%3A4c" in gets[0].request.url
    assert second["indoor.temperature"].time == T_INDOOR  # still returned: the agent decides


def test_expiry_triggers_refresh(tmp_path, api, clock) -> None:
    token_file = tmp_path / "netatmo-token.json"
    api.add(responses.POST, TOKEN_URL, json=token_answer(ACCESS_1, REFRESH_2))
    api.add(responses.POST, TOKEN_URL, json=token_answer(ACCESS_2, REFRESH_3))
    api.add(responses.GET, STATIONS_URL, json=stations_payload())
    with make_netatmo(tmp_path, clock) as station:
        station.read()
        clock.now += 10800 - 61
        station.read()
        assert len(calls_to(api, TOKEN_URL)) == 1
        clock.now += 2  # within 60 s of expiry
        station.read()
    refreshes = calls_to(api, TOKEN_URL)
    assert len(refreshes) == 2
    assert requests.utils.quote(REFRESH_2, safe="") in refreshes[1].request.body
    assert calls_to(api, STATIONS_URL)[-1].request.headers["Authorization"] == f"Bearer {ACCESS_2}"
    assert json.loads(token_file.read_text())["refresh_token"] == REFRESH_3


def test_expired_token_error_refreshes_once_and_retries(tmp_path, api, clock) -> None:
    api.add(responses.POST, TOKEN_URL, json=token_answer(ACCESS_1, REFRESH_2))
    api.add(responses.POST, TOKEN_URL, json=token_answer(ACCESS_2, REFRESH_3))
    api.add(
        responses.GET,
        STATIONS_URL,
        status=403,
        json={"error": {"code": 3, "message": "Access token expired"}},
    )
    api.add(responses.GET, STATIONS_URL, json=stations_payload())
    with make_netatmo(tmp_path, clock) as station:
        readings = station.read()
    assert readings["outdoor.temperature"].value == -3.2
    assert len(calls_to(api, TOKEN_URL)) == 2
    gets = calls_to(api, STATIONS_URL)
    assert [c.request.headers["Authorization"] for c in gets] == [
        f"Bearer {ACCESS_1}",
        f"Bearer {ACCESS_2}",
    ]


def test_invalid_token_twice_gives_up(tmp_path, api, clock) -> None:
    api.add(responses.POST, TOKEN_URL, json=token_answer(ACCESS_1, REFRESH_2))
    api.add(responses.POST, TOKEN_URL, json=token_answer(ACCESS_2, REFRESH_3))
    api.add(
        responses.GET,
        STATIONS_URL,
        status=403,
        json={"error": {"code": 2, "message": "Invalid access_token"}},
    )
    with (
        make_netatmo(tmp_path, clock) as station,
        pytest.raises(DriverError, match="freshly refreshed") as info,
    ):
        station.read()
    assert not isinstance(info.value, TransientError)
    assert len(calls_to(api, TOKEN_URL)) == 2  # one refresh, not a loop


@pytest.mark.parametrize(
    "answer",
    [{"error": "invalid_grant"}, {"error": {"code": 30, "message": "Invalid refresh_token"}}],
)
def test_invalid_refresh_token_is_permanent_with_hint(tmp_path, api, clock, answer) -> None:
    api.add(responses.POST, TOKEN_URL, status=400, json=answer)
    with make_netatmo(tmp_path, clock) as station, pytest.raises(nm.NetatmoAuthError) as info:
        station.read()
    error = info.value
    assert isinstance(error, ConfigError) and isinstance(error, DriverError)
    assert not isinstance(error, TransientError)
    assert error.field == "refresh_token"
    assert "invalid or was already used" in str(error)
    assert "dev.netatmo.com" in str(error) and "read_station" in str(error)
    assert not calls_to(api, STATIONS_URL)
    assert not any(secret in str(error) for secret in SECRETS)


def test_bad_client_credentials(tmp_path, api, clock) -> None:
    api.add(responses.POST, TOKEN_URL, status=400, json={"error": "invalid_client"})
    with make_netatmo(tmp_path, clock) as station, pytest.raises(nm.NetatmoAuthError) as info:
        station.read()
    assert info.value.field == "client_secret"
    assert CLIENT_SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (403, {"error": {"code": 26, "message": "User usage reached"}}),
        (429, {"error": {"code": 26, "message": "Too many requests"}}),
        (429, None),
        (500, {"error": {"code": 0, "message": "Internal error"}}),
        (503, None),
        (200, {"error": {"code": 41, "message": "Device is unreachable"}}),
    ],
)
def test_transient_errors(tmp_path, api, clock, status, body) -> None:
    api.add(responses.POST, TOKEN_URL, json=token_answer(ACCESS_1, REFRESH_2))
    if body is None:
        api.add(responses.GET, STATIONS_URL, status=status, body="<html>busy</html>")
    else:
        api.add(responses.GET, STATIONS_URL, status=status, json=body)
    with make_netatmo(tmp_path, clock) as station, pytest.raises(SensorUnavailableError) as info:
        station.read()
    assert isinstance(info.value, TransientError)
    assert info.value.driver == "netatmo"


def test_network_errors_are_transient(tmp_path, api, clock) -> None:
    api.add(responses.POST, TOKEN_URL, body=requests.ConnectionError("connection refused"))
    with (
        make_netatmo(tmp_path, clock) as station,
        pytest.raises(SensorUnavailableError, match="cannot reach"),
    ):
        station.read()
    api.replace(responses.POST, TOKEN_URL, json=token_answer(ACCESS_1, REFRESH_2))
    api.add(responses.GET, STATIONS_URL, body=requests.Timeout("read timed out"))
    with (
        make_netatmo(tmp_path, clock, timeout=5) as station,
        pytest.raises(SensorUnavailableError, match="timed out after 5 s"),
    ):
        station.read()


def test_other_api_errors_carry_code_and_message(tmp_path, api, clock) -> None:
    api.add(responses.POST, TOKEN_URL, json=token_answer(ACCESS_1, REFRESH_2))
    api.add(
        responses.GET,
        STATIONS_URL,
        status=400,
        json={"error": {"code": 9, "message": "Device not found"}},
    )
    with (
        make_netatmo(tmp_path, clock, device_id="70:ee:50:00:00:00") as station,
        pytest.raises(DriverError, match=r"error 9: Device not found") as info,
    ):
        station.read()
    assert not isinstance(info.value, TransientError)


def test_nothing_reachable(tmp_path, api, clock) -> None:
    payload = stations_payload()
    station_data = payload["body"]["devices"][0]
    del station_data["dashboard_data"]
    for module in station_data["modules"]:
        module.pop("dashboard_data", None)
    api.add(responses.POST, TOKEN_URL, json=token_answer(ACCESS_1, REFRESH_2))
    api.add(responses.GET, STATIONS_URL, json=payload)
    with (
        make_netatmo(tmp_path, clock) as station,
        pytest.raises(SensorUnavailableError, match="no station module is reachable"),
    ):
        station.read()


def test_token_file_is_preferred_on_start(tmp_path, api, clock) -> None:
    token_file = tmp_path / "netatmo-token.json"
    api.add(responses.POST, TOKEN_URL, json=token_answer(ACCESS_1, REFRESH_2))
    api.add(responses.GET, STATIONS_URL, json=stations_payload())
    with make_netatmo(tmp_path, clock) as station:
        station.read()
    # a restart with the same config: the saved (rotated) pair is used, no refresh needed
    with make_netatmo(tmp_path, clock) as station:
        station.read()
    assert len(calls_to(api, TOKEN_URL)) == 1
    assert calls_to(api, STATIONS_URL)[-1].request.headers["Authorization"] == f"Bearer {ACCESS_1}"
    # the access token has expired: the refresh uses the file's rotated refresh token
    clock.now += 20000
    api.add(responses.POST, TOKEN_URL, json=token_answer(ACCESS_2, REFRESH_3))
    with make_netatmo(tmp_path, clock) as station:
        station.read()
    assert requests.utils.quote(REFRESH_2, safe="") in calls_to(api, TOKEN_URL)[-1].request.body
    # a config without refresh_token works from the file alone
    with make_netatmo(tmp_path, clock, refresh_token=None) as station:
        station.read()
    assert json.loads(token_file.read_text())["refresh_token"] == REFRESH_3


def test_new_config_token_replaces_token_file(tmp_path, api, clock) -> None:
    api.add(responses.POST, TOKEN_URL, json=token_answer(ACCESS_1, REFRESH_2))
    api.add(responses.GET, STATIONS_URL, json=stations_payload())
    with make_netatmo(tmp_path, clock) as station:
        station.read()
    fresh = "5c8e1f2a|made-again-in-the-portal"
    api.add(responses.POST, TOKEN_URL, json=token_answer(ACCESS_2, REFRESH_3))
    with make_netatmo(tmp_path, clock, refresh_token=fresh) as station:
        station.read()
    assert requests.utils.quote(fresh, safe="") in calls_to(api, TOKEN_URL)[-1].request.body


def test_unsaved_token_is_saved_on_next_read(tmp_path, api, clock, monkeypatch) -> None:
    import tempfile

    from iota_publisher.drivers import netatmo as netatmo_module

    missing_dir = tmp_path / "state"
    real_mkstemp = tempfile.mkstemp
    failures = [OSError(28, "No space left on device")]

    def mkstemp(*args, **kwargs):  # the first save fails, as on a full disk
        if failures:
            raise failures.pop()
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(netatmo_module.tempfile, "mkstemp", mkstemp)
    api.add(responses.POST, TOKEN_URL, json=token_answer(ACCESS_1, REFRESH_2))
    api.add(responses.GET, STATIONS_URL, json=stations_payload())
    with make_netatmo(tmp_path, clock, token_file=missing_dir / "tokens.json") as station:
        with pytest.raises(
            SensorUnavailableError, match="could not save the rotated refresh token"
        ):
            station.read()
        assert not calls_to(api, STATIONS_URL)  # the new access token was not used
        station.read()
    assert len(calls_to(api, TOKEN_URL)) == 1  # no second rotation
    assert json.loads((missing_dir / "tokens.json").read_text())["refresh_token"] == REFRESH_2


def test_secrets_stay_out_of_logs_reprs_and_errors(tmp_path, api, clock, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    api.add(responses.POST, TOKEN_URL, json=token_answer(ACCESS_1, REFRESH_2))
    api.add(responses.POST, TOKEN_URL, json=token_answer(ACCESS_2, REFRESH_3))
    api.add(responses.POST, TOKEN_URL, status=400, json={"error": "invalid_grant"})
    api.add(
        responses.GET,
        STATIONS_URL,
        status=403,
        json={"error": {"code": 3, "message": f"Access token expired: {ACCESS_1}"}},
    )
    api.add(
        responses.GET,
        STATIONS_URL,
        status=403,
        json={"error": {"code": 13, "message": f"Forbidden for {ACCESS_2}"}},
    )
    station = make_netatmo(tmp_path, clock)
    for _ in range(2):
        try:
            station.read()
        except DriverError as exc:
            errors.append(exc)
    station.close()
    assert len(errors) == 2
    text = caplog.text + repr(station) + "".join(f"{e!s}{e!r}" for e in errors)
    for secret in SECRETS:
        assert secret not in text
    assert "read_station" in str(errors[0])  # code 13's hint


def test_parse_stations_several_stations_and_duplicate_names() -> None:
    payload = stations_payload()
    other = json.loads(json.dumps(payload["body"]["devices"][0]))
    other.update({"_id": "70:ee:50:99:88:77", "station_name": "Bolås"})
    other["modules"] = [
        {
            "_id": "03:00:00:00:00:01",
            "type": "NAModule4",
            "module_name": "Kid's room",
            "dashboard_data": {"time_utc": 5, "Temperature": 20.5, "CO2": 500, "Humidity": 40},
        },
        {
            "_id": "03:00:00:00:00:02",
            "type": "NAModule4",
            "module_name": "Kid's room",
            "dashboard_data": {"time_utc": 6, "Temperature": 19.5},
        },
        {
            "_id": "09:00:00:00:00:03",
            "type": "NAModule9",
            "module_name": "",
            "dashboard_data": {"time_utc": 7, "Temperature": 1.0},
        },
    ]
    payload["body"]["devices"].append(other)
    data = nm.parse_stations(payload)
    assert data.readings["home_living_room.indoor.temperature"].value == 21.4
    assert data.readings["bolas.indoor.temperature"].value == 21.4
    assert data.readings["bolas.indoor_kid_s_room_000001.co2"].unit == "ppm"
    assert data.readings["bolas.indoor_kid_s_room_000002.temperature"].value == 19.5
    assert data.readings["bolas.module_000003.temperature"].time == 7.0
    assert data.unreachable == ["home_living_room.indoor_bedroom"]
    with pytest.raises(SensorDataError):
        nm.parse_stations({"status": "ok", "body": {}})


def test_netatmo_options(tmp_path, clock) -> None:
    with pytest.raises(ConfigError) as info:
        make_netatmo(tmp_path, clock, client_id=None)
    assert info.value.field == "client_id"
    with pytest.raises(ConfigError, match="dev.netatmo.com") as info:
        make_netatmo(tmp_path, clock, refresh_token=None)
    assert info.value.field == "refresh_token"
    with pytest.raises(ConfigError) as info:
        make_netatmo(tmp_path, clock, api_url="api.netatmo.com")
    assert info.value.field == "api_url"
    (tmp_path / "netatmo-token.json").write_text("not json")
    with pytest.raises(ConfigError) as info:
        make_netatmo(tmp_path, clock)
    assert info.value.field == "token_file"


def test_create_netatmo_with_local_api(tmp_path, api, clock, monkeypatch) -> None:
    local = "http://127.0.0.1:8088"
    api.add(responses.POST, f"{local}/oauth2/token", json=token_answer(ACCESS_1, REFRESH_2))
    api.add(responses.GET, f"{local}/api/getstationsdata", json=stations_payload())
    monkeypatch.chdir(tmp_path)
    session = requests.Session()
    options = {
        "client_id": "id",
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_1,
        "api_url": local + "/",
    }
    with create_driver("netatmo", options, session=session, clock=clock) as station:
        assert isinstance(station, nm.Netatmo)
        assert station.read()["wind.gust_angle"].value == 240
        assert station.token_file == tmp_path / "netatmo-token.json"  # default: the working dir
    assert (tmp_path / "netatmo-token.json").exists()
    session.close()
