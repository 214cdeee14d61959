"""Turn driver readings into a device's data fields (pure: no I/O).

A device declares fields (``dataTypes``: id, name, unit). The config maps
each field to a driver reading, with optional scale/offset, unit conversion
and rounding::

    "fields": [
      {"id": "temp", "sensor": "outside", "reading": "temperature", "unit": "F", "round": 1},
      {"id": "press", "reading": "pressure", "unit": "inHg"},
      {"id": "dust", "reading": "pm2_5", "scale": 1.0, "offset": -0.5}
    ]

``value = convert(reading * scale + offset, from reading unit, to field unit)``,
then rounded. A reading that is missing, not a number where one is needed,
or not finite is *reported* and left out of the packet, never published as
garbage; so is a reading without a unit under a field that names a ``unit``
(there is nothing to convert from: give the driver's ``units`` option). A
unit taken from the device's ``dataTypes`` (when the field names none) is
converted to when the reading has a unit, and is a label otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._text import did_you_mean
from .device import validate_data_types
from .errors import ConfigError, UnitError

__all__ = [
    "FieldMap",
    "FieldRule",
    "MappedPayload",
    "UnitError",
    "convert",
    "known_units",
    "unit_problem",
]

FIELD_KEYS = ("id", "reading", "sensor", "scale", "offset", "unit", "round")


# unit -> (dimension, factor to the dimension's base unit); temperatures apart
_LINEAR: dict[str, tuple[str, float]] = {}


def _units(dimension: str, **factors: float) -> None:
    for name, factor in factors.items():
        _LINEAR[name] = (dimension, factor)


_units(
    "pressure",
    Pa=1.0,
    hPa=100.0,
    kPa=1000.0,
    mbar=100.0,
    bar=100_000.0,
    inHg=3386.389,
    mmHg=133.322387415,
    psi=6894.757293168,
    atm=101_325.0,
)
_units("speed", **{"m/s": 1.0, "km/h": 1 / 3.6, "mph": 0.44704, "kn": 0.514444})
_units("length", m=1.0, mm=0.001, cm=0.01, km=1000.0, **{"in": 0.0254, "ft": 0.3048})
_units("ratio", **{"%": 0.01, "fraction": 1.0})
_units("concentration", ppm=1.0, ppb=0.001)
_units("mass_concentration", **{"ug/m3": 1.0, "µg/m³": 1.0, "mg/m3": 1000.0})
_units("illuminance", lx=1.0, lux=1.0, klx=1000.0)
_units("angle", deg=1.0, rad=180 / math.pi)
_units("sound", dB=1.0)
_units("power", W=1.0, kW=1000.0)
_units("voltage", V=1.0, mV=0.001)
_units("number_concentration", **{"/L": 1.0, "/0.1L": 10.0, "/cm3": 1000.0})

_ALIASES = {
    "°C": "C",
    "degC": "C",
    "celsius": "C",
    "°F": "F",
    "degF": "F",
    "fahrenheit": "F",
    "kelvin": "K",
    "%RH": "%",
    "pct": "%",
    "ug/m^3": "ug/m3",
    "knots": "kn",
}
_TEMPERATURE = {"C", "F", "K"}


def _canonical(unit: str) -> str:
    return _ALIASES.get(unit, unit)


def known_units() -> list[str]:
    """Every unit :func:`convert` understands."""
    return sorted(_TEMPERATURE | set(_LINEAR))


def _is_known(unit: str) -> bool:
    unit = _canonical(unit)
    return unit in _TEMPERATURE or unit in _LINEAR


def unit_problem(reading_unit: str | None, field_unit: str, *, explicit: bool = True) -> str:
    """Why a reading in ``reading_unit`` cannot fill a field in ``field_unit``
    (``""`` when it can): an unknown unit, two dimensions (``hPa`` on a
    temperature), or a reading with no unit under a field's own ``unit``
    (``explicit``; a unit from ``dataTypes`` is then only a label)."""
    if reading_unit is None:
        if explicit:
            return "the reading carries no unit to convert from"
        return ""
    try:
        convert(1.0, reading_unit, field_unit)
    except UnitError as exc:
        return str(exc)
    return ""


def _to_celsius(value: float, unit: str) -> float:
    if unit == "F":
        return (value - 32) * 5 / 9
    if unit == "K":
        return value - 273.15
    return value


def _from_celsius(value: float, unit: str) -> float:
    if unit == "F":
        return value * 9 / 5 + 32
    if unit == "K":
        return value + 273.15
    return value


def convert(value: float, from_unit: str | None, to_unit: str | None) -> float:
    """Convert between units of one dimension (``convert(20, "C", "F") == 68``).

    ``None`` or an identical unit returns the value unchanged.
    """
    if from_unit is None or to_unit is None:
        return value
    src, dst = _canonical(from_unit), _canonical(to_unit)
    if src == dst:
        return value
    if src in _TEMPERATURE and dst in _TEMPERATURE:
        return _from_celsius(_to_celsius(value, src), dst)
    dimensions = []
    for name, unit in ((src, from_unit), (dst, to_unit)):
        if name in _TEMPERATURE:
            dimensions.append("temperature")
        elif name in _LINEAR:
            dimensions.append(_LINEAR[name][0])
        else:
            raise UnitError(
                f"unknown unit {unit!r} (known: {', '.join(known_units())})", field="unit"
            )
    if dimensions[0] != dimensions[1]:
        raise UnitError(
            f"cannot convert {from_unit} ({dimensions[0]}) to {to_unit} ({dimensions[1]})",
            field="unit",
        )
    a, b = _LINEAR[src], _LINEAR[dst]
    return value * a[1] / b[1]


@dataclass(frozen=True)
class FieldRule:
    """How one device field is computed from one reading."""

    id: str
    reading: str
    sensor: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None
    round: int | None = None
    #: false when ``unit`` comes from the device's ``dataTypes``, not the field
    unit_given: bool = True


@dataclass(frozen=True)
class MappedPayload:
    """The packet's ``data`` and what could not be filled (field id -> reason).

    ``time`` is the measurement time (seconds since the epoch) of the
    readings that filled ``data``: the newest :attr:`Reading.time` among them,
    or ``None`` when none carries one (then the time of reading is the
    packet's time). A ``file`` source's ``time_key`` arrives here, so a
    back-filled history keeps its own timestamps.
    """

    data: dict[str, Any]
    problems: dict[str, str] = field(default_factory=dict)
    time: float | None = None

    @property
    def complete(self) -> bool:
        return not self.problems


class FieldMap:
    """The mapping from readings to a device's fields."""

    def __init__(self, rules: Sequence[FieldRule], paths: Sequence[str] | None = None) -> None:
        ids = [r.id for r in rules]
        duplicates = {i for i in ids if ids.count(i) > 1}
        if duplicates:
            raise ConfigError(f"fields map the same id twice: {sorted(duplicates)}", field="fields")
        self.rules = list(rules)
        #: where each rule stands in the config (``fields[2]``), for messages
        self.paths = list(paths) if paths is not None else [f"fields[{i}]" for i in range(len(ids))]
        if len(self.paths) != len(self.rules):
            raise ValueError("one path per rule")

    @classmethod
    def from_config(
        cls,
        entries: object,
        data_types: Sequence[Mapping[str, Any]] | None = None,
        *,
        report: Callable[[ConfigError], None] | None = None,
    ) -> FieldMap:
        """Build from the config's ``fields`` list; check it against the device's
        ``dataTypes`` (every mapped id must be declared) when given.

        Raises the first :class:`ConfigError`; with ``report``, each field
        entry's problem goes there and the entry is left out instead.
        """
        if not isinstance(entries, list) or not entries:
            raise ConfigError("'fields' must be a non-empty list of field mappings", field="fields")
        declared: dict[str, Mapping[str, Any]] | None = None
        if data_types is not None:
            if isinstance(data_types, (str, bytes)) or not isinstance(data_types, Sequence):
                raise ConfigError(
                    "dataTypes must be a non-empty list of {id, name, unit}", field="dataTypes"
                )
            checked = validate_data_types(list(data_types), error=ConfigError)
            declared = {d["id"]: d for d in checked}
        rules, paths = [], []
        for i, entry in enumerate(entries):
            path = f"fields[{i}]"
            try:
                rule = _rule(entry, path, declared)
            except ConfigError as exc:
                if report is None:
                    raise
                report(exc)
                continue
            rules.append(rule)
            paths.append(path)
        return cls(rules, paths)

    def apply(self, readings: Mapping[str, Mapping[str, Any]]) -> MappedPayload:
        """Map readings (sensor name -> {reading name: Reading}) to field values."""
        data: dict[str, Any] = {}
        problems: dict[str, str] = {}
        times: list[float] = []
        for rule in self.rules:
            try:
                data[rule.id] = self._value(rule, readings)
            except _Missing as exc:
                problems[rule.id] = str(exc)
                continue
            when = getattr(_find(rule, readings), "time", None)
            if isinstance(when, (int, float)) and not isinstance(when, bool):
                times.append(float(when))
        return MappedPayload(data, problems, max(times) if times else None)

    def _value(self, rule: FieldRule, readings: Mapping[str, Mapping[str, Any]]) -> Any:
        reading = _find(rule, readings)
        value = reading.value
        if isinstance(value, str):
            if rule.scale != 1.0 or rule.offset != 0.0 or rule.round is not None:
                raise _Missing(f"reading {rule.reading!r} is text, not a number")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Missing(f"reading {rule.reading!r} is not a number: {value!r}")
        if not math.isfinite(value):
            raise _Missing(f"reading {rule.reading!r} is not finite")
        result = value * rule.scale + rule.offset
        if reading.unit is None and rule.unit is not None and rule.unit_given:
            raise _Missing(
                f"field {rule.id!r} is in {rule.unit!r} but reading {rule.reading!r} carries "
                "no unit to convert from (give the driver's 'units' option, or drop the "
                "field's 'unit')"
            )
        try:
            result = convert(result, reading.unit, rule.unit)
        except UnitError as exc:
            raise _Missing(f"reading {rule.reading!r}: {exc}") from None
        if rule.round is not None:
            result = round(result, rule.round)
            if rule.round <= 0:
                result = int(result)
        elif (
            isinstance(value, int) and rule.scale == 1.0 and rule.offset == 0.0 and result == value
        ):
            result = value
        return result


def _rule(entry: object, path: str, declared: Mapping[str, Mapping[str, Any]] | None) -> FieldRule:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{path} must be an object", field=path)
    for key in entry:
        if key not in FIELD_KEYS and not (isinstance(key, str) and key.startswith("_")):
            raise ConfigError(
                f"unknown config key '{path}.{key}'{did_you_mean(key, FIELD_KEYS)}",
                field=f"{path}.{key}",
            )
    rule = FieldRule(
        id=_text(entry, "id", path),
        reading=_text(entry, "reading", path, default=entry.get("id")),
        sensor=_text(entry, "sensor", path, default=None, required=False),
        scale=_number(entry, "scale", path, 1.0),
        offset=_number(entry, "offset", path, 0.0),
        unit=_text(entry, "unit", path, default=None, required=False),
        round=_rounding(entry, path),
    )
    if rule.unit is not None and not _is_known(rule.unit):
        raise ConfigError(
            f"{path}.unit {rule.unit!r} is not a known unit"
            f"{did_you_mean(rule.unit, known_units())} (known: {', '.join(known_units())})",
            field=f"{path}.unit",
        )
    if declared is not None:
        if rule.id not in declared:
            raise ConfigError(
                f"{path}.id {rule.id!r} is not one of the device's fields "
                f"({', '.join(declared)}){did_you_mean(rule.id, declared)}",
                field=f"{path}.id",
            )
        if rule.unit is None and declared[rule.id].get("unit"):
            rule = FieldRule(
                **{**rule.__dict__, "unit": declared[rule.id]["unit"], "unit_given": False}
            )
    return rule


class _Missing(Exception):
    pass


def _find(rule: FieldRule, readings: Mapping[str, Mapping[str, Any]]) -> Any:
    if rule.sensor is not None:
        found = readings.get(rule.sensor, {}).get(rule.reading)
        if found is None:
            raise _Missing(f"no reading {rule.reading!r} from sensor {rule.sensor!r}")
        return found
    matches = [r[rule.reading] for r in readings.values() if rule.reading in r]
    if not matches:
        raise _Missing(f"no sensor gave the reading {rule.reading!r}")
    if len(matches) > 1:
        raise _Missing(f"several sensors give {rule.reading!r}; name one with 'sensor'")
    return matches[0]


def _text(
    entry: Mapping[str, Any], key: str, path: str, default: Any = None, required: bool = True
) -> Any:
    value = entry.get(key, default)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(
            f"{path}.{key} must be a non-empty string, not {value!r}", field=f"{path}.{key}"
        )
    return value


def _number(entry: Mapping[str, Any], key: str, path: str, default: float) -> float:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(
            f"{path}.{key} must be a finite number, not {value!r}", field=f"{path}.{key}"
        )
    return float(value)


def _rounding(entry: Mapping[str, Any], path: str) -> int | None:
    value = entry.get("round")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not -6 <= value <= 10:
        raise ConfigError(
            f"{path}.round must be an int from -6 to 10, not {value!r}", field=f"{path}.round"
        )
    return value
