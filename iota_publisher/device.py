"""The Data Marketplace's rules for a device and its fields (pure: no I/O).

From the blueprint: a device id and a field id start with a letter, then
letters, digits, ``-`` or ``_``, at most 40 characters; a field's name is at
most 40 characters, its unit at most 20; latitude and longitude are numbers
(or decimal strings: digits, an optional leading ``-`` and decimal point).
A device's ``dataTypes`` is a non-empty list of ``{id, name, unit}`` with
unique ids.

The marketplace client, the config, the payload mapping and the template
all check with these functions. Errors are :class:`InvalidInputError`\\ s
whose ``field`` is the path of the offending value (``dataTypes[2].id``);
pass ``error=ConfigError`` when checking a configuration.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from .errors import InvalidInputError

__all__ = [
    "ID_MAX_LENGTH",
    "NAME_MAX_LENGTH",
    "UNIT_MAX_LENGTH",
    "check_id",
    "is_id",
    "validate_data_types",
    "validate_device",
]

ID_MAX_LENGTH = 40
NAME_MAX_LENGTH = 40
UNIT_MAX_LENGTH = 20
_ID_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,39}")  # ID_MAX_LENGTH in all
_COORDINATE_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_ID_RULE = "must start with a letter, then letters, digits, '-' or '_', at most 40 characters"

Error = type[InvalidInputError]


def is_id(value: object) -> bool:
    """Whether ``value`` is a valid device or field id."""
    return isinstance(value, str) and _ID_RE.fullmatch(value) is not None


def _bad(error: Error, field: str, message: str, prefix: str) -> InvalidInputError:
    return error(f"{prefix}{field} {message}", field=field)


def check_id(
    value: object, field: str = "sensorId", *, error: Error = InvalidInputError, prefix: str = ""
) -> str:
    """A device or field id (upper-case letters are accepted: live devices use them)."""
    if not is_id(value):
        raise _bad(error, field, f"{_ID_RULE}; got {value!r:.60}", prefix)
    return value  # type: ignore[return-value]


def _label(
    value: object,
    field: str,
    limit: int | None,
    error: Error,
    prefix: str,
    *,
    empty: bool = False,
) -> str:
    if (
        not isinstance(value, str)
        or (not value.strip() and not empty)
        or (limit is not None and len(value) > limit)
    ):
        size = "" if limit is None else f" of at most {limit} characters"
        what = "" if empty else " non-empty"
        raise _bad(error, field, f"must be a{what} string{size}; got {value!r:.60}", prefix)
    return value


def _coordinate(value: object, field: str, limit: int, error: Error, prefix: str) -> float:
    if isinstance(value, str) and _COORDINATE_RE.fullmatch(value.strip()):
        value = float(value)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not -limit <= value <= limit
    ):
        raise _bad(
            error, field, f"must be a number from -{limit} to {limit}; got {value!r}", prefix
        )
    return float(value)


def validate_data_types(
    fields: object, *, error: Error = InvalidInputError, path: str = "dataTypes"
) -> list[dict[str, Any]]:
    """Check a device's ``dataTypes`` (its fields); return them.

    A non-empty list of ``{id, name, unit}``: ids as device ids and unique,
    names up to 40 characters, units up to 20 (may be empty). Errors name
    the path (``dataTypes[2].unit``).
    """
    prefix = "device " if error is InvalidInputError else ""
    if not isinstance(fields, list) or not fields:
        raise _bad(error, path, "must be a non-empty list of {id, name, unit}", prefix)
    seen: set[str] = set()
    for i, entry in enumerate(fields):
        at = f"{path}[{i}]"
        if not isinstance(entry, Mapping):
            raise _bad(error, at, "must be an object {id, name, unit}", prefix)
        field_id = check_id(entry.get("id"), f"{at}.id", error=error, prefix=prefix)
        if field_id in seen:
            raise _bad(error, f"{at}.id", f"repeats the field id {field_id!r}", prefix)
        seen.add(field_id)
        _label(entry.get("name"), f"{at}.name", NAME_MAX_LENGTH, error, prefix)
        _label(entry.get("unit"), f"{at}.unit", UNIT_MAX_LENGTH, error, prefix, empty=True)
    return fields


def validate_device(
    device: Mapping[str, Any], *, error: Error = InvalidInputError
) -> dict[str, Any]:
    """Check a device description against the blueprint's rules; return a cleaned copy.

    Required: ``sensorId`` (a letter, then letters, digits, ``-``, ``_``; at
    most 40), ``type``, ``owner``, ``location.city``, ``location.country``
    (the cloud function refuses a device without them), ``lat`` in -90..90,
    ``lon`` in -180..180 (numbers or decimal strings; returned as floats) and
    a non-empty ``dataTypes`` list of ``{id, name, unit}`` (see
    :func:`validate_data_types`). Optional ``price``: a non-negative int (a
    string of digits is converted). A latitude or longitude of exactly 0
    passes here, but the 2019-2021 cloud function refuses it as missing.
    Raises ``error`` (:class:`InvalidInputError`) whose ``field`` is the path
    of the offending value (``dataTypes[2].id``).
    """
    prefix = "device "
    if not isinstance(device, Mapping):
        raise error("device must be a mapping", field="device")
    clean = _plain(device)
    check_id(clean.get("sensorId"), "sensorId", error=error, prefix=prefix)
    for key in ("type", "owner"):
        _label(clean.get(key), key, None, error, prefix)
    location = clean.get("location")
    if not isinstance(location, dict):
        raise _bad(error, "location", "must be an object with city and country", prefix)
    for key in ("city", "country"):
        _label(location.get(key), f"location.{key}", None, error, prefix)
    clean["lat"] = _coordinate(clean.get("lat"), "lat", 90, error, prefix)
    clean["lon"] = _coordinate(clean.get("lon"), "lon", 180, error, prefix)
    if "price" in clean:
        price = clean["price"]
        if isinstance(price, str) and price.isascii() and price.isdigit():
            price = int(price)
        if isinstance(price, bool) or not isinstance(price, int) or price < 0:
            raise _bad(error, "price", f"must be a non-negative int (IOTA); got {price!r}", prefix)
        clean["price"] = price
    validate_data_types(clean.get("dataTypes"), error=error)
    try:
        json.dumps(clean, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise error(f"device must hold only JSON values: {exc}", field="device") from exc
    return clean


def _plain(value: Any) -> Any:
    """A deep copy with mappings as dicts and sequences as lists."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
