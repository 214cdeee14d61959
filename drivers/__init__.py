"""Sensor drivers, installed as ``iota_publisher.drivers``.

Each driver reads named readings from one source (an I2C, 1-Wire or serial
sensor, a BLE device, a web API, a file, a program). Look drivers up by name::

    from iota_publisher.drivers import create_driver, available
    available()                      # ['bh1750', 'bme280', ...]
    sensor = create_driver("simulated", {"seed": 1})

Third-party packages add drivers through the entry-point group
``iota_publisher.drivers`` (name = "module:Class"); a built-in name wins.
Hardware libraries are imported only by the driver that needs them.

Every driver declares its options (:class:`Option`) and readings
(:class:`ReadingSpec`); ``iota-publish check`` validates configs against them.
A plug-in should declare them too (``OPTIONS``, ``READINGS``); one that does
not is not checked.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from ._base import (
    Driver,
    DriverContext,
    DriverError,
    Option,
    Reading,
    Readings,
    ReadingSet,
    ReadingSpec,
    SensorDataError,
    SensorUnavailableError,
    SensorWarmingUpError,
    SourceExhausted,
    did_you_mean,
)

__all__ = [
    "Driver",
    "DriverContext",
    "DriverError",
    "Option",
    "Reading",
    "ReadingSet",
    "ReadingSpec",
    "Readings",
    "SensorDataError",
    "SensorUnavailableError",
    "SensorWarmingUpError",
    "SourceExhausted",
    "available",
    "create_driver",
    "did_you_mean",
    "driver_class",
]

ENTRY_POINT_GROUP = "iota_publisher.drivers"

# name -> "module:Class", relative to this package; imported on first use
BUILTIN: dict[str, str] = {
    "bme280": "bme280:BME280",
    "bh1750": "bh1750:BH1750",
    "ds18b20": "ds18b20:DS18B20",
    "pms5003": "pms5003:PMS5003",
    "sds011": "sds011:SDS011",
    "mhz19": "mhz19:MHZ19",
    "thingy52": "thingy52:Thingy52",
    "netatmo": "netatmo:Netatmo",
    "simulated": "simulated:Simulated",
    "file": "file:FileSource",
    "http": "http:HttpSource",
    "command": "command:CommandSource",
}


def entry_points(group: str) -> Any:
    """The installed entry points of ``group``; importlib.metadata is slow to import
    (on a Pi), so it is imported when plug-ins are first looked up."""
    from importlib import metadata

    return metadata.entry_points(group=group)


def _plugins() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in BUILTIN}


def available() -> list[str]:
    """Names of every driver: built-in and installed plug-ins."""
    return sorted(set(BUILTIN) | set(_plugins()))


def driver_class(name: str) -> type[Driver]:
    """The driver class registered under ``name``."""
    if name in BUILTIN:
        module_name, class_name = BUILTIN[name].split(":")
        module = importlib.import_module(f"{__name__}.{module_name}")
        cls = getattr(module, class_name)
    else:
        plugin = _plugins().get(name)
        if plugin is None:
            raise ConfigError(
                f"unknown driver {name!r}; available: {', '.join(available())}", field="driver"
            )
        cls = plugin.load()
    if not (isinstance(cls, type) and issubclass(cls, Driver)):
        raise ConfigError(f"driver {name!r} does not provide a Driver class", field="driver")
    return cls


def create_driver(name: str, options: Mapping[str, Any] | None = None, **seams: Any) -> Driver:
    """Build driver ``name`` from config ``options`` (plus test seams such as ``bus=``)."""
    cls = driver_class(name)
    options = dict(options or {})
    try:
        return cls(**options, **seams)
    except TypeError as exc:
        raise ConfigError(f"driver {name!r}: {exc}", field="options") from exc
