"""The file source: JSON arrays and JSON Lines, record by record (drivers/file.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from iota_publisher.drivers import (
    DriverError,
    Reading,
    SensorDataError,
    SensorUnavailableError,
    SourceExhausted,
    create_driver,
)
from iota_publisher.drivers.file import FileSource

from iota_publisher.errors import ConfigError, TransientError

T0 = 1_556_712_000.0  # 2019-05-01T12:00:00Z


def values(readings: dict[str, Reading]) -> dict[str, object]:
    return {name: r.value for name, r in readings.items()}


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


def test_time_key_becomes_the_packet_time_through_a_config(tmp_path):
    # back-filling history: each record's own time reaches the mapped payload
    from iota_publisher.drivers import create_driver

    from iota_publisher.config import load_config

    (tmp_path / "log.jsonl").write_text(
        '{"ts": 1556712000123, "temp": 21.5}\n{"ts": "2019-05-01T12:10:00Z", "temp": 22.0}\n'
    )
    config_path = tmp_path / "config.json"
    config_path.write_text(
        json.dumps(
            {
                "sensorId": "dev",
                "secretKey": "key",
                "sensors": [
                    {
                        "name": "log",
                        "driver": "file",
                        "options": {"path": "log.jsonl", "time_key": "ts", "units": {"temp": "C"}},
                    }
                ],
                "fields": [{"id": "temp", "reading": "temp", "unit": "F"}],
            }
        )
    )
    config = load_config(config_path)
    (sensor,) = config.sensors
    times = []
    with create_driver(sensor.driver, sensor.options) as source:
        for _ in range(2):
            mapped = config.fields.apply({"log": source.read()})
            assert "ts" not in mapped.data
            times.append(mapped.time)
    assert times == [pytest.approx(1556712000.123), 1556712600.0]
