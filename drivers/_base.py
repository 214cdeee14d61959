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
  absent hardware (no I2C bus, no serial port, no Bluetooth adapter) is a
  :class:`SensorUnavailableError` too, naming the device and the fix: the
  daemon retries it, and only a true option error is fatal;
  a finite source with nothing more to give raises :class:`SourceExhausted`;
* a driver declares its options (:attr:`Driver.OPTIONS`, a tuple of
  :class:`Option`: name, type, default, range or choices, help) and the
  readings it yields (:attr:`Driver.READINGS`, :class:`ReadingSpec`: name and
  unit; a name may hold ``*`` for a part the source decides, as Netatmo's
  module names). A driver whose reading names come from its source says so
  with ``OPEN_READINGS = True`` and may override :meth:`Driver.declared_readings`
  to tell what its options make knowable. ``check`` and config loading
  validate a sensor's options and the fields' readings and units against
  these; keyword arguments not in ``OPTIONS`` are test seams;
* a reading that carries its own measurement time (a file's ``time_key``, a
  station's upload time) sets :attr:`Reading.time` (seconds since the epoch);
  the agent stamps the packet with it instead of the time it read;
* options naming files are resolved by :meth:`Driver.prepare_options` when a
  config is loaded: relative paths in :attr:`Driver.path_options` are taken
  from the config file's folder, those in :attr:`Driver.state_path_options`
  (files the driver writes) from the state directory; a driver that needs
  more (a default file in the state directory) overrides the hook.

The exceptions are defined in :mod:`iota_publisher.errors` and re-exported here.
"""

from __future__ import annotations

import abc
import fnmatch
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .._text import clip, did_you_mean
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
    "Option",
    "Reading",
    "ReadingSet",
    "ReadingSpec",
    "Readings",
    "SensorDataError",
    "SensorUnavailableError",
    "SensorWarmingUpError",
    "SourceExhausted",
    "did_you_mean",
]


@dataclass(frozen=True)
class Reading:
    """One measured value.

    ``time`` is the measurement's own time in seconds since the epoch when the
    source reports one (a file record's ``time_key``, Netatmo's ``time_utc``),
    else ``None``: the value was measured when it was read. The agent stamps
    the packet built from a window's readings with their time (the newest
    when several readings carry one), so history can be back-filled with its
    own timestamps.
    """

    name: str
    value: float | int | str | bool
    unit: str | None = None
    time: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.value, float) and not math.isfinite(self.value):
            raise SensorDataError(f"reading {self.name!r} is not a finite number", driver=None)


Readings = dict[str, Reading]


@dataclass(frozen=True)
class Option:
    """One option a driver takes from its config entry's ``options``.

    ``kind`` is the JSON type(s) accepted (``int`` accepts no ``bool``;
    ``float`` accepts ``int`` too); ``default`` is what the driver uses when
    the option is left out (``None``: nothing); ``low``/``high`` bound a
    number, ``choices`` lists the values allowed; ``secret`` options are
    never shown in a message; ``help`` is one line for ``check`` and the docs.
    """

    name: str
    kind: type | tuple[type, ...]
    default: Any = None
    help: str = ""
    required: bool = False
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None
    secret: bool = False
    #: a number that must be above ``low`` (or above 0), not equal to it
    positive: bool = False

    @property
    def kinds(self) -> tuple[type, ...]:
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        return kinds + ((int,) if float in kinds and int not in kinds else ())

    def _shown(self, value: Any) -> str:
        return "" if self.secret else f", not {value!r}"

    def check(self, driver: str, value: Any, *, where: str | None = None) -> Any:
        """``value`` (``None``: the default) checked against this declaration.

        Raises :class:`ConfigError` naming the option (``where``, else its
        name) and never showing a secret value.
        """
        key = where or self.name
        if value is None:
            value = self.default
        if value is None:
            if self.required:
                raise ConfigError(f"driver {driver!r} needs the option {self.name!r}", field=key)
            return None
        kinds = self.kinds
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in _as_tuple(self.kind))
            raise ConfigError(
                f"driver {driver!r}: option {self.name!r} must be {names}{self._shown(value)}",
                field=key,
            )
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(repr(c) for c in self.choices)
            raise ConfigError(
                f"driver {driver!r}: option {self.name!r} must be one of {allowed}"
                f"{self._shown(value)}{'' if self.secret else did_you_mean(value, self.choices)}",
                field=key,
            )
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            low, high = self.low, self.high
            if self.positive and low is None:
                low = 0
            if (
                not math.isfinite(value)
                or (low is not None and (value <= low if self.positive else value < low))
                or (high is not None and value > high)
            ):
                if self.positive and high is None:
                    span = f"> {low:g}"
                elif low is not None and high is not None:
                    span = f"from {low:g} to {high:g}"
                elif low is not None:
                    span = f">= {low:g}"
                elif high is not None:
                    span = f"<= {high:g}"
                else:
                    span = "finite"
                raise ConfigError(
                    f"driver {driver!r}: option {self.name!r} must be {span}{self._shown(value)}",
                    field=key,
                )
        return value


_TYPE_NAMES = {
    str: "a string",
    os.PathLike: "a path",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    tuple: "a list",
    dict: "an object",
    Mapping: "an object",
}


@dataclass(frozen=True)
class ReadingSpec:
    """A reading a driver yields: its name (``*`` matches any part, as in
    ``*.temperature``) and its unit (``None``: a count or text, no unit)."""

    name: str
    unit: str | None = None
    help: str = ""

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatchcase(name, self.name) if "*" in self.name else name == self.name


@dataclass(frozen=True)
class ReadingSet:
    """What a configured sensor yields: the readings known in advance, and
    whether the source may yield others (``open``: a file, a web API)."""

    specs: tuple[ReadingSpec, ...] = ()
    open: bool = False

    def find(self, name: str) -> ReadingSpec | None:
        """The declaration of reading ``name``, or ``None`` when it is not known."""
        return next((s for s in self.specs if s.matches(name)), None)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]


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

    #: the options a config entry may give (``None``: undeclared, not checked)
    OPTIONS: ClassVar[tuple[Option, ...] | None] = None
    #: the readings every instance yields (see :meth:`declared_readings`)
    READINGS: ClassVar[tuple[ReadingSpec, ...]] = ()
    #: true when the source decides its reading names (a file, a web API, a program)
    OPEN_READINGS: ClassVar[bool] = False
    #: whether a caller may close and reopen the driver after repeated failed reads (a
    #: bus or port opened afresh often recovers); false for a driver that reconnects by
    #: itself and would lose what it holds
    reopen_on_failure: ClassVar[bool] = True

    @classmethod
    def option(cls, name: str) -> Option:
        """The declaration of option ``name``."""
        for spec in cls.OPTIONS or ():
            if spec.name == name:
                return spec
        raise KeyError(name)

    @classmethod
    def option_problems(
        cls, options: Mapping[str, Any], where: str = "options"
    ) -> Iterator[ConfigError]:
        """Every problem with a config entry's ``options`` against :attr:`OPTIONS`:
        unknown names (with a "did you mean"), missing required ones, wrong
        types, values out of range. Errors name the key as ``<where>.<option>``.
        Nothing is reported for a driver that declares no options."""
        if cls.OPTIONS is None:
            return
        declared = {spec.name: spec for spec in cls.OPTIONS}
        for key in options:
            if key not in declared:
                yield ConfigError(
                    f"{where}.{key}: driver {cls.name!r} has no option {key!r}"
                    f"{did_you_mean(key, declared)} (options: {', '.join(declared)})",
                    field=f"{where}.{key}",
                )
        for key, spec in declared.items():
            try:
                spec.check(cls.name, options.get(key), where=f"{where}.{key}")
            except ConfigError as exc:
                yield ConfigError(f"{where}.{key}: {exc}", field=exc.field)

    @classmethod
    def declared_readings(cls, options: Mapping[str, Any]) -> ReadingSet | None:
        """What a sensor with these ``options`` yields, for checking the fields
        that name its readings; ``None`` when the driver declares nothing (a
        plug-in without declarations). Drivers whose readings depend on an
        option (which ones are chosen, names given in ``fields``) override it."""
        if cls.OPTIONS is None and not cls.READINGS and not cls.OPEN_READINGS:
            return None
        return ReadingSet(tuple(cls.READINGS), cls.OPEN_READINGS)

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
    return clip(text, _TEXT_LIMIT)
