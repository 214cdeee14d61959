"""Generic data sources: a simulated weather station, a file, a web API, a program.

These four need no hardware. ``simulated`` lets a fresh install run end to
end on a laptop; ``file`` and ``http`` replace the 2019 marketplace
template's two examples (publishing each object of a static ``data.json``,
and polling ``serverUrl`` for a few fields); ``command`` runs any program
that prints one JSON object, for sensors that have a tool but no driver.

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
construction. A file with no more records raises :class:`SourceExhausted`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import time as _time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

from ..errors import ConfigError
from ._base import (
    Driver,
    DriverError,
    Readings,
    SensorDataError,
    SensorUnavailableError,
    check_option,
    check_positive,
)

__all__ = [
    "SIMULATED_READINGS",
    "CommandSource",
    "FileSource",
    "HttpSource",
    "Simulated",
    "SourceExhausted",
    "flatten",
    "get_path",
    "parse_path",
    "parse_time",
]

log = logging.getLogger(__name__)

Value = int | float | str
PathPart = str | int

_TEXT_LIMIT = 200  # characters of foreign text (stderr, bodies) kept in messages


class SourceExhausted(DriverError):
    """A finite source has no more records (a ``file`` without ``loop``).

    Like :class:`StopIteration` for a driver: it is not transient, and every
    later read raises it again. The caller should stop reading this source.
    """


# -- JSON values to readings (pure) ------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value: object) -> bool:
    return not (isinstance(value, float) and not math.isfinite(value))


def flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Value]:
    """The numbers and strings in a JSON object, by dotted name.

    ``{"a": {"b": 1.5}, "c": [5, "x"], "d": null, "e": true}`` gives
    ``{"a.b": 1.5, "c.0": 5, "c.1": "x"}``: nulls, booleans and non-finite
    numbers are left out. Raises :class:`ValueError` when two values flatten
    to the same name (``{"a.b": 1, "a": {"b": 2}}``).
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
        if not _finite(value):
            log.debug("skipping %r: not a finite number", name)
            return
        if not isinstance(value, (int, float, str)):
            raise TypeError(f"{name!r} is a {type(value).__name__}, not a JSON value")
        if name in out:
            raise ValueError(f"two values are both named {name!r}")
        out[name] = value

    walk(obj, prefix)
    return out


_KEY_TOKEN = re.compile(r"(\.?)([^.\[\]]+)")
_INDEX_TOKEN = re.compile(r"\[([0-9]+)\]")


def parse_path(path: str) -> tuple[PathPart, ...]:
    """Split a path: ``"data[2].x"`` -> ``("data", 2, "x")``; ``"list.0"`` -> ``("list", "0")``.

    A bracketed number is an array index; a plain segment is an object key,
    or an index when the value it is applied to is an array. Raises
    :class:`ValueError` for an empty or malformed path.
    """
    if not isinstance(path, str) or not path:
        raise ValueError("a path must be a non-empty string")
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
            raise ValueError(f"malformed path {path!r} at character {pos + 1}")
        parts.append(key.group(2))
        pos = key.end()
    return tuple(parts)


def _path_name(parts: Sequence[PathPart]) -> str:
    """The dotted name :func:`flatten` gives the value at ``parts``."""
    return ".".join(str(p) for p in parts)


def get_path(data: Any, path: str | Sequence[PathPart]) -> Any:
    """The value at ``path`` (a string or :func:`parse_path`'s parts) in decoded JSON.

    Raises :class:`LookupError` saying where the path left the data.
    """
    parts = parse_path(path) if isinstance(path, str) else tuple(path)
    value = data
    for depth, part in enumerate(parts):
        where = _path_name(parts[:depth]) or "the top level"
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
            kind = _json_kind(value)
            wanted = "an array" if isinstance(part, int) else "an object"
            raise LookupError(f"{where} is {kind}, not {wanted}")
    return value


def _json_kind(value: Any) -> str:
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
    time without an offset is taken as UTC. Raises :class:`ValueError`.
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
                raise ValueError(f"{value!r} is not a number or an ISO 8601 time") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            return moment.timestamp()
    if not _is_number(value):
        raise ValueError(f"a time must be a number or a string, not {_json_kind(value)}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{value!r} is not a time")
    return seconds / 1000 if seconds > _MS_THRESHOLD else seconds


# -- option checks -------------------------------------------------------------


def _opt(
    driver: str,
    key: str,
    value: Any,
    kind: type | tuple[type, ...],
    default: Any = None,
    *,
    required: bool = False,
) -> Any:
    given = {} if value is None else {key: value}  # None (or null in JSON): the default
    return check_option(driver, given, key, kind, default, required=required)


def _str_mapping(driver: str, key: str, value: Any) -> dict[str, str]:
    mapping = _opt(driver, key, value, Mapping, {})
    for k, v in mapping.items():
        if not isinstance(k, str) or not k or not isinstance(v, str):
            raise ConfigError(
                f"driver {driver!r}: option {key!r} must map names to strings (bad entry {k!r})",
                field=key,
            )
    return dict(mapping)


def _path_option(driver: str, key: str, value: Any) -> tuple[PathPart, ...] | None:
    text = _opt(driver, key, value, str)
    if text is None:
        return None
    try:
        return parse_path(text)
    except ValueError as exc:
        raise ConfigError(f"driver {driver!r}: option {key!r}: {exc}", field=key) from None


class _JsonSource(Driver):
    """What the JSON-reading sources share: flattening, ``time_key``, ``units``."""

    def __init__(self, time_key: Any, units: Any) -> None:
        self._time_parts = _path_option(self.name, "time_key", time_key)
        self._time_key: str | None = time_key
        self._units = _str_mapping(self.name, "units", units)
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
            raise self._bad(where, f"expected a JSON object, not {_json_kind(data)}")
        when = self._time_of(data, where)
        try:
            values = flatten(data)
        except ValueError as exc:
            raise self._bad(where, str(exc)) from None
        if self._time_parts is not None:
            values.pop(_path_name(self._time_parts), None)
        if not values:
            raise self._bad(where, "no numbers or strings to publish")
        return self._readings(values, when)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 3] + "..."


# -- simulated -------------------------------------------------------------------

#: reading name -> unit, for :class:`Simulated`
SIMULATED_READINGS: dict[str, str] = {
    "temperature": "C",
    "humidity": "%",
    "pressure": "hPa",
    "co2": "ppm",
    "pm2_5": "ug/m3",
    "illuminance": "lx",
}
_DEFAULT_SIMULATED = ("temperature", "humidity", "pressure")
_DAY = 86_400.0


def _knot(seed: int, channel: str, k: int) -> float:
    """A fixed pseudo-random number in [-1, 1] for (seed, channel, k)."""
    digest = hashlib.blake2b(f"{seed}/{channel}/{k}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**63 - 1.0


def _noise(seed: int, channel: str, t: float, period: float) -> float:
    """Smooth value noise in [-1, 1]: random knots every ``period`` s, eased between."""
    x = t / period
    k = math.floor(x)
    f = x - k
    a, b = _knot(seed, channel, k), _knot(seed, channel, k + 1)
    return a + (b - a) * f * f * (3 - 2 * f)


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def _simulate(seed: int, t: float) -> dict[str, float | int]:
    """A plausible outdoor weather station at time ``t`` (UTC days; pure)."""
    hour = (t % _DAY) / 3600.0
    # +1 at 15:00 UTC, -1 at 03:00: the daily swing of temperature
    daily = math.sin(2 * math.pi * (hour - 9) / 24)
    temperature = (
        14
        + 4 * _knot(seed, "climate-t", 0)
        + 6 * daily
        + 3 * _noise(seed, "t-weather", t, 6 * 3600)
        + 0.6 * _noise(seed, "t-gust", t, 1200)
        + 0.1 * _noise(seed, "t-jitter", t, 180)
    )
    humidity = (
        62
        + 6 * _knot(seed, "climate-h", 0)
        - 14 * daily
        + 8 * _noise(seed, "h-weather", t, 6 * 3600)
        + 1.5 * _noise(seed, "h-gust", t, 900)
    )
    pressure = (
        1013
        + 6 * _knot(seed, "climate-p", 0)
        + 5 * _noise(seed, "p-front", t, 2 * _DAY)
        + 10 * _noise(seed, "p-weather", t, 8 * 3600)
        + 0.8 * math.sin(4 * math.pi * (hour - 10) / 24)  # the semidiurnal tide
        + 0.1 * _noise(seed, "p-jitter", t, 600)
    )
    co2 = (
        420
        + 10 * _knot(seed, "climate-c", 0)
        + 25 * (1 - daily) / 2
        + 8 * _noise(seed, "c-wind", t, 3600)
        + 2 * _noise(seed, "c-jitter", t, 300)
    )
    rush = math.exp(-(((hour - 8) / 1.5) ** 2)) + math.exp(-(((hour - 18) / 1.5) ** 2))
    pm2_5 = (
        9
        + 4 * _knot(seed, "climate-pm", 0)
        + 3 * rush
        + 5 * _noise(seed, "pm-weather", t, 4 * 3600)
        + 1.5 * _noise(seed, "pm-gust", t, 600)
    )
    sun = math.sin(2 * math.pi * (hour - 6) / 24)  # up from 06:00 to 18:00 UTC
    clouds = 0.65 + 0.35 * _noise(seed, "clouds", t, 2 * 3600)
    flicker = 1 + 0.05 * _noise(seed, "flicker", t, 300)
    illuminance = 60_000 * sun**1.2 * clouds * flicker if sun > 0 else 0.0
    return {
        "temperature": round(_clamp(temperature, -40.0, 60.0), 2),
        "humidity": round(_clamp(humidity, 0.0, 100.0), 1),
        "pressure": round(_clamp(pressure, 870.0, 1085.0), 2),
        "co2": round(_clamp(co2, 350.0, 5000.0)),
        "pm2_5": round(_clamp(pm2_5, 0.0, 1000.0), 1),
        "illuminance": round(_clamp(illuminance, 0.0, 120_000.0), 1),
    }


class Simulated(Driver):
    """A simulated outdoor weather station, for trying things without hardware.

    Values follow the time of day (warmest at 15:00 UTC, light from 06:00 to
    18:00 UTC) plus smooth seeded noise, so a chart of them looks real; they
    are always finite and physically plausible. The same ``seed`` and clock
    give the same values, in any process. Each reading's time is the clock's.

    Options: ``seed`` (int, default 0), ``readings`` (names from
    :data:`SIMULATED_READINGS`: ``temperature`` C, ``humidity`` %,
    ``pressure`` hPa, ``co2`` ppm, ``pm2_5`` ug/m3, ``illuminance`` lx;
    default the first three). Seam: ``clock`` (seconds since the epoch,
    default :func:`time.time`). Config::

        {"name": "station", "driver": "simulated",
         "options": {"seed": 7, "readings": ["temperature", "humidity", "pressure", "co2"]}}
    """

    name: ClassVar[str] = "simulated"

    def __init__(
        self,
        *,
        seed: int = 0,
        readings: Sequence[str] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.seed: int = _opt(self.name, "seed", seed, int, 0)
        chosen = _opt(self.name, "readings", readings, (list, tuple), _DEFAULT_SIMULATED)
        known = all(isinstance(r, str) and r in SIMULATED_READINGS for r in chosen)
        if not chosen or not known or len(set(chosen)) != len(chosen):
            raise ConfigError(
                f"driver 'simulated': option 'readings' must list distinct names from "
                f"{', '.join(SIMULATED_READINGS)}, not {list(chosen)!r}",
                field="readings",
            )
        self.readings: tuple[str, ...] = tuple(chosen)
        self._clock = _time.time if clock is None else clock

    def read(self) -> Readings:
        t = float(self._clock())
        if not math.isfinite(t):
            raise SensorDataError(f"simulated: the clock says {t!r}", driver=self.name)
        values = _simulate(self.seed, t)
        return {r: self._reading(r, values[r], SIMULATED_READINGS[r], t) for r in self.readings}


# -- file ------------------------------------------------------------------------------


class _Bad:
    """A record that could not be decoded, with the reason."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


_WS = re.compile(r"[ \t\n\r]*")
_BOM = b"\xef\xbb\xbf"


def _array_records(text: str) -> Iterator[tuple[int, Any]]:
    """(line, element) for each element of a JSON array; a syntax error ends it with a _Bad."""
    decoder = json.JSONDecoder()
    line, counted = 1, 0

    def line_at(pos: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, pos)
        counted = pos
        return line

    pos = _WS.match(text).end()  # type: ignore[union-attr]
    if text[pos : pos + 1] != "[":
        yield line_at(pos), _Bad("expected a JSON array of objects")
        return
    pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
    if text[pos : pos + 1] != "]":
        while True:
            try:
                element, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                yield (
                    exc.lineno,
                    _Bad(
                        f"not valid JSON ({exc.msg}, column {exc.colno}); "
                        "the rest of the file is skipped"
                    ),
                )
                return
            yield line_at(pos), element
            pos = _WS.match(text, end).end()  # type: ignore[union-attr]
            if text[pos : pos + 1] == ",":
                pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
                continue
            if text[pos : pos + 1] == "]":
                break
            yield (
                line_at(pos),
                _Bad("expected ',' or ']' in the JSON array; the rest of the file is skipped"),
            )
            return
    if _WS.match(text, pos + 1).end() != len(text):  # type: ignore[union-attr]
        yield line_at(pos + 1), _Bad("text after the end of the JSON array")


class FileSource(_JsonSource):
    """Publish a file's records one by one: a JSON array of objects, or JSON Lines.

    Each :meth:`read` returns the next object's numbers and strings (nested
    ones flattened to ``a.b``). After the last record it raises
    :class:`SourceExhausted`, or with ``loop`` starts over (re-reading the
    file). A record that is not valid JSON, not an object, or holds nothing to
    publish raises :class:`SensorDataError` naming the file and line, and the
    next read moves on to the record after it. A syntax error inside a JSON
    array cannot be stepped over: the records before it are read, then the
    error, then the file counts as ended.

    JSON Lines files are read a line at a time (they may be large); an array
    is read whole, on the first read. Files are UTF-8; blank lines are skipped.

    Options: ``path`` (required; an existing file; relative to the working
    directory), ``format`` (``auto``: an array if the file starts with
    ``[``, else JSON Lines; ``json``; ``jsonl``), ``loop`` (default false),
    ``time_key`` (a path to the record's time, see :func:`parse_time`),
    ``units`` (reading name -> unit). Config, for the template's ``data.json``::

        {"name": "vehicles", "driver": "file",
         "options": {"path": "/home/pi/data.json", "loop": true}}

    and for a log of measurements ``{"ts": 1556712000123, "temp": 21.5}``::

        {"driver": "file", "options": {"path": "log.jsonl", "time_key": "ts",
                                        "units": {"temp": "C"}}}
    """

    name: ClassVar[str] = "file"
    FORMATS: ClassVar[tuple[str, ...]] = ("auto", "json", "jsonl")

    def __init__(
        self,
        *,
        path: str | os.PathLike[str] | None = None,
        format: str = "auto",
        loop: bool = False,
        time_key: str | None = None,
        units: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(time_key, units)
        given = _opt(self.name, "path", path, (str, os.PathLike), required=True)
        self.path = Path(given)
        if not self.path.is_file():
            raise ConfigError(
                f"driver 'file': option 'path': no file {str(self.path)!r}", field="path"
            )
        self.format: str = _opt(self.name, "format", format, str, "auto")
        if self.format not in self.FORMATS:
            raise ConfigError(
                f"driver 'file': option 'format' must be one of "
                f"{', '.join(self.FORMATS)}, not {self.format!r}",
                field="format",
            )
        self.loop: bool = _opt(self.name, "loop", loop, bool, False)
        self._records: Iterator[tuple[int, Any]] | None = None
        self._taken = 0  # records (good or bad) taken in this pass over the file
        self._exhausted = False

    def read(self) -> Readings:
        self._check_open()
        while True:
            if self._exhausted:
                raise SourceExhausted(f"file: no more records in {self.path}", driver=self.name)
            if self._records is None:
                self._records = self._iter_records()
                self._taken = 0
            try:
                line, record = next(self._records)
            except StopIteration:
                self._records = None
                if not self.loop:
                    self._exhausted = True
                elif self._taken == 0:
                    raise SourceExhausted(
                        f"file: {self.path} holds no records", driver=self.name
                    ) from None
                continue
            except OSError as exc:
                self._records = None
                raise SensorUnavailableError(
                    f"file: cannot read {self.path}: {exc.strerror or exc}", driver=self.name
                ) from exc
            self._taken += 1
            where = f"{self.path}, line {line}"
            if isinstance(record, _Bad):
                raise self._bad(where, record.reason)
            return self._object_readings(record, where)

    def close(self) -> None:
        super().close()
        if self._records is not None:
            self._records.close()  # type: ignore[attr-defined]  # a generator: closes the file
            self._records = None

    def _iter_records(self) -> Iterator[tuple[int, Any]]:
        with open(self.path, "rb") as f:
            fmt = self.format
            if fmt == "auto":
                fmt = "json" if self._first_byte(f) == b"[" else "jsonl"
            if fmt == "jsonl":
                yield from self._line_records(f)
                return
            raw = f.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            yield raw.count(b"\n", 0, exc.start) + 1, _Bad("not UTF-8 text")
            return
        yield from _array_records(text)

    @staticmethod
    def _first_byte(f: Any) -> bytes:
        head = f.read(4096).removeprefix(_BOM)
        while head:
            stripped = head.lstrip(b" \t\r\n")
            if stripped:
                f.seek(0)
                return stripped[:1]
            head = f.read(4096)
        f.seek(0)
        return b""

    @staticmethod
    def _line_records(f: Any) -> Iterator[tuple[int, Any]]:
        for number, line in enumerate(f, 1):
            raw = line.removeprefix(_BOM) if number == 1 else line
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield number, _Bad("not UTF-8 text")
                continue
            if not text.strip():
                continue
            try:
                yield number, json.loads(text)
            except json.JSONDecodeError as exc:
                yield number, _Bad(f"not valid JSON ({exc.msg}, column {exc.colno})")


# -- http ------------------------------------------------------------------------------


class HttpSource(_JsonSource):
    """Poll a web API that answers JSON, and publish chosen values.

    Each :meth:`read` sends one GET (no retries inside: the caller's next
    read is the retry). ``fields`` maps reading names to paths into the
    answer; without it every top-level number is a reading. Connection
    errors, timeouts and HTTP 5xx, 429 and 408 raise
    :class:`SensorUnavailableError`; other HTTP errors, an answer that is not
    JSON, a missing path or a value that is not a number or string raise
    :class:`SensorDataError`, naming the path and URL. A TLS failure is a
    plain, permanent :class:`DriverError` (a bad certificate stays bad).
    URLs in messages and logs show query values as ``***`` (API keys often
    live there), and header values are never shown.

    Options: ``url`` (required, http or https), ``fields``, ``headers``,
    ``timeout`` (seconds, default 30), ``time_key`` (a path to the answer's
    time; not a reading), ``units`` (reading name -> unit). Seam:
    ``session`` (a ``requests.Session``; one is made, and closed by
    :meth:`close`, when none is given). Config, for OpenWeatherMap::

        {"name": "owm", "driver": "http",
         "options": {"url": "https://api.openweathermap.org/data/2.5/weather?q=Berlin&units=metric&appid=KEY",
                     "fields": {"temperature": "main.temp", "humidity": "main.humidity",
                                "pressure": "main.pressure", "wind": "wind.speed",
                                "sky": "weather[0].main"},
                     "units": {"temperature": "C", "humidity": "%", "pressure": "hPa",
                               "wind": "m/s"},
                     "time_key": "dt"}}
    """

    name: ClassVar[str] = "http"

    def __init__(
        self,
        *,
        url: str | None = None,
        fields: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        time_key: str | None = None,
        units: Mapping[str, str] | None = None,
        session: Any = None,
    ) -> None:
        import requests  # a network library: imported by the driver that uses it

        from .._http import DEFAULT_TIMEOUT, new_session

        super().__init__(time_key, units)
        self.url: str = _opt(self.name, "url", url, str, required=True)
        try:
            prepared = requests.Request("GET", self.url).prepare().url or ""
        except requests.RequestException as exc:
            raise ConfigError(
                f"driver 'http': option 'url' is not a URL: {exc}", field="url"
            ) from None
        if not prepared.lower().startswith(("http://", "https://")):
            raise ConfigError("driver 'http': option 'url' must be an http(s) URL", field="url")
        self.safe_url = _safe_url(prepared)
        self._secret_parts = {p for u in (self.url, prepared) for p in _secret_parts(u)}
        self._fields: dict[str, tuple[str, tuple[PathPart, ...]]] = {}
        for name, path in _str_mapping(self.name, "fields", fields).items():
            try:
                self._fields[name] = (path, parse_path(path))
            except ValueError as exc:
                raise ConfigError(
                    f"driver 'http': option 'fields': {name!r}: {exc}", field="fields"
                ) from None
        if self._fields and set(self._units) - set(self._fields):
            raise ConfigError(
                f"driver 'http': option 'units' names readings that are not in 'fields': "
                f"{sorted(set(self._units) - set(self._fields))}",
                field="units",
            )
        self._headers = _str_mapping(self.name, "headers", headers)
        self.timeout = check_positive(self.name, "timeout", timeout, DEFAULT_TIMEOUT)
        self._requests = requests
        self._owns_session = session is None
        self._session = new_session() if session is None else session

    def __repr__(self) -> str:
        return f"<HttpSource driver 'http' {self.safe_url}>"

    def close(self) -> None:
        if not self._closed and self._owns_session:
            self._session.close()
        super().close()

    def read(self) -> Readings:
        self._check_open()
        data = self._get()
        when = self._time_of(data, f"the answer from {self.safe_url}")
        if not self._fields:
            return self._top_level_numbers(data, when)
        values: dict[str, Value] = {}
        for name, (path, parts) in self._fields.items():
            try:
                value = get_path(data, parts)
            except LookupError as exc:
                raise self._bad(
                    f"path {path!r}", f"{exc} in the answer from {self.safe_url}"
                ) from None
            if not (_is_number(value) or isinstance(value, str)):
                raise self._bad(
                    f"path {path!r}",
                    f"{_json_kind(value)}, not a number or "
                    f"string, in the answer from {self.safe_url}",
                )
            if not _finite(value):
                raise self._bad(
                    f"path {path!r}", f"not a finite number in the answer from {self.safe_url}"
                )
            values[name] = value
        return self._readings(values, when)

    def _top_level_numbers(self, data: Any, when: float | None) -> Readings:
        where = f"the answer from {self.safe_url}"
        if not isinstance(data, Mapping):
            raise self._bad(
                where,
                f"{_json_kind(data)}, not an object: name the values to publish with 'fields'",
            )
        skip = self._time_parts[0] if self._time_parts and len(self._time_parts) == 1 else None
        values = {k: v for k, v in data.items() if _is_number(v) and k != skip and _finite(v)}
        if not values:
            raise self._bad(where, "no top-level numbers: name the values with 'fields'")
        return self._readings(values, when)

    def _get(self) -> Any:
        """One GET; every ``requests`` failure and refusal is mapped here."""
        requests = self._requests
        failure: DriverError | None = None
        cause: BaseException | None = None
        try:
            response = self._session.get(
                self.url, headers=self._headers or None, timeout=self.timeout
            )
        except requests.RequestException as exc:
            # requests' messages quote the URL's query: keep its values out
            message = self._scrub(str(exc))
            cause = exc if message == str(exc) else type(exc)(message)
            reason = _clip(message)
            if isinstance(exc, requests.Timeout):
                failure = SensorUnavailableError(
                    f"http: {self.safe_url} timed out after {self.timeout:g} s", driver=self.name
                )
            elif isinstance(exc, requests.exceptions.SSLError):
                failure = DriverError(
                    f"http: TLS failed for {self.safe_url}: {reason}", driver=self.name
                )
            elif isinstance(
                exc,
                (
                    requests.ConnectionError,
                    requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError,
                ),
            ):
                failure = SensorUnavailableError(
                    f"http: connecting to {self.safe_url} failed: {reason}", driver=self.name
                )
            else:
                failure = DriverError(
                    f"http: GET {self.safe_url} failed: {reason}", driver=self.name
                )
        if failure is not None:
            raise failure from cause
        status = response.status_code
        log.debug("http: GET %s: HTTP %d", self.safe_url, status)
        if status in (408, 429) or status >= 500:
            raise SensorUnavailableError(
                f"http: {self.safe_url} answered HTTP {status}", driver=self.name
            )
        if not 200 <= status < 300:
            raise SensorDataError(f"http: {self.safe_url} answered HTTP {status}", driver=self.name)
        try:
            return response.json()
        except ValueError:  # also requests' JSONDecodeError
            kind = response.headers.get("Content-Type") or "no content type"
            raise SensorDataError(
                f"http: the answer from {self.safe_url} is not JSON ({kind})", driver=self.name
            ) from None

    def _scrub(self, text: str) -> str:
        for part in sorted(self._secret_parts, key=len, reverse=True):
            text = text.replace(part, "***")
        return text


def _safe_url(url: str) -> str:
    """``url`` without credentials and with query values masked, for messages and logs."""
    from urllib.parse import parse_qsl, urlsplit, urlunsplit

    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = "&".join(f"{k}=***" for k, _ in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _secret_parts(url: str) -> set[str]:
    """The pieces of ``url`` that may carry secrets: its query, query values, password."""
    from urllib.parse import parse_qsl, quote_plus, urlsplit

    parts = urlsplit(url)
    found = {parts.query} if parts.query else set()
    for _, value in parse_qsl(parts.query, keep_blank_values=True):
        if len(value) >= 4:  # shorter values would mask unrelated text
            found |= {value, quote_plus(value)}
    if parts.password:
        found.add(parts.password)
    return found


# -- command ---------------------------------------------------------------------------


class CommandSource(_JsonSource):
    """Run a program on each read; it prints one JSON object on stdout.

    The program's numbers and strings become readings (nested ones flattened
    to ``a.b``). It runs without a shell: a string ``command`` is split like
    a shell would (:func:`shlex.split`) but ``;``, ``|``, ``$(...)``, ``*`` and
    redirections are passed to the program as plain text. Write diagnostics
    to stderr: stdout must hold the JSON object and nothing else.

    A non-zero exit raises :class:`SensorDataError` with the exit code and the
    last line of stderr; a program still running after ``timeout`` seconds
    is killed (with everything it started) and :class:`SensorUnavailableError`
    raised; output that is not a JSON object raises :class:`SensorDataError`.

    Options: ``command`` (required: a list of arguments, or a string; the
    program must exist), ``timeout`` (seconds, default 10), ``env`` (variables
    added to the inherited environment), ``time_key`` (a path to the
    object's time; not a reading), ``units`` (reading name -> unit). Config::

        {"name": "soil", "driver": "command",
         "options": {"command": "/usr/local/bin/read-soil --json --pin 4",
                     "timeout": 5, "units": {"moisture": "%", "temperature": "C"}}}
    """

    name: ClassVar[str] = "command"

    def __init__(
        self,
        *,
        command: str | Sequence[str] | None = None,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        time_key: str | None = None,
        units: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(time_key, units)
        given = _opt(self.name, "command", command, (str, list, tuple), required=True)
        if isinstance(given, str):
            try:
                args = shlex.split(given)
            except ValueError as exc:
                raise ConfigError(
                    f"driver 'command': option 'command': {exc}", field="command"
                ) from None
        else:
            args = list(given)
        if not args or not all(isinstance(a, str) for a in args):
            raise ConfigError(
                "driver 'command': option 'command' must be a non-empty string or list of strings",
                field="command",
            )
        self.timeout = check_positive(self.name, "timeout", timeout, 10.0)
        extra = _str_mapping(self.name, "env", env)
        self._env = {**os.environ, **extra} if extra else None
        search = (self._env or os.environ).get("PATH", os.defpath)
        if shutil.which(args[0], path=search) is None:
            raise ConfigError(
                f"driver 'command': program {args[0]!r} not found or not executable",
                field="command",
            )
        self.args: tuple[str, ...] = tuple(args)
        self._program = os.path.basename(args[0])  # messages name the program, not its arguments

    def __repr__(self) -> str:
        return f"<CommandSource driver 'command' {self._program!r}>"

    def read(self) -> Readings:
        self._check_open()
        started = _time.monotonic()
        out, err, code = self._run()
        log.debug(
            "command: %s exited with %d after %.3f s",
            self._program,
            code,
            _time.monotonic() - started,
        )
        stderr = err.decode("utf-8", "replace")
        for line in stderr.splitlines():
            if line.strip():
                log.debug("command: %s: %s", self._program, line)
        if code != 0:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
            last = next((ln for ln in reversed(stderr.splitlines()) if ln.strip()), "")
            said = f": {_clip(last)}" if last else " (nothing on stderr)"
            raise SensorDataError(f"command: {self._program} {how}{said}", driver=self.name)
        where = f"the output of {self._program}"
        try:
            data = json.loads(out.decode("utf-8"))
        except UnicodeDecodeError:
            raise self._bad(where, "not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            shown = _clip(out.decode("utf-8", "replace")) or "nothing"
            raise self._bad(where, f"not a JSON object ({exc.msg}); it printed: {shown}") from None
        return self._object_readings(data, where)

    def _run(self) -> tuple[bytes, bytes, int]:
        try:
            proc = subprocess.Popen(
                self.args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._env,
                start_new_session=os.name == "posix",
            )
        except OSError as exc:
            raise SensorUnavailableError(
                f"command: cannot run {self._program}: {exc.strerror or exc}", driver=self.name
            ) from exc
        with proc:
            try:
                out, err = proc.communicate(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                self._kill(proc)
                raise SensorUnavailableError(
                    f"command: {self._program} did not finish within {self.timeout:g} s "
                    "and was killed",
                    driver=self.name,
                ) from None
            except BaseException:  # KeyboardInterrupt, SystemExit: leave nothing running
                self._kill(proc)
                raise
        return out, err, proc.returncode

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        """Kill the program and whatever it started, then reap it."""
        try:
            if os.name == "posix":
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: pgid == pid
            else:  # pragma: no cover - the project targets Linux
                proc.kill()
        except ProcessLookupError:
            pass
        try:
            proc.communicate(timeout=2)
        except subprocess.TimeoutExpired:  # a grandchild left the group and holds the pipes
            pass
