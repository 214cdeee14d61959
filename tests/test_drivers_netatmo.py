"""The Netatmo driver, on a web API mocked by `responses`."""

from __future__ import annotations

import json
import logging
import stat
from typing import Any

import pytest
import requests
import responses
from iota_publisher.drivers import (
    DriverError,
    SensorDataError,
    SensorUnavailableError,
    create_driver,
)
from iota_publisher.drivers import netatmo as nm

from iota_publisher.errors import ConfigError, TransientError

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
        (408, None),
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


def test_redirects_are_refused_and_echoed_secrets_masked(tmp_path, api, clock) -> None:
    api.add(
        responses.POST,
        TOKEN_URL,
        status=307,
        headers={"Location": "https://evil.example/steal"},
    )
    with make_netatmo(tmp_path, clock) as station, pytest.raises(DriverError) as info:
        station.read()
    assert "redirect to https://evil.example refused" in str(info.value)
    assert not isinstance(info.value, TransientError)
    assert len(calls_to(api, TOKEN_URL)) == 1 and not api.calls[1:]  # not followed
    # a server echoing the form it was sent: the client secret and the token are masked
    echo = f"bad request: client_secret={CLIENT_SECRET}&refresh_token={REFRESH_1}"
    api.replace(responses.POST, TOKEN_URL, status=500, json={"error": echo})
    with make_netatmo(tmp_path, clock) as station, pytest.raises(SensorUnavailableError) as info:
        station.read()
    assert "bad request" in str(info.value)
    assert not any(secret in str(info.value) for secret in SECRETS)


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
