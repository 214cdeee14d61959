"""The driver registry: built-in names, entry-point plug-ins, option errors."""

from __future__ import annotations

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
