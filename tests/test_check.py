"""``iota-publish check``: every problem `run` would meet, found before proof of work."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from click.testing import CliRunner

from iota_publisher.cli import main
from iota_publisher.config import find_problems, load_config
from iota_publisher.errors import ConfigError
from iota_publisher.sandbox import Sandbox

SIDE_KEY_VALUE = "MYSECRETSIDEKEYVALUE"


def base_config(tmp_path, **changes):
    config = {
        "sensorId": "sensor-1",
        "secretKey": "SECRET",
        "debug": True,
        "stateDir": str(tmp_path / "state"),
        "sensors": [
            {"name": "air", "driver": "bme280", "options": {"address": "0x76"}},
            {"name": "station", "driver": "simulated", "options": {"seed": 1}},
        ],
        "fields": [
            {"id": "temp", "sensor": "air", "reading": "temperature", "unit": "F", "round": 1},
            {"id": "press", "sensor": "air", "reading": "pressure", "unit": "hPa"},
            {"id": "hum", "sensor": "station", "reading": "humidity"},
        ],
    }
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    return config


def write(tmp_path, config, name="config.json"):
    path = tmp_path / name
    path.write_text(json.dumps(config) if not isinstance(config, str) else config)
    return str(path)


def check(path, *args):
    return CliRunner().invoke(main, ["check", "--config", path, *args])


def assert_finds(result, *needles):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.output, (needle, result.output)


def lines_of(result):
    return [line for line in result.output.splitlines() if line.strip()]


# -- the good case -----------------------------------------------------------------


def test_a_good_config_is_ok_with_a_summary(tmp_path):
    result = check(write(tmp_path, base_config(tmp_path)))
    assert result.exit_code == 0, result.output
    assert lines_of(result) == [
        f"{tmp_path / 'config.json'}: OK (debug mode; 2 sensor(s), 3 field(s))"
    ]


@pytest.mark.parametrize("name", ["bme280.json", "netatmo.json", "particulates.json"])
def test_the_examples_pass(name):
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / name
    result = check(str(path))
    assert result.exit_code == 0, result.output


def test_the_example_config_passes():
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "config.example.json"
    result = check(str(path))
    assert result.exit_code == 0, result.output


# -- one test per finding ----------------------------------------------------------------


def test_no_sensors(tmp_path):
    result = check(write(tmp_path, base_config(tmp_path, sensors=None, fields=None)))
    assert_finds(result, "no 'sensors'")


def test_empty_sensors(tmp_path):
    result = check(write(tmp_path, base_config(tmp_path, sensors=[], fields=None)))
    assert_finds(result, "no 'sensors'")


def test_unknown_driver_with_a_suggestion(tmp_path):
    config = base_config(tmp_path)
    config["sensors"][1]["driver"] = "simulatd"
    assert_finds(check(write(tmp_path, config)), "sensors[1].driver", "did you mean 'simulated'")


def test_unknown_option_with_a_suggestion(tmp_path):
    config = base_config(tmp_path)
    config["sensors"][0]["options"] = {"adress": "0x76"}
    assert_finds(
        check(write(tmp_path, config)), "sensors[0].options.adress", "did you mean 'address'"
    )


def test_missing_required_option(tmp_path):
    config = base_config(tmp_path)
    config["sensors"][1] = {"name": "station", "driver": "file", "options": {}}
    assert_finds(check(write(tmp_path, config)), "sensors[1].options.path", "needs the option")


def test_wrong_option_type(tmp_path):
    config = base_config(tmp_path)
    config["sensors"][1]["options"] = {"seed": "one"}
    assert_finds(check(write(tmp_path, config)), "sensors[1].options.seed", "integer")


def test_option_out_of_range(tmp_path):
    config = base_config(tmp_path)
    config["sensors"].append({"name": "thingy", "driver": "thingy52", "options": {"interval": 50}})
    assert_finds(check(write(tmp_path, config)), "sensors[2].options.interval", "200")


def test_option_not_one_of_the_choices(tmp_path):
    config = base_config(tmp_path)
    config["sensors"][0]["options"]["oversampling"] = 3
    assert_finds(check(write(tmp_path, config)), "sensors[0].options.oversampling", "1, 2, 4")


def test_option_the_driver_itself_rejects(tmp_path):
    config = base_config(tmp_path)
    config["sensors"][0]["options"]["address"] = "0x42"
    assert_finds(check(write(tmp_path, config)), "sensors[0].options.address", "0x76 or 0x77")


def test_file_that_does_not_exist(tmp_path):
    config = base_config(tmp_path)
    config["sensors"][1] = {"name": "station", "driver": "file", "options": {"path": "no.json"}}
    config["fields"][2]["reading"] = "humidity"
    assert_finds(check(write(tmp_path, config)), "sensors[1].options.path", "no file")


def test_field_sensor_that_is_not_configured(tmp_path):
    config = base_config(tmp_path)
    config["fields"][0]["sensor"] = "ai"
    assert_finds(check(write(tmp_path, config)), "fields[0].sensor", "did you mean 'air'")


def test_misspelled_reading(tmp_path):
    config = base_config(tmp_path)
    config["fields"][0]["reading"] = "temprature"
    assert_finds(check(write(tmp_path, config)), "fields[0].reading", "did you mean 'temperature'")


def test_reading_no_sensor_yields(tmp_path):
    config = base_config(tmp_path)
    config["fields"][2] = {"id": "co2", "reading": "co2"}  # simulated's co2 is not chosen
    assert_finds(check(write(tmp_path, config)), "fields[2].reading", "no configured sensor")


def test_reading_of_an_open_source_is_not_guessed(tmp_path):
    (tmp_path / "data.jsonl").write_text('{"anything": 1}\n')
    config = base_config(tmp_path)
    config["sensors"][1] = {"name": "station", "driver": "file", "options": {"path": "data.jsonl"}}
    config["fields"][2] = {"id": "x", "sensor": "station", "reading": "anything"}
    assert check(write(tmp_path, config)).exit_code == 0


def test_unknown_unit(tmp_path):
    config = base_config(tmp_path)
    config["fields"][1]["unit"] = "hPaa"
    assert_finds(check(write(tmp_path, config)), "fields[1].unit", "did you mean 'hPa'")


def test_unit_that_does_not_apply(tmp_path):
    config = base_config(tmp_path)
    config["fields"][0]["unit"] = "hPa"  # on a temperature
    assert_finds(check(write(tmp_path, config)), "fields[0].unit", "temperature")


def test_unit_on_a_reading_without_one(tmp_path):
    config = base_config(tmp_path)
    config["sensors"][1] = {
        "name": "station",
        "driver": "http",
        "options": {"url": "http://127.0.0.1:9/x", "fields": {"t": "main.temp"}},
    }
    config["fields"][2] = {"id": "hum", "sensor": "station", "reading": "t", "unit": "C"}
    assert_finds(check(write(tmp_path, config)), "fields[2].unit", "no unit")


def test_unit_conversion_within_a_dimension_is_fine(tmp_path):
    config = base_config(tmp_path)
    config["fields"][1]["unit"] = "inHg"
    assert check(write(tmp_path, config)).exit_code == 0


def test_unknown_top_level_key_with_a_suggestion(tmp_path):
    config = base_config(tmp_path, intervall=10)
    assert_finds(check(write(tmp_path, config)), "'intervall'", "did you mean 'interval'")


def test_comment_keys_are_allowed(tmp_path):
    config = base_config(tmp_path, _comment="my station")
    assert check(write(tmp_path, config)).exit_code == 0


def test_unknown_sensor_key(tmp_path):
    config = base_config(tmp_path)
    config["sensors"][0]["optoins"] = {}
    assert_finds(check(write(tmp_path, config)), "sensors[0].optoins", "did you mean 'options'")


def test_unknown_field_key(tmp_path):
    config = base_config(tmp_path)
    config["fields"][0]["scal"] = 2
    assert_finds(check(write(tmp_path, config)), "fields[0].scal", "did you mean 'scale'")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("mwm", 30),
        ("mwm", 0),
        ("interval", 0),
        ("interval", -5),
        ("security", 4),
        ("depth", 0),
        ("timeout", 0),
        ("outboxLimit", 0),
    ],
)
def test_numbers_out_of_range(tmp_path, key, value):
    result = check(write(tmp_path, base_config(tmp_path, **{key: value})))
    assert_finds(result, f"'{key}'")


def test_sensor_interval_out_of_range(tmp_path):
    config = base_config(tmp_path)
    config["sensors"][0]["interval"] = 0
    assert_finds(check(write(tmp_path, config)), "sensors[0].interval")


def test_state_dir_not_writable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    config = base_config(tmp_path, stateDir=str(blocker / "state"))
    assert_finds(check(write(tmp_path, config)), "stateDir")


def test_state_dir_is_created(tmp_path):
    config = base_config(tmp_path, stateDir=str(tmp_path / "new" / "state"))
    assert check(write(tmp_path, config)).exit_code == 0
    assert (tmp_path / "new" / "state").is_dir()


def test_endpoint_without_new_data(tmp_path):
    config = base_config(tmp_path, endpoint="http://127.0.0.1:5001/api")
    assert_finds(check(write(tmp_path, config)), "'endpoint'", "/newData")


def test_every_problem_on_its_own_line(tmp_path):
    config = base_config(tmp_path, intervall=5, mwm=30)
    config["fields"][0]["reading"] = "temprature"
    result = check(write(tmp_path, config))
    assert result.exit_code == 2
    lines = lines_of(result)
    assert len(lines) == 3, lines
    assert [any(key in line for line in lines) for key in ("intervall", "mwm", "fields[0]")] == [
        True
    ] * 3


def test_a_bad_side_key_value_is_never_shown(tmp_path):
    result = check(write(tmp_path, base_config(tmp_path, sideKey=SIDE_KEY_VALUE)))
    assert_finds(result, "'sideKey'")
    assert SIDE_KEY_VALUE not in result.output


def test_secret_options_are_never_shown(tmp_path):
    config = base_config(tmp_path)
    config["sensors"][1] = {
        "name": "station",
        "driver": "netatmo",
        "options": {"client_id": "id", "client_secret": ["TOPSECRET-VALUE"]},
    }
    config["fields"][2] = {"id": "hum", "sensor": "station", "reading": "indoor.humidity"}
    result = check(write(tmp_path, config))
    assert_finds(result, "sensors[1].options.client_secret")
    assert "TOPSECRET-VALUE" not in result.output


# -- the loader: every failure is a ConfigError naming the key or the file ------------------


def test_non_utf8_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_bytes(b'{"sensorId": "caf\xe9"}')
    assert_finds(check(str(path)), "not UTF-8", str(path))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_very_deep_nesting(tmp_path):
    path = write(tmp_path, '{"sensorId": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert_finds(check(path), "nested too deeply")
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_config(path)


@pytest.mark.parametrize(
    ("data_types", "key"),
    [
        (5, "dataTypes"),
        ("temp", "dataTypes"),
        (
            [{"id": "temp", "name": "T", "unit": "C"}, {"id": "temp", "name": "T2", "unit": "C"}],
            "dataTypes[1].id",
        ),
        ([5], "dataTypes[0]"),
    ],
)
def test_bad_data_types(tmp_path, data_types, key):
    path = write(tmp_path, base_config(tmp_path, dataTypes=data_types))
    assert_finds(check(path), key)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.field == key


@pytest.mark.parametrize("url", ["http://[::1", "http://host:99999/", "ftp://host/"])
def test_bad_provider_url(tmp_path, url):
    path = write(tmp_path, base_config(tmp_path, provider=url))
    assert_finds(check(path), "'provider'")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.field == "provider"


def test_the_run_command_reports_loader_errors_with_exit_2(tmp_path):
    path = write(tmp_path, base_config(tmp_path, dataTypes=5))
    result = CliRunner().invoke(main, ["run", "--once", "--config", path])
    assert result.exit_code == 2 and "dataTypes" in result.output
    assert "Traceback" not in result.output


def test_find_problems_returns_the_config_when_there_are_none(tmp_path):
    config, problems = find_problems(write(tmp_path, base_config(tmp_path)))
    assert problems == [] and config is not None and config.sensors[0].name == "air"
    config, problems = find_problems(write(tmp_path, base_config(tmp_path, mwm=30)))
    assert config is None and [p.field for p in problems] == ["mwm"]


def test_load_config_raises_the_first_problem_naming_the_key(tmp_path):
    config = base_config(tmp_path)
    config["sensors"][0]["options"] = {"adress": "0x76"}
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, config))
    assert info.value.field == "sensors[0].options.adress"


# -- --online -----------------------------------------------------------------------------


@pytest.fixture
def sandbox(tmp_path):
    with Sandbox(tmp_path / "sandbox", mwm=3) as sb:
        yield sb


def live_config(tmp_path, sandbox, **changes):
    config = sandbox.config()
    config["stateDir"] = str(tmp_path / "state")
    config.update(changes)
    return write(tmp_path, config)


def test_online_against_the_sandbox(tmp_path, sandbox):
    result = check(live_config(tmp_path, sandbox), "--online")
    assert result.exit_code == 0, result.output
    assert "the node answers: iota-publisher sandbox" in result.output
    assert "knows device" in result.output
    assert "OK (live" in result.output and "device known" in result.output
    # nothing was published
    assert sandbox.market is not None and not (tmp_path / "state" / "outbox.sqlite").exists()


def test_online_unknown_device(tmp_path, sandbox):
    result = check(live_config(tmp_path, sandbox, sensorId="nobody-here"), "--online")
    assert_finds(result, "sensorId", "nobody-here")


def test_online_unreachable_node(tmp_path, sandbox):
    result = check(live_config(tmp_path, sandbox, provider="http://127.0.0.1:1"), "--online")
    assert result.exit_code == 1, result.output
    assert "provider" in result.output and "getNodeInfo" in result.output


class _NodeInfo(BaseHTTPRequestHandler):
    info: ClassVar[dict] = {}

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps(self.info).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def node_reporting_mwm():
    handler = type(
        "Handler",
        (_NodeInfo,),
        {"info": {"appName": "IRI", "minWeightMagnitude": 14, "features": []}},
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_online_mwm_below_the_node_s(tmp_path, sandbox, node_reporting_mwm):
    result = check(live_config(tmp_path, sandbox, provider=node_reporting_mwm, mwm=9), "--online")
    assert_finds(result, "mwm", "14")


def test_online_remote_pow_the_node_does_not_offer(tmp_path, sandbox, node_reporting_mwm):
    path = live_config(tmp_path, sandbox, provider=node_reporting_mwm, mwm=14, pow="remote")
    assert_finds(check(path, "--online"), "pow", "RemotePOW")


@pytest.mark.parametrize(
    "changes",
    [
        {"sensors": "bme280"},
        {"sensors": [5]},
        {"sensors": [{"driver": ["bme280"]}]},
        {"sensors": [{"driver": "bme280", "options": 5}]},
        {"sensors": [{"driver": "bme280", "name": []}]},
        {"sensors": [{"driver": "bme280", "options": {"address": []}}]},
        {"sensors": [{"driver": "simulated", "options": {"readings": [[1]]}}]},
        {"fields": {}},
        {"fields": [5]},
        {"fields": [{"id": []}]},
        {"fields": [{"id": "t", "unit": ["C"]}]},
        {"dataTypes": [{"id": []}]},
        {"dataTypes": {"id": "t"}},
        {"sensorId": {}},
        {"provider": 5},
        {"endpoint": "http://[::1/newData"},
        {"mode": []},
        {"sideKey": {"a": 1}},
        {"tag": 5},
        {"stateDir": []},
        {"interval": "60"},
        {"mwm": 1e400},
    ],
)
def test_nothing_but_config_errors_escape_the_loader(tmp_path, changes):
    path = write(tmp_path, json.dumps(base_config(tmp_path, **changes)))
    with pytest.raises(ConfigError):
        load_config(path)
    result = check(path)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_credentials_in_a_bad_url_are_never_shown(tmp_path):
    path = write(tmp_path, base_config(tmp_path, provider="http://user:HUNTER2@[::1/?key=QKEY"))
    result = check(path)
    assert_finds(result, "'provider'", "***")
    assert "HUNTER2" not in result.output and "QKEY" not in result.output


def test_reading_of_several_sensors_needs_a_sensor(tmp_path):
    config = base_config(tmp_path)
    config["fields"][2] = {"id": "t2", "reading": "temperature"}  # air and station both have it
    assert_finds(check(write(tmp_path, config)), "fields[2].sensor", "air, station")


# -- read ---------------------------------------------------------------------------------


def _file_config(tmp_path, reading):
    (tmp_path / "log.jsonl").write_text('{"ts": "2019-05-01T12:00:00Z", "temp": 21.5}\n')
    sensor = {"name": "log", "driver": "file", "options": {"path": "log.jsonl", "time_key": "ts"}}
    return write(
        tmp_path,
        base_config(tmp_path, sensors=[sensor], fields=[{"id": "t", "reading": reading}]),
    )


def test_read_exits_1_when_no_field_is_filled(tmp_path):
    result = CliRunner().invoke(main, ["read", "--config", _file_config(tmp_path, "tmep")])
    assert result.exit_code == 1, result.output
    assert "no field could be filled" in result.output


def test_read_shows_the_reading_time(tmp_path):
    result = CliRunner().invoke(main, ["read", "--config", _file_config(tmp_path, "temp")])
    assert result.exit_code == 0, result.output
    assert "log.temp = 21.5 (at 2019-05-01T12:00:00+00:00)" in result.output
    assert '{"t": 21.5}' in result.output
