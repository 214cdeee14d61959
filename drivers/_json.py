"""What the JSON-reading sources (``file``, ``http``, ``command``) share.

Sources that read JSON turn it into readings the same way:

* numbers and strings become readings; nested objects and arrays are
  flattened with dotted names (``{"a": {"b": 1}, "c": [5]}`` gives ``a.b``
  and ``c.0``), see :func:`flatten`;
* ``null`` is skipped (the source has no value now); booleans are skipped
  too, with a debug log: turning ``true`` into ``1`` would surprise, and the
  marketplace's fields are numbers and strings; non-finite numbers (``NaN``,
  ``Infinity``, which Python's JSON reader accepts) are skipped likewise;
* a path such as ``main.temp``, ``list.0.value`` or ``data[2].x`` picks one
  value (:func:`parse_path`, :func:`get_path`); a number segment or a
  bracket indexes an array, other segments are object keys. Keys that
  contain ``.``, ``[`` or ``]`` cannot be named by a path;
* ``time_key`` (a path) names a field holding the measurement's time, in
  seconds or milliseconds since the epoch or as ISO 8601 text (a time
  without an offset is UTC, see :func:`parse_time`); it becomes
  :attr:`Reading.time` and is not published as a reading;
* ``units`` maps reading names to units (``{"temp": "C"}``), which the
  field mapping converts from.

Errors follow the driver contract: data that cannot be used raises
:class:`SensorDataError` (the next read goes on), a source that does not
answer raises :class:`SensorUnavailableError` (transient), bad options raise
:class:`~iota_publisher.errors.ConfigError` naming the option, at
construction. The helpers here are pure: :func:`parse_path` raises
:class:`~iota_publisher.errors.InvalidInputError` for a malformed path,
:func:`flatten` and :func:`parse_time` raise :class:`SensorDataError` (with
no driver named) for data they cannot use, :func:`get_path` raises
:class:`LookupError`.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from ..errors import ConfigError, InvalidInputError
from ._base import (
    Driver,
    DriverError,
    Option,
    Readings,
    ReadingSet,
    ReadingSpec,
    SensorDataError,
    check_value,
)

__all__ = [
    "JsonSource",
    "PathPart",
    "Value",
    "flatten",
    "get_path",
    "parse_path",
    "parse_time",
]

log = logging.getLogger(__name__)

Value = int | float | str
PathPart = str | int

# -- JSON values to readings (pure) ------------------------------------------


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_finite(value: object) -> bool:
    return not (isinstance(value, float) and not math.isfinite(value))


def flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Value]:
    """The numbers and strings in a JSON object, by dotted name.

    ``{"a": {"b": 1.5}, "c": [5, "x"], "d": null, "e": true}`` gives
    ``{"a.b": 1.5, "c.0": 5, "c.1": "x"}``: nulls, booleans and non-finite
    numbers are left out. Raises :class:`SensorDataError` (a ``ValueError``)
    when two values flatten to the same name (``{"a.b": 1, "a": {"b": 2}}``).
    """
    out: dict[str, Value] = {}

    def walk(value: Any, name: str) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, f"{name}.{key}" if name else str(key))
            return
        if isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                walk(item, f"{name}.{index}" if name else str(index))
            return
        if value is None:
            log.debug("skipping %r: null", name)
            return
        if isinstance(value, bool):
            log.debug("skipping %r: a boolean, not a number or string", name)
            return
        if not is_finite(value):
            log.debug("skipping %r: not a finite number", name)
            return
        if not isinstance(value, (int, float, str)):
            raise TypeError(f"{name!r} is a {type(value).__name__}, not a JSON value")
        if name in out:
            raise SensorDataError(f"two values are both named {name!r}", driver=None)
        out[name] = value

    walk(obj, prefix)
    return out


_KEY_TOKEN = re.compile(r"(\.?)([^.\[\]]+)")
_INDEX_TOKEN = re.compile(r"\[([0-9]+)\]")


def parse_path(path: str) -> tuple[PathPart, ...]:
    """Split a path: ``"data[2].x"`` -> ``("data", 2, "x")``; ``"list.0"`` -> ``("list", "0")``.

    A bracketed number is an array index; a plain segment is an object key,
    or an index when the value it is applied to is an array. Raises
    :class:`~iota_publisher.errors.InvalidInputError` (a ``ValueError``) for an
    empty or malformed path.
    """
    if not isinstance(path, str) or not path:
        raise InvalidInputError("a path must be a non-empty string", field="path")
    parts: list[PathPart] = []
    pos = 0
    while pos < len(path):
        index = _INDEX_TOKEN.match(path, pos)
        if index is not None:
            parts.append(int(index.group(1)))
            pos = index.end()
            continue
        key = _KEY_TOKEN.match(path, pos)
        # a key is dotted everywhere but at the start
        if key is None or bool(key.group(1)) != (pos > 0):
            raise InvalidInputError(f"malformed path {path!r} at character {pos + 1}", field="path")
        parts.append(key.group(2))
        pos = key.end()
    return tuple(parts)


def path_name(parts: Sequence[PathPart]) -> str:
    """The dotted name :func:`flatten` gives the value at ``parts``."""
    return ".".join(str(p) for p in parts)


def get_path(data: Any, path: str | Sequence[PathPart]) -> Any:
    """The value at ``path`` (a string or :func:`parse_path`'s parts) in decoded JSON.

    Raises :class:`LookupError` saying where the path left the data.
    """
    parts = parse_path(path) if isinstance(path, str) else tuple(path)
    value = data
    for depth, part in enumerate(parts):
        where = path_name(parts[:depth]) or "the top level"
        if isinstance(value, Mapping) and isinstance(part, str):
            if part not in value:
                raise LookupError(f"no key {part!r} in {where}")
            value = value[part]
        elif isinstance(value, list) and (isinstance(part, int) or part.isdigit()):
            index = int(part)
            if index >= len(value):
                raise LookupError(f"no index {index} in {where} (length {len(value)})")
            value = value[index]
        else:
            kind = json_kind(value)
            wanted = "an array" if isinstance(part, int) else "an object"
            raise LookupError(f"{where} is {kind}, not {wanted}")
    return value


def json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    return "a number"


_MS_THRESHOLD = 1e11  # as seconds: the year 5138; as milliseconds: 1973


def parse_time(value: Any) -> float:
    """Seconds since the epoch from a timestamp field.

    Numbers (or strings of digits) are seconds, or milliseconds when larger
    than 1e11 (dates after 1973 in ms, before 5138 in s). Other strings are
    ISO 8601 (``2019-05-01T12:00:00Z``, ``2019-05-01 12:00:00+02:00``); a
    time without an offset is taken as UTC. Raises :class:`SensorDataError`
    (a ``ValueError``).
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            if text[-1:] in ("Z", "z"):  # fromisoformat accepts Z only from Python 3.11
                text = text[:-1] + "+00:00"
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                raise SensorDataError(
                    f"{value!r} is not a number or an ISO 8601 time", driver=None
                ) from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            return moment.timestamp()
    if not is_number(value):
        raise SensorDataError(
            f"a time must be a number or a string, not {json_kind(value)}", driver=None
        )
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise SensorDataError(f"{value!r} is not a time", driver=None)
    return seconds / 1000 if seconds > _MS_THRESHOLD else seconds


# -- option checks -------------------------------------------------------------


def str_mapping(driver: str, key: str, value: Any) -> dict[str, str]:
    mapping = check_value(driver, key, value, Mapping, {})
    for k, v in mapping.items():
        if not isinstance(k, str) or not k or not isinstance(v, str):
            raise ConfigError(
                f"driver {driver!r}: option {key!r} must map names to strings (bad entry {k!r})",
                field=key,
            )
    return dict(mapping)


def path_option(driver: str, key: str, value: Any) -> tuple[PathPart, ...] | None:
    text = check_value(driver, key, value, str)
    if text is None:
        return None
    try:
        return parse_path(text)
    except ValueError as exc:
        raise ConfigError(f"driver {driver!r}: option {key!r}: {exc}", field=key) from None


#: the options every JSON-reading source takes
JSON_OPTIONS = (
    Option("time_key", str, None, "path to the record's time (its reading time)"),
    Option("units", Mapping, None, "reading name -> unit, for unit conversion"),
)


class JsonSource(Driver):
    """What the JSON-reading sources share: flattening, ``time_key``, ``units``.

    Their reading names are the source's (``OPEN_READINGS``); the ones named
    in ``units`` are known in advance, with their unit.
    """

    OPEN_READINGS = True

    @classmethod
    def declared_readings(cls, options: Mapping[str, Any]) -> ReadingSet:
        units = options.get("units")
        specs = ()
        if isinstance(units, Mapping):
            specs = tuple(
                ReadingSpec(str(k), v if isinstance(v, str) else None) for k, v in units.items()
            )
        return ReadingSet(specs, open=True)

    def __init__(self, time_key: Any, units: Any) -> None:
        self._time_parts = path_option(self.name, "time_key", time_key)
        self._time_key: str | None = time_key
        self._units = str_mapping(self.name, "units", units)
        self._closed = False

    def close(self) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise DriverError(f"{self.name}: read() after close()", driver=self.name)

    def _bad(self, where: str, reason: str) -> SensorDataError:
        return SensorDataError(f"{self.name}: {where}: {reason}", driver=self.name)

    def _time_of(self, data: Any, where: str) -> float | None:
        if self._time_parts is None:
            return None
        try:
            return parse_time(get_path(data, self._time_parts))
        except (LookupError, ValueError) as exc:
            raise self._bad(where, f"time_key {self._time_key!r}: {exc}") from None

    def _readings(self, values: Mapping[str, Value], when: float | None) -> Readings:
        return {
            name: self._reading(name, value, self._units.get(name), when)  # type: ignore[arg-type]
            for name, value in values.items()
        }

    def _object_readings(self, data: Any, where: str) -> Readings:
        """Readings from one JSON object: all its numbers and strings but the time."""
        if not isinstance(data, Mapping):
            raise self._bad(where, f"expected a JSON object, not {json_kind(data)}")
        when = self._time_of(data, where)
        try:
            values = flatten(data)
        except ValueError as exc:
            raise self._bad(where, str(exc)) from None
        if self._time_parts is not None:
            values.pop(path_name(self._time_parts), None)
        if not values:
            raise self._bad(where, "no numbers or strings to publish")
        return self._readings(values, when)
