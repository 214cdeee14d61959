"""The generic drivers: simulated, file, http and command, and their JSON helpers.

HTTP is mocked with ``responses``; the command cases run small ``python -c``
programs.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import responses
from iota_publisher.drivers import (
    DriverError,
    Reading,
    SensorDataError,
    SensorUnavailableError,
    create_driver,
)
from iota_publisher.drivers.generic import (
    SIMULATED_READINGS,
    CommandSource,
    FileSource,
    HttpSource,
    Simulated,
    SourceExhausted,
    flatten,
    get_path,
    parse_path,
    parse_time,
)

from iota_publisher.errors import ConfigError, TransientError

PY = sys.executable
T0 = 1_556_712_000.0  # 2019-05-01T12:00:00Z
URL = "https://api.example/v1/weather"


def values(readings: dict[str, Reading]) -> dict[str, object]:
    return {name: r.value for name, r in readings.items()}


# -- helpers -------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, parts",
    [
        ("temp", ("temp",)),
        ("main.temp", ("main", "temp")),
        ("list.0.value", ("list", "0", "value")),
        ("data[2].x", ("data", 2, "x")),
        ("[0].a[1][2]", (0, "a", 1, 2)),
        ("a-b_c.d e", ("a-b_c", "d e")),
    ],
)
def test_parse_path(path, parts):
    assert parse_path(path) == parts


@pytest.mark.parametrize("path", ["", "a..b", ".a", "a.", "a[x]", "a[0]b", "a.[0]", "a[-1]", "a]"])
def test_parse_path_rejects(path):
    with pytest.raises(ValueError):
        parse_path(path)


def test_get_path():
    data = {
        "main": {"temp": 21.5},
        "list": [{"value": 3}, {"value": 4}],
        "data": [0, 1, {"x": "y"}],
    }
    assert get_path(data, "main.temp") == 21.5
    assert get_path(data, "list.1.value") == 4
    assert get_path(data, "list[1].value") == 4
    assert get_path(data, "data[2].x") == "y"
    assert get_path([{"a": 1}], "[0].a") == 1
    assert get_path({"0": "key"}, "0") == "key"  # a number segment is a key in an object
    with pytest.raises(LookupError, match="no key 'pressure' in main"):
        get_path(data, "main.pressure")
    with pytest.raises(LookupError, match=r"no index 5 in list \(length 2\)"):
        get_path(data, "list.5")
    with pytest.raises(LookupError, match="main.temp is a number, not an object"):
        get_path(data, "main.temp.x")
    with pytest.raises(LookupError, match="main is an object, not an array"):
        get_path(data, "main[0]")


def test_flatten():
    data = {
        "a": {"b": 1.5, "c": {"d": "x"}},
        "list": [5, {"v": 6}],
        "n": None,
        "ok": True,
        "nan": math.nan,
        "big": 10**30,
        "s": "",
    }
    assert flatten(data) == {
        "a.b": 1.5,
        "a.c.d": "x",
        "list.0": 5,
        "list.1.v": 6,
        "big": 10**30,
        "s": "",
    }
    assert flatten({}) == {}
    with pytest.raises(ValueError, match="'a.b'"):
        flatten({"a.b": 1, "a": {"b": 2}})


@pytest.mark.parametrize(
    "raw, expected",
    [
        (1_556_712_000, T0),
        (1_556_712_000.5, T0 + 0.5),
        (1_556_712_000_123, T0 + 0.123),
        ("1556712000123", T0 + 0.123),
        ("2019-05-01T12:00:00Z", T0),
        ("2019-05-01T12:00:00.250Z", T0 + 0.25),
        ("2019-05-01T14:00:00+02:00", T0),
        ("2019-05-01 12:00:00", T0),  # no offset: UTC
        (0, 0.0),
    ],
)
def test_parse_time(raw, expected):
    assert parse_time(raw) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("raw", [True, None, -5, math.inf, "yesterday", "", [1], {"t": 1}])
def test_parse_time_rejects(raw):
    with pytest.raises(ValueError):
        parse_time(raw)


# -- simulated -------------------------------------------------------------------


def test_simulated_is_deterministic():
    a = Simulated(seed=3, readings=list(SIMULATED_READINGS), clock=lambda: T0)
    b = create_driver(
        "simulated", {"seed": 3, "readings": list(SIMULATED_READINGS)}, clock=lambda: T0
    )
    assert a.read() == b.read() == a.read()
    other = Simulated(seed=4, readings=list(SIMULATED_READINGS), clock=lambda: T0)
    assert values(other.read()) != values(a.read())
    later = Simulated(clock=lambda: T0 + 600).read()
    assert values(later) != values(Simulated(clock=lambda: T0).read())


def test_simulated_stays_in_range_and_drifts_smoothly():
    ranges = {
        "temperature": (-40, 60),
        "humidity": (0, 100),
        "pressure": (870, 1085),
        "co2": (350, 5000),
        "pm2_5": (0, 1000),
        "illuminance": (0, 120_000),
    }
    now = [T0]
    sensor = Simulated(seed=11, readings=list(SIMULATED_READINGS), clock=lambda: now[0])
    previous = None
    series: dict[str, list[float]] = {name: [] for name in SIMULATED_READINGS}
    for step in range(2 * 24 * 12):  # two days, every 5 minutes
        now[0] = T0 + step * 300
        readings = sensor.read()
        assert set(readings) == set(SIMULATED_READINGS)
        for name, reading in readings.items():
            low, high = ranges[name]
            assert math.isfinite(reading.value) and low <= reading.value <= high, (name, reading)
            assert reading.unit == SIMULATED_READINGS[name]
            assert reading.time == now[0]
            series[name].append(reading.value)
        if previous is not None:
            assert abs(readings["temperature"].value - previous["temperature"].value) < 1.5
            assert abs(readings["pressure"].value - previous["pressure"].value) < 1.5
            assert abs(readings["humidity"].value - previous["humidity"].value) < 5
        previous = readings
    assert isinstance(series["co2"][0], int)
    for name in ("temperature", "humidity", "pressure", "co2", "pm2_5"):
        assert max(series[name]) - min(series[name]) > 1, name  # it moves
    assert min(series["illuminance"]) == 0 and max(series["illuminance"]) > 10_000  # night, day


def test_simulated_readings_subset_and_defaults():
    assert set(Simulated(clock=lambda: T0).read()) == {"temperature", "humidity", "pressure"}
    readings = Simulated(readings=["co2", "pm2_5"], clock=lambda: T0).read()
    assert list(readings) == ["co2", "pm2_5"]
    assert readings["pm2_5"].unit == "ug/m3"


@pytest.mark.parametrize(
    "options, field",
    [
        ({"seed": "1"}, "seed"),
        ({"seed": True}, "seed"),
        ({"readings": "temperature"}, "readings"),
        ({"readings": []}, "readings"),
        ({"readings": ["temperature", "wind"]}, "readings"),
        ({"readings": ["co2", "co2"]}, "readings"),
        ({"readings": [["co2"]]}, "readings"),
        ({"sed": 1}, "options"),
    ],
)
def test_simulated_bad_options(options, field):
    with pytest.raises(ConfigError) as info:
        create_driver("simulated", options)
    assert info.value.field == field


# -- file ------------------------------------------------------------------------------


TEMPLATE_DATA = [
    {"name": "AT-AT", "model": "All Terrain Armored Transport", "vehicle_class": "assault walker"},
    {"name": "Snowspeeder", "model": "t-47 airspeeder", "vehicle_class": "airspeeder"},
]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_file_json_array_then_exhausted(tmp_path):
    path = write(tmp_path, "data.json", json.dumps(TEMPLATE_DATA, indent=2))
    with create_driver("file", {"path": str(path)}) as source:
        assert values(source.read()) == TEMPLATE_DATA[0]
        assert values(source.read()) == TEMPLATE_DATA[1]
        for _ in range(2):  # and again: it stays exhausted
            with pytest.raises(SourceExhausted, match="no more records") as info:
                source.read()
            assert not isinstance(info.value, TransientError)
            assert info.value.driver == "file"


def test_file_json_lines_nested_loop_and_units(tmp_path):
    path = write(
        tmp_path,
        "log.jsonl",
        '{"temp": 21.5, "room": "lab", "air": {"co2": 600, "ok": true}, "x": null}\n'
        "\n"
        '{"temp": 22.0, "room": "lab", "air": {"co2": 610}}\n',
    )
    source = FileSource(path=path, loop=True, units={"temp": "C", "air.co2": "ppm"})
    first = source.read()
    assert values(first) == {"temp": 21.5, "room": "lab", "air.co2": 600}
    assert first["temp"].unit == "C" and first["air.co2"].unit == "ppm"
    assert first["room"].unit is None and first["temp"].time is None
    assert values(source.read())["temp"] == 22.0
    assert values(source.read())["temp"] == 21.5  # looped
    source.close()


def test_file_format_detection_and_bom(tmp_path):
    lines = write(tmp_path, "records.json", '{"a": 1}\n{"a": 2}\n')  # JSON Lines despite .json
    assert values(FileSource(path=lines).read()) == {"a": 1}
    array = tmp_path / "bom.json"
    array.write_bytes(b'\xef\xbb\xbf  \n[{"a": 3}]')
    assert values(FileSource(path=array).read()) == {"a": 3}
    bom_lines = tmp_path / "bom.jsonl"
    bom_lines.write_bytes(b'\xef\xbb\xbf{"a": 4}\n')
    assert values(FileSource(path=bom_lines).read()) == {"a": 4}
    forced = write(tmp_path, "forced.txt", '[1, 2]\n{"a": 5}\n')
    source = FileSource(path=forced, format="jsonl")
    with pytest.raises(SensorDataError, match="line 1: expected a JSON object, not an array"):
        source.read()
    assert values(source.read()) == {"a": 5}


@pytest.mark.parametrize(
    "stamp",
    [
        1_556_712_000_123,
        1_556_712_000.123,
        "2019-05-01T12:00:00.123Z",
        "2019-05-01T14:00:00.123+02:00",
    ],
)
def test_file_time_key(tmp_path, stamp):
    path = write(tmp_path, "t.jsonl", json.dumps({"ts": stamp, "temp": 20}) + "\n")
    readings = FileSource(path=path, time_key="ts").read()
    assert list(readings) == ["temp"]
    assert readings["temp"].time == pytest.approx(T0 + 0.123, abs=1e-6)


def test_file_nested_time_key_and_missing_time(tmp_path):
    path = write(
        tmp_path,
        "t.jsonl",
        '{"meta": {"at": 1556712000, "by": "x"}, "v": 1}\n'
        '{"v": 2}\n{"meta": {"at": "soon"}, "v": 3}\n',
    )
    source = FileSource(path=path, time_key="meta.at")
    readings = source.read()
    assert values(readings) == {"meta.by": "x", "v": 1} and readings["v"].time == T0
    with pytest.raises(SensorDataError, match=r"line 2: time_key 'meta.at': no key 'meta'"):
        source.read()
    with pytest.raises(SensorDataError, match=r"line 3: time_key 'meta.at': 'soon' is not"):
        source.read()


def test_file_malformed_line_is_skipped(tmp_path):
    path = write(
        tmp_path, "log.jsonl", '{"v": 1}\n{"v": 2,,}\n{"v": 3}\n7\n{"v": null}\n{"v": 4}\n'
    )
    source = FileSource(path=path)
    assert values(source.read()) == {"v": 1}
    with pytest.raises(SensorDataError) as info:
        source.read()
    assert str(path) in str(info.value) and "line 2: not valid JSON" in str(info.value)
    assert not isinstance(info.value, TransientError)
    assert values(source.read()) == {"v": 3}
    with pytest.raises(SensorDataError, match="line 4: expected a JSON object, not a number"):
        source.read()
    with pytest.raises(SensorDataError, match="line 5: no numbers or strings"):
        source.read()
    assert values(source.read()) == {"v": 4}
    with pytest.raises(SourceExhausted):
        source.read()


def test_file_json_array_bad_records(tmp_path):
    path = write(tmp_path, "data.json", '[\n  {"v": 1},\n  "text",\n  {"v": 2},\n  {"v": }\n]\n')
    source = FileSource(path=path)
    assert values(source.read()) == {"v": 1}
    with pytest.raises(SensorDataError, match="line 3: expected a JSON object, not a string"):
        source.read()
    assert values(source.read()) == {"v": 2}
    with pytest.raises(SensorDataError, match="line 5: not valid JSON"):
        source.read()
    with pytest.raises(SourceExhausted):
        source.read()


def test_file_empty_with_loop_does_not_spin(tmp_path):
    source = FileSource(path=write(tmp_path, "empty.jsonl", "\n\n"), loop=True)
    with pytest.raises(SourceExhausted, match="holds no records"):
        source.read()


def test_file_vanishing_is_transient(tmp_path):
    path = write(tmp_path, "gone.json", "[]")
    source = FileSource(path=path)
    path.unlink()
    with pytest.raises(SensorUnavailableError, match="cannot read"):
        source.read()


def test_file_close_is_idempotent(tmp_path):
    source = FileSource(path=write(tmp_path, "a.jsonl", '{"v": 1}\n{"v": 2}\n'))
    source.read()
    source.close()
    source.close()
    with pytest.raises(DriverError, match="after close"):
        source.read()


@pytest.mark.parametrize(
    "options, field",
    [
        ({}, "path"),
        ({"path": "no/such/file.json"}, "path"),
        ({"path": 42}, "path"),
        ({"path": "{tmp}", "loop": "yes"}, "loop"),
        ({"path": "{tmp}", "format": "csv"}, "format"),
        ({"path": "{tmp}", "time_key": "a..b"}, "time_key"),
        ({"path": "{tmp}", "units": ["C"]}, "units"),
        ({"path": "{tmp}", "units": {"t": 1}}, "units"),
        ({"path": "{tmp}", "loops": True}, "options"),
    ],
)
def test_file_bad_options(tmp_path, options, field):
    data = write(tmp_path, "d.json", "[]")
    options = {k: (str(data) if v == "{tmp}" else v) for k, v in options.items()}
    with pytest.raises(ConfigError) as info:
        create_driver("file", options)
    assert info.value.field == field


# -- http ------------------------------------------------------------------------------

OWM = {
    "coord": {"lon": 13.41, "lat": 52.52},
    "weather": [{"id": 800, "main": "Clear"}],
    "main": {"temp": 21.5, "pressure": 1012, "humidity": 40},
    "dt": 1556712000,
    "name": "Berlin",
    "visibility": 10000,
    "cod": 200,
    "ok": True,
    "list": [{"value": 1.5}, {"value": 2.5}],
}


@responses.activate
def test_http_fields_and_units():
    responses.add(responses.GET, URL, json=OWM)
    source = create_driver(
        "http",
        {
            "url": URL,
            "fields": {
                "temperature": "main.temp",
                "sky": "weather[0].main",
                "second": "list.1.value",
                "pressure": "main.pressure",
            },
            "units": {"temperature": "C", "pressure": "hPa"},
            "time_key": "dt",
        },
    )
    readings = source.read()
    assert values(readings) == {
        "temperature": 21.5,
        "sky": "Clear",
        "second": 2.5,
        "pressure": 1012,
    }
    assert readings["temperature"].unit == "C" and readings["sky"].unit is None
    assert readings["pressure"].time == T0
    source.close()
    source.close()


@responses.activate
def test_http_default_top_level_numbers():
    responses.add(responses.GET, URL, json=OWM)
    assert values(HttpSource(url=URL).read()) == {"dt": 1556712000, "visibility": 10000, "cod": 200}
    readings = HttpSource(url=URL, time_key="dt", units={"visibility": "m"}).read()
    assert values(readings) == {"visibility": 10000, "cod": 200}
    assert readings["visibility"].unit == "m" and readings["cod"].time == T0


@responses.activate
def test_http_sends_headers_and_timeout():
    responses.add(responses.GET, URL, json={"v": 1})
    HttpSource(
        url=URL, headers={"Authorization": "Bearer t0ken", "Accept": "application/json"}, timeout=4
    ).read()
    request = responses.calls[0].request
    assert request.headers["Authorization"] == "Bearer t0ken"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("iota-publisher/")
    assert request.req_kwargs["timeout"] == 4


@responses.activate
def test_http_missing_path_and_wrong_kinds():
    responses.add(responses.GET, URL, json=OWM)
    with pytest.raises(SensorDataError) as info:
        HttpSource(url=URL, fields={"t": "main.temperature"}).read()
    message = str(info.value)
    assert "'main.temperature'" in message and "no key 'temperature' in main" in message
    assert URL in message
    with pytest.raises(SensorDataError, match="'main'.*an object, not a number or string"):
        HttpSource(url=URL, fields={"m": "main"}).read()
    with pytest.raises(SensorDataError, match="'ok'.*a boolean"):
        HttpSource(url=URL, fields={"ok": "ok"}).read()
    with pytest.raises(SensorDataError, match="time_key 'time'"):
        HttpSource(url=URL, time_key="time").read()


@responses.activate
def test_http_answers_that_are_not_usable():
    responses.add(responses.GET, URL, body="<html>busy</html>", content_type="text/html")
    responses.add(responses.GET, URL, json=[1, 2])
    responses.add(responses.GET, URL, json={"name": "x", "nested": {"v": 1}})
    responses.add(responses.GET, URL, json={}, status=404)
    source = HttpSource(url=URL)
    with pytest.raises(SensorDataError, match=r"not JSON \(text/html\)"):
        source.read()
    with pytest.raises(SensorDataError, match="an array, not an object"):
        source.read()
    with pytest.raises(SensorDataError, match="no top-level numbers"):
        source.read()
    with pytest.raises(SensorDataError, match="HTTP 404") as info:
        source.read()
    assert not isinstance(info.value, TransientError)


@pytest.mark.parametrize("status", [500, 503, 429, 408])
@responses.activate
def test_http_server_trouble_is_transient(status):
    responses.add(responses.GET, URL, json={"error": "busy"}, status=status)
    with pytest.raises(SensorUnavailableError, match=f"HTTP {status}") as info:
        HttpSource(url=URL).read()
    assert isinstance(info.value, TransientError) and info.value.driver == "http"


@pytest.mark.parametrize(
    "error, match",
    [
        (requests.exceptions.ConnectTimeout("slow"), "timed out after 2 s"),
        (requests.exceptions.ReadTimeout("slow"), "timed out"),
        (requests.exceptions.ConnectionError("refused"), "connecting to .* failed: refused"),
    ],
)
@responses.activate
def test_http_network_errors_are_transient(error, match):
    responses.add(responses.GET, URL, body=error)
    with pytest.raises(SensorUnavailableError, match=match):
        HttpSource(url=URL, timeout=2).read()


@responses.activate
def test_http_tls_failure_is_permanent():
    failure = requests.exceptions.SSLError("certificate verify failed")
    responses.add(responses.GET, URL, body=failure)
    with pytest.raises(DriverError, match="TLS failed") as info:
        HttpSource(url=URL).read()
    assert not isinstance(info.value, (TransientError, SensorDataError))


@responses.activate
def test_http_query_secrets_stay_out_of_messages():
    url = "https://api.example/weather?q=Berlin&appid=SECRET-APP-ID"
    responses.add(responses.GET, url, status=500)
    responses.add(
        responses.GET,
        url,
        body=requests.exceptions.ConnectionError(
            "Max retries exceeded with url: /weather?q=Berlin&appid=SECRET-APP-ID"
        ),
    )
    source = HttpSource(url=url)
    for _ in range(2):
        with pytest.raises(SensorUnavailableError) as info:
            source.read()
        assert "SECRET-APP-ID" not in str(info.value)
        assert "SECRET-APP-ID" not in str(info.value.__cause__ or "")
        assert "https://api.example/weather?q=***&appid=***" in str(info.value)
    assert "SECRET" not in repr(source)


def test_http_session_seam_is_not_closed():
    class Session(requests.Session):
        closed = 0

        def close(self):
            Session.closed += 1
            super().close()

    session = Session()
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, URL, json={"v": 2})
        with HttpSource(url=URL, session=session) as source:
            assert values(source.read()) == {"v": 2}
    assert Session.closed == 0
    with pytest.raises(DriverError, match="after close"):
        source.read()
    session.close()


@pytest.mark.parametrize(
    "options, field",
    [
        ({}, "url"),
        ({"url": "api.example/x"}, "url"),
        ({"url": "ftp://api.example/x"}, "url"),
        ({"url": "http://"}, "url"),
        ({"url": URL, "fields": ["main.temp"]}, "fields"),
        ({"url": URL, "fields": {"t": "main..temp"}}, "fields"),
        ({"url": URL, "fields": {"t": 3}}, "fields"),
        ({"url": URL, "headers": {"X-Key": 5}}, "headers"),
        ({"url": URL, "timeout": 0}, "timeout"),
        ({"url": URL, "timeout": "5"}, "timeout"),
        ({"url": URL, "timeout": math.nan}, "timeout"),
        ({"url": URL, "fields": {"t": "main.temp"}, "units": {"p": "hPa"}}, "units"),
        ({"url": URL, "time_key": ""}, "time_key"),
        ({"url": URL, "method": "POST"}, "options"),
    ],
)
def test_http_bad_options(options, field):
    with pytest.raises(ConfigError) as info:
        create_driver("http", options)
    assert info.value.field == field


# -- command ---------------------------------------------------------------------------


def py(code: str) -> list[str]:
    return [PY, "-c", code]


def test_command_prints_json():
    code = (
        "import json, os; print(json.dumps({'temp': 21.5, 'id': 'a7', 'air': {'co2': 612},"
        " 'flag': False, 'at': '2019-05-01T12:00:00Z', 'x': os.environ['X_VALUE'],"
        " 'path': 'PATH' in os.environ}))"
    )
    source = create_driver(
        "command",
        {"command": py(code), "env": {"X_VALUE": "7"}, "time_key": "at", "units": {"temp": "C"}},
    )
    readings = source.read()
    assert values(readings) == {"temp": 21.5, "id": "a7", "air.co2": 612, "x": "7"}
    assert readings["temp"].unit == "C" and readings["temp"].time == T0
    source.close()
    source.close()


def test_command_string_is_split_without_a_shell(tmp_path):
    marker = tmp_path / "pwned"
    hostile = f"$(touch {marker}); touch {marker} | cat > {marker} && echo * `id`"
    code = "import json, sys; print(json.dumps({'arg': sys.argv[1], 'n': len(sys.argv)}))"
    command = f"{shlex.quote(PY)} -c {shlex.quote(code)} {shlex.quote(hostile)}"
    readings = CommandSource(command=command).read()
    assert values(readings) == {"arg": hostile, "n": 2}
    unquoted = f"{shlex.quote(PY)} -c {shlex.quote(code)} ; touch {marker}"
    assert values(CommandSource(command=unquoted).read())["arg"] == ";"
    assert not marker.exists()


def test_command_failure_names_exit_code_and_stderr():
    code = (
        "import sys; print('warming up', file=sys.stderr); "
        "print('no sensor on pin 4', file=sys.stderr); sys.exit(3)"
    )
    with pytest.raises(SensorDataError) as info:
        CommandSource(command=py(code)).read()
    message = str(info.value)
    assert "exited with code 3" in message and message.endswith("no sensor on pin 4")
    assert "warming up" not in message
    with pytest.raises(SensorDataError, match=r"code 1 \(nothing on stderr\)"):
        CommandSource(command=py("raise SystemExit(1)")).read()


@pytest.mark.parametrize(
    "output, match",
    [
        ("not json", "not a JSON object"),
        ("", "it printed: nothing"),
        ("[1, 2]", "expected a JSON object, not an array"),
        ('{"a": 1}\\n{"a": 2}', "not a JSON object"),
        ('{"ok": true}', "no numbers or strings"),
    ],
)
def test_command_bad_output(output, match):
    with pytest.raises(SensorDataError, match=match):
        CommandSource(command=py(f"print('{output}', end='')")).read()


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie no one reaped yet
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_command_timeout_kills_the_program_and_its_children(tmp_path):
    pidfile = tmp_path / "pid"
    code = (
        "import subprocess, sys, time; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); "
        f"open({str(pidfile)!r}, 'w').write(str(p.pid)); print('{{}}', flush=True); "
        "time.sleep(30)"
    )
    source = CommandSource(command=py(code), timeout=0.5)
    started = time.monotonic()
    with pytest.raises(SensorUnavailableError, match="did not finish within 0.5 s") as info:
        source.read()
    assert time.monotonic() - started < 3
    assert isinstance(info.value, TransientError)
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 2
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _gone(child)


@pytest.mark.parametrize(
    "options, field",
    [
        ({}, "command"),
        ({"command": []}, "command"),
        ({"command": "  "}, "command"),
        ({"command": "echo 'unbalanced"}, "command"),
        ({"command": [PY, 3]}, "command"),
        ({"command": "no-such-program-here --json"}, "command"),
        ({"command": [PY], "timeout": -1}, "timeout"),
        ({"command": [PY], "env": {"A": 1}}, "env"),
        ({"command": [PY], "env": "A=1"}, "env"),
        ({"command": [PY], "time_key": "a["}, "time_key"),
        ({"command": [PY], "shell": True}, "options"),
    ],
)
def test_command_bad_options(options, field):
    with pytest.raises(ConfigError) as info:
        create_driver("command", options)
    assert info.value.field == field


# -- the module ------------------------------------------------------------------------


def test_registry_names():
    for name, cls in [
        ("simulated", Simulated),
        ("file", FileSource),
        ("http", HttpSource),
        ("command", CommandSource),
    ]:
        assert cls.name == name
        assert type(create_driver(name, *_minimal(name))) is cls


def _minimal(name: str) -> tuple[dict, ...]:
    return {
        "simulated": ({},),
        "file": ({"path": __file__, "format": "jsonl"},),
        "http": ({"url": URL},),
        "command": ({"command": [PY, "-c", "print(1)"]},),
    }[name]


def test_importing_the_module_does_not_import_requests():
    code = (
        "import sys, iota_publisher.drivers.generic as g; g.Simulated().read(); "
        "assert 'requests' not in sys.modules, 'requests imported'"
    )
    subprocess.run([PY, "-c", code], check=True, timeout=20)
