"""The driver registry: built-in names, entry-point plug-ins, option errors."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint

import iota_publisher.drivers as drivers
import pytest
from iota_publisher.drivers import Driver, Reading, available, create_driver, driver_class

from iota_publisher.errors import ConfigError


class PluginDriver(Driver):
    name = "plugin"

    def __init__(self, *, value: float = 1.0) -> None:
        self.value = value

    def read(self):
        return {"x": Reading("x", self.value, "lx")}


def test_every_builtin_name_loads_a_driver_class():
    for name in drivers.BUILTIN:
        cls = driver_class(name)
        assert issubclass(cls, Driver) and cls.name == name


def test_plugins_come_from_the_entry_point_group(monkeypatch):
    ep = EntryPoint("plugin", f"{__name__}:PluginDriver", drivers.ENTRY_POINT_GROUP)
    shadow = EntryPoint("bme280", f"{__name__}:PluginDriver", drivers.ENTRY_POINT_GROUP)
    monkeypatch.setattr(drivers, "entry_points", lambda group: [ep, shadow])
    assert "plugin" in available()
    with create_driver("plugin", {"value": 2.5}) as driver:
        assert driver.read()["x"].value == 2.5
    assert driver_class("bme280").__module__.endswith(".bme280")  # a built-in name wins


def test_unknown_driver_and_bad_options():
    with pytest.raises(ConfigError, match="unknown driver 'nope'") as info:
        create_driver("nope")
    assert info.value.field == "driver"
    with pytest.raises(ConfigError, match="simulated") as info:
        create_driver("simulated", {"colour": "red"})
    assert info.value.field == "options"


def test_non_finite_readings_are_refused():
    from iota_publisher.drivers import SensorDataError

    with pytest.raises(SensorDataError):
        Reading("t", float("nan"), "C")


# -- the generic sources ---------------------------------------------------------------


def test_generic_source_names():
    from iota_publisher.drivers.command import CommandSource
    from iota_publisher.drivers.file import FileSource
    from iota_publisher.drivers.http import HttpSource
    from iota_publisher.drivers.simulated import Simulated

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
        "http": ({"url": "https://api.example/v1/weather"},),
        "command": ({"command": [sys.executable, "-c", "print(1)"]},),
    }[name]


def test_importing_the_sources_does_not_import_requests():
    code = (
        "import sys, iota_publisher.drivers as d; "
        "from iota_publisher.drivers import _json, command, file, http, simulated, fakes; "
        "simulated.Simulated().read(); "
        "assert 'requests' not in sys.modules, 'requests imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=20)


# -- options prepared when a config is loaded --------------------------------------------


def _config(tmp_path, sensors, reading="temperature", **extra):
    from iota_publisher.config import Config

    raw = {
        "sensorId": "dev",
        "secretKey": "key",
        "debug": True,
        "sensors": sensors,
        "fields": [{"id": "t", "reading": reading}],
        **extra,
    }
    return Config.from_mapping(raw, base_dir=tmp_path)


NETATMO = {"client_id": "id", "client_secret": "secret", "refresh_token": "token"}


def test_netatmo_token_file_defaults_to_the_state_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    config = _config(tmp_path, [{"driver": "netatmo", "options": NETATMO}], "indoor.temperature")
    (sensor,) = config.sensors
    assert sensor.options["token_file"] == str(tmp_path / "state" / "netatmo-token.json")
    assert sensor.options["client_id"] == "id"
    given = {**NETATMO, "token_file": "tokens/mine.json"}
    config = _config(
        tmp_path, [{"driver": "netatmo", "options": given}], "indoor.temperature", stateDir="/var/x"
    )
    assert config.sensors[0].options["token_file"] == "/var/x/tokens/mine.json"


def test_netatmo_creates_the_token_folder_on_first_save(tmp_path, monkeypatch):
    import json as json_module

    import responses

    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    config = _config(tmp_path, [{"driver": "netatmo", "options": NETATMO}], "indoor.temperature")
    with responses.RequestsMock() as api:
        api.add(
            responses.POST,
            "https://api.netatmo.com/oauth2/token",
            json={"access_token": "a1", "refresh_token": "r2", "expires_in": 10800},
        )
        api.add(
            responses.GET,
            "https://api.netatmo.com/api/getstationsdata",
            json={
                "status": "ok",
                "body": {
                    "devices": [
                        {
                            "type": "NAMain",
                            "_id": "70:ee:50:00:00:01",
                            "dashboard_data": {"time_utc": 1717000000, "Temperature": 21.5},
                        }
                    ]
                },
            },
        )
        with create_driver("netatmo", config.sensors[0].options) as station:
            assert station.read()["indoor.temperature"].value == 21.5
    saved = tmp_path / "state" / "netatmo-token.json"
    assert json_module.loads(saved.read_text())["refresh_token"] == "r2"


def test_file_options_are_relative_to_the_config_folder(tmp_path):
    config = _config(
        tmp_path,
        [
            {"driver": "file", "options": {"path": "data.json"}},
            {"name": "abs", "driver": "file", "options": {"path": "/srv/data.json", "loop": True}},
            {"driver": "ds18b20", "options": {"base": "w1"}},
            {"driver": "simulated", "options": {"seed": 3}},
        ],
    )
    assert [s.options for s in config.sensors] == [
        {"path": str(tmp_path / "data.json")},
        {"path": "/srv/data.json", "loop": True},
        {"base": str(tmp_path / "w1")},
        {"seed": 3},
    ]


def test_a_driver_prepares_its_own_options(tmp_path, monkeypatch):
    from iota_publisher.drivers import DriverContext

    class Cached(PluginDriver):
        name = "cached"
        state_path_options = frozenset({"cache"})

        @classmethod
        def prepare_options(cls, options, context):
            assert isinstance(context, DriverContext)
            out = super().prepare_options(options, context)
            out.setdefault("cache", str(context.state_dir / "cache.db"))
            return out

    monkeypatch.setitem(globals(), "Cached", Cached)
    ep = EntryPoint("cached", f"{__name__}:Cached", drivers.ENTRY_POINT_GROUP)
    monkeypatch.setattr(drivers, "entry_points", lambda group: [ep])
    config = _config(tmp_path, [{"driver": "cached", "options": {"path": "in.txt"}}], stateDir="s")
    assert config.sensors[0].options == {
        "path": str(tmp_path / "in.txt"),
        "cache": str(tmp_path / "s" / "cache.db"),
    }
    given = {"cache": "c.db", "token_file": "t.json"}
    config = _config(tmp_path, [{"driver": "cached", "options": given}], stateDir="s")
    assert config.sensors[0].options == {
        "cache": str(tmp_path / "s" / "c.db"),
        "token_file": "t.json",  # this driver's state files are only "cache"
    }


# -- where the contract's names live ------------------------------------------------------


def test_driver_errors_live_in_errors_and_are_re_exported():
    from iota_publisher.drivers import _base, _serial, netatmo

    import iota_publisher.errors as errors

    for name in (
        "DriverError",
        "SensorDataError",
        "SensorUnavailableError",
        "SensorWarmingUpError",
        "SourceExhausted",
        "NetatmoAuthError",
    ):
        cls = getattr(errors, name)
        assert name in errors.__all__ and cls.__module__ == "iota_publisher.errors"
        assert getattr(_base, name) is cls
        assert issubclass(cls, errors.PublisherError)
    for name in ("DriverError", "SensorDataError", "SensorUnavailableError", "SourceExhausted"):
        assert getattr(drivers, name) is getattr(errors, name)
    assert _serial.SensorWarmingUpError is errors.SensorWarmingUpError
    assert netatmo.NetatmoAuthError is errors.NetatmoAuthError
    assert issubclass(errors.NetatmoAuthError, errors.ConfigError)
    assert errors.NetatmoAuthError("no").driver == "netatmo"
    assert issubclass(errors.SensorWarmingUpError, errors.TransientError)


def test_fakes_are_exported_and_not_defined_in_production_modules():
    import importlib

    from iota_publisher.drivers import fakes

    for name in fakes.__all__:
        assert hasattr(fakes, name), name
    for module in drivers.BUILTIN.values():
        mod = importlib.import_module(f"{drivers.__name__}.{module.split(':')[0]}")
        assert not [n for n in vars(mod) if n.startswith(("Fake", "Scripted"))], mod.__name__
    for name in ("_i2c", "_serial", "_ble", "_json", "_base"):
        mod = importlib.import_module(f"{drivers.__name__}.{name}")
        assert not [n for n in vars(mod) if n.startswith(("Fake", "Scripted"))], name


def test_json_helpers_raise_package_errors():
    from iota_publisher.drivers import SensorDataError
    from iota_publisher.drivers._json import flatten, parse_path, parse_time

    from iota_publisher.errors import InvalidInputError

    with pytest.raises(InvalidInputError) as info:
        parse_path("a..b")
    assert info.value.field == "path"
    with pytest.raises(SensorDataError, match="'a.b'"):
        flatten({"a.b": 1, "a": {"b": 2}})
    with pytest.raises(SensorDataError, match="not a number or an ISO 8601 time"):
        parse_time("yesterday")
