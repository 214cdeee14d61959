"""The driver contract: what every sensor driver provides.

A driver reads one source and returns named readings::

    with create_driver("bme280", {"address": 0x76}) as sensor:
        readings = sensor.read()   # {"temperature": Reading(...), "pressure": ..., ...}

Rules every driver follows:

* hardware and network libraries (smbus2, pyserial, bleak, requests) are
  imported inside the driver that uses them, never at package import;
* the hardware or network seam is a keyword argument (``bus=``, ``port=``,
  ``client=``, ``session=``, ``path=``, ``clock=``) so tests and examples can
  hand in a fake; fakes ship in :mod:`iota_publisher.drivers.fakes`;
* decoding (calibration, compensation, frame parsing) is pure and separate
  from the bus layer, and tested against datasheet numbers;
* a reading that cannot be trusted raises :class:`SensorDataError`; a device
  that does not answer raises :class:`SensorUnavailableError` (transient);
  bad options raise :class:`~iota_publisher.errors.ConfigError` naming them;
  a finite source with nothing more to give raises :class:`SourceExhausted`;
* options naming files are resolved by :meth:`Driver.prepare_options` when a
  config is loaded: relative paths in :attr:`Driver.path_options` are taken
  from the config file's folder, those in :attr:`Driver.state_path_options`
  (files the driver writes) from the state directory; a driver that needs
  more (a default file in the state directory) overrides the hook.

The exceptions are defined in :mod:`iota_publisher.errors` and re-exported here.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..errors import (
    ConfigError,
    DriverError,
    NetatmoAuthError,
    SensorDataError,
    SensorUnavailableError,
    SensorWarmingUpError,
    SourceExhausted,
)

__all__ = [
    "Driver",
    "DriverContext",
    "DriverError",
    "NetatmoAuthError",
    "Reading",
    "Readings",
    "SensorDataError",
    "SensorUnavailableError",
    "SensorWarmingUpError",
    "SourceExhausted",
]


@dataclass(frozen=True)
class Reading:
    """One measured value. ``time`` is the measurement's own time in seconds
    since the epoch when the source reports one (else ``None``: now)."""

    name: str
    value: float | int | str | bool
    unit: str | None = None
    time: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.value, float) and not math.isfinite(self.value):
            raise SensorDataError(f"reading {self.name!r} is not a finite number", driver=None)


Readings = dict[str, Reading]


@dataclass(frozen=True)
class DriverContext:
    """Where a loaded config keeps things, for :meth:`Driver.prepare_options`.

    ``config_dir`` is the folder of the config file (relative paths in a
    config are relative to it), ``state_dir`` the publisher's state directory
    (files a driver writes, such as tokens, belong there).
    """

    config_dir: Path
    state_dir: Path


class Driver(abc.ABC):
    """Base class of drivers. Subclasses set ``name`` and implement :meth:`read`."""

    name: ClassVar[str] = ""
    #: options that name files to read: a relative path is taken from the config's folder
    path_options: ClassVar[frozenset[str]] = frozenset({"path", "base"})
    #: options that name files the driver writes: a relative path goes in the state directory
    state_path_options: ClassVar[frozenset[str]] = frozenset({"token_file"})

    @classmethod
    def prepare_options(cls, options: Mapping[str, Any], context: DriverContext) -> dict[str, Any]:
        """The options of a sensor entry in a config, made ready for the constructor.

        Called once when the config is loaded. Resolves relative paths in
        :attr:`path_options` against ``context.config_dir`` and in
        :attr:`state_path_options` against ``context.state_dir``; other values
        pass unchanged (the constructor checks them). Drivers override this to
        add defaults that depend on where the config lives.
        """
        out = dict(options)
        for key, value in out.items():
            if isinstance(value, str) and not Path(value).is_absolute():
                if key in cls.path_options:
                    out[key] = str(context.config_dir / value)
                elif key in cls.state_path_options:
                    out[key] = str(context.state_dir / value)
        return out

    @abc.abstractmethod
    def read(self) -> Readings:
        """Take one set of readings."""

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release the bus, port or connection (idempotent)."""

    def __enter__(self) -> Driver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} driver {self.name!r}>"

    # helpers for subclasses

    def _reading(
        self, name: str, value: float, unit: str | None, time: float | None = None
    ) -> Reading:
        try:
            return Reading(name, value, unit, time)
        except SensorDataError:
            raise SensorDataError(
                f"{self.name}: reading {name!r} is not a finite number", driver=self.name
            ) from None


def check_option(
    driver: str,
    options: Mapping[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    default: Any = None,
    *,
    required: bool = False,
) -> Any:
    """One option from a driver's config, type-checked, with a ConfigError naming it."""
    value = options.get(key, default)
    if value is None:
        if required:
            raise ConfigError(f"driver {driver!r} needs the option {key!r}", field=key)
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        names = " or ".join(k.__name__ for k in _as_tuple(kind))
        raise ConfigError(
            f"driver {driver!r}: option {key!r} must be {names}, not {value!r}", field=key
        )
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def check_positive(driver: str, key: str, value: Any, default: float | None = None) -> float:
    """A positive, finite number option (seconds, intervals), as a float."""
    given = {} if value is None else {key: value}
    number = check_option(driver, given, key, (int, float), default, required=True)
    if not (math.isfinite(number) and number > 0):
        raise ConfigError(
            f"driver {driver!r}: option {key!r} must be a positive number, not {number!r}",
            field=key,
        )
    return float(number)


def check_value(
    driver: str,
    key: str,
    value: Any,
    kind: type | tuple[type, ...],
    default: Any = None,
    *,
    required: bool = False,
) -> Any:
    """One option given as a keyword argument: ``None`` (``null`` in JSON) means
    ``default``; else as :func:`check_option`."""
    given = {} if value is None else {key: value}
    return check_option(driver, given, key, kind, default, required=required)


_TEXT_LIMIT = 200  # characters of foreign text (stderr, bodies) kept in messages


def clip_text(text: str) -> str:
    """Foreign text (a program's stderr, an error body) for a message: one line, clipped."""
    text = " ".join(text.split())
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 3] + "..."
