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
  bad options raise :class:`~iota_publisher.errors.ConfigError` naming them.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import ConfigError, PublisherError, TransientError

__all__ = [
    "Driver",
    "DriverError",
    "Reading",
    "Readings",
    "SensorDataError",
    "SensorUnavailableError",
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


class DriverError(PublisherError):
    """A driver failed. ``driver`` names it (e.g. ``"bme280"``)."""

    def __init__(self, message: str, *, driver: str | None = None) -> None:
        super().__init__(message)
        self.driver = driver


class SensorUnavailableError(DriverError, TransientError):
    """The sensor or service did not answer (unplugged, asleep, out of range, offline)."""


class SensorDataError(DriverError, ValueError):
    """The sensor answered with data that fails its checks (checksum, range, frame)."""


class Driver(abc.ABC):
    """Base class of drivers. Subclasses set ``name`` and implement :meth:`read`."""

    name: ClassVar[str] = ""

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
