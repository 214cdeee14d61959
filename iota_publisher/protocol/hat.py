"""The HAT (Hub of All Things) API: paths, record and data-bundle shapes, their checks.

Sans-I/O, shared by :mod:`iota_publisher.hat` (the client) and
:mod:`iota_publisher.sandbox.hat` (the local HAT). Checks raise
:class:`~iota_publisher.errors.ProtocolError` (``field`` is the wire name).

* Namespaces are ``[0-9a-z-]+``, endpoints ``[0-9a-z-/]+``; a bundle names an
  endpoint as ``namespace/endpoint``.
* A record is ``{endpoint, recordId, data, links?}``; writes answer 201 with a
  list of them, or 400 ``{"message": "Duplicate Data"}`` when a record with the
  same data (SHA-256 of its JSON) is already stored.
* A data bundle maps a property to ``{endpoints: [query], orderBy?, ordering?,
  limit?}``; a query is ``{endpoint, mapping?, filters?, links?}``; a filter
  ``{field, transformation?, operator}``. :func:`evaluate_bundle` answers a
  bundle from the records of each endpoint (the local HAT uses it).
* Data debits: the v2 request ``{bundle: {name, bundle}, startDate, endDate,
  rolling}`` and the v2.6 request (:func:`debit_request`), their answers.

A sensor reading becomes the record :func:`sensor_record` builds: ``time``
(ms, a number), ``deviceId``, and one entry per field id.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ProtocolError

__all__ = [
    "ACCESS_TOKEN_PATH",
    "API",
    "API_V2",
    "DUPLICATE_DATA",
    "OPERATORS",
    "RECORD_DEVICE",
    "RECORD_TIME",
    "TOKEN_HEADER",
    "TRANSFORMATIONS",
    "DataDebit",
    "Record",
    "WriteResult",
    "access_token",
    "bundle",
    "data_debit",
    "data_path",
    "debit_request",
    "debit_request_v2",
    "debit_values",
    "endpoint",
    "endpoint_query",
    "evaluate_bundle",
    "field_value",
    "full_endpoint",
    "is_duplicate",
    "map_record",
    "matches",
    "namespace",
    "record_digest",
    "records",
    "sensor_record",
    "split_endpoint",
]

API = "/api/v2.6"
API_V2 = "/api/v2"
ACCESS_TOKEN_PATH = "/users/access_token"
TOKEN_HEADER = "X-Auth-Token"
DUPLICATE_DATA = "Duplicate Data"
RECORD_TIME = "time"
RECORD_DEVICE = "deviceId"
OPERATORS = frozenset({"in", "contains", "between", "find"})
TRANSFORMATIONS = frozenset({"identity", "datetimeExtract", "timestampExtract", "searchable"})
_DATE_PARTS = frozenset(
    {"year", "month", "day", "hour", "minute", "second", "dow", "doy", "week", "epoch"}
)
_NAMESPACE = re.compile(r"[0-9a-z-]+\Z")
_ENDPOINT = re.compile(r"[0-9a-z-]+(/[0-9a-z-]+)*\Z")


def namespace(value: object, name: str = "namespace") -> str:
    """A namespace: ``[0-9a-z-]+``."""
    if not isinstance(value, str) or not _NAMESPACE.match(value):
        raise ProtocolError(name, "must be lower-case letters, digits and '-'", kind="format")
    return value


def endpoint(value: object, name: str = "endpoint") -> str:
    """An endpoint: ``[0-9a-z-/]+`` (no empty segment)."""
    if not isinstance(value, str) or not _ENDPOINT.match(value):
        raise ProtocolError(
            name, "must be lower-case letters, digits, '-' and '/' between them", kind="format"
        )
    return value


def full_endpoint(ns: object, ep: object) -> str:
    """``namespace/endpoint``, as a bundle and a record name it."""
    return f"{namespace(ns)}/{endpoint(ep)}"


def split_endpoint(value: object, name: str = "endpoint") -> tuple[str, str]:
    """``(namespace, endpoint)`` of a bundle's ``namespace/endpoint``."""
    if not isinstance(value, str) or "/" not in value:
        raise ProtocolError(name, "must be 'namespace/endpoint'", kind="format")
    ns, _, ep = value.partition("/")
    return namespace(ns, name), endpoint(ep, name)


def data_path(ns: object, ep: object) -> str:
    """``/api/v2.6/data/{namespace}/{endpoint}``."""
    return f"{API}/data/{namespace(ns)}/{endpoint(ep)}"


def access_token(data: object) -> str:
    """The ``accessToken`` of a login answer ``{accessToken, userId}``."""
    token = data.get("accessToken") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise ProtocolError("accessToken", "is missing from the answer", kind="missing")
    return token


def sensor_record(device_id: object, time_ms: object, values: Mapping[str, Any]) -> dict[str, Any]:
    """The HAT record of one reading: ``{"deviceId", "time" (ms), <field id>: value...}``."""
    if not isinstance(device_id, str) or not device_id:
        raise ProtocolError(RECORD_DEVICE, "must be a non-empty string", kind="type")
    if isinstance(time_ms, bool) or not isinstance(time_ms, int) or time_ms < 0:
        raise ProtocolError(RECORD_TIME, "must be a non-negative int (ms)", kind="type")
    record: dict[str, Any] = {RECORD_DEVICE: device_id, RECORD_TIME: time_ms}
    for key, value in values.items():
        if key in record or not isinstance(key, str) or not key:
            raise ProtocolError("fields", f"a field id {key!r:.40} clashes or is empty")
        record[key] = value
    return record


def record_digest(data: Any) -> str:
    """SHA-256 of a record's data, as duplicates are detected (key order does not count)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def is_duplicate(status: int, data: object) -> bool:
    """Whether an answer is the HAT's ``400 Duplicate Data`` refusal."""
    return status == 400 and isinstance(data, dict) and data.get("message") == DUPLICATE_DATA


@dataclass(frozen=True)
class Record:
    """A stored record: ``endpoint`` (``namespace/endpoint``), ``record_id``, ``data``."""

    endpoint: str
    record_id: str
    data: Any

    def to_json(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "recordId": self.record_id, "data": self.data}


@dataclass(frozen=True)
class WriteResult:
    """What a write did: the ``records`` stored (with their ids), or ``duplicate``:
    the HAT already held this data (a retry after a lost answer), nothing new stored."""

    records: tuple[Record, ...] = ()
    duplicate: bool = False

    @property
    def record_ids(self) -> tuple[str, ...]:
        return tuple(r.record_id for r in self.records)


def records(data: object) -> list[Record]:
    """A list of records (a write's or a read's answer)."""
    if not isinstance(data, list):
        raise ProtocolError("records", "expected a list of records", kind="type")
    out = []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise ProtocolError("records", "is not an object", kind="type", index=i)
        ep, rid = entry.get("endpoint"), entry.get("recordId")
        if not isinstance(ep, str) or not isinstance(rid, str) or "data" not in entry:
            raise ProtocolError("records", "needs endpoint, recordId and data", index=i)
        out.append(Record(ep, rid, entry["data"]))
    return out


# -- data bundles ------------------------------------------------------------------------


def _filter(value: object, i: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError("filters", "is not an object", kind="type", index=i)
    if not isinstance(value.get("field"), str) or not value["field"]:
        raise ProtocolError("filters", "needs a 'field'", kind="missing", index=i)
    op = value.get("operator")
    if not isinstance(op, dict) or op.get("operator") not in OPERATORS:
        raise ProtocolError(
            "filters", f"operator must be one of {sorted(OPERATORS)}", kind="format", index=i
        )
    kind = op["operator"]
    needs = {"in": ("value",), "contains": ("value",), "between": ("lower", "upper")}.get(
        kind, ("search",)
    )
    for name in needs:
        if name not in op:
            raise ProtocolError("filters", f"{kind} needs '{name}'", kind="missing", index=i)
    if kind == "find" and not isinstance(op["search"], str):
        raise ProtocolError("filters", "find's search must be a string", kind="type", index=i)
    tr = value.get("transformation")
    if tr is not None:
        if not isinstance(tr, dict) or tr.get("transformation") not in TRANSFORMATIONS:
            raise ProtocolError(
                "filters",
                f"transformation must be one of {sorted(TRANSFORMATIONS)}",
                kind="format",
                index=i,
            )
        if tr["transformation"] in ("datetimeExtract", "timestampExtract") and (
            tr.get("part") not in _DATE_PARTS
        ):
            raise ProtocolError(
                "filters", f"part must be one of {sorted(_DATE_PARTS)}", kind="format", index=i
            )
    return value


def endpoint_query(value: object, index: int | None = None) -> dict[str, Any]:
    """A checked endpoint query ``{endpoint, mapping?, filters?, links?}``."""
    if not isinstance(value, dict):
        raise ProtocolError("endpoints", "is not an object", kind="type", index=index)
    split_endpoint(value.get("endpoint"))
    mapping = value.get("mapping")
    if mapping is not None and (
        not isinstance(mapping, dict)
        or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in mapping.items())
    ):
        raise ProtocolError("mapping", "must map names to dot paths", kind="type", index=index)
    filters = value.get("filters")
    if filters is not None:
        if not isinstance(filters, list):
            raise ProtocolError("filters", "must be a list", kind="type", index=index)
        for i, f in enumerate(filters):
            _filter(f, i)
    links = value.get("links")
    if links is not None:
        if not isinstance(links, list):
            raise ProtocolError("links", "must be a list", kind="type", index=index)
        for i, link in enumerate(links):
            endpoint_query(link, i)
    return value


def bundle(value: object) -> dict[str, dict[str, Any]]:
    """A checked data bundle ``{property: {endpoints, orderBy?, ordering?, limit?}}``."""
    if not isinstance(value, dict) or not value:
        raise ProtocolError("bundle", "must be a non-empty object", kind="type")
    for prop, spec in value.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("endpoints"), list):
            raise ProtocolError("bundle", f"property {prop!r:.40} needs a list 'endpoints'")
        if not spec["endpoints"]:
            raise ProtocolError("bundle", f"property {prop!r:.40} has no endpoints", kind="empty")
        for i, q in enumerate(spec["endpoints"]):
            endpoint_query(q, i)
        if "orderBy" in spec and not isinstance(spec["orderBy"], str):
            raise ProtocolError("orderBy", "must be a dot path", kind="type")
        if spec.get("ordering", "ascending") not in ("ascending", "descending"):
            raise ProtocolError("ordering", "must be 'ascending' or 'descending'")
        limit = spec.get("limit")
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise ProtocolError("limit", "must be a non-negative int", kind="type")
    return value


_MISSING = object()


def field_value(data: Any, path: str) -> Any:
    """The value at dot ``path`` of ``data`` (``_MISSING`` sentinel when absent: use
    :func:`has_field`)."""
    current = data
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def has_field(data: Any, path: str) -> bool:
    return field_value(data, path) is not _MISSING


def map_record(data: Any, mapping: Mapping[str, str] | None) -> Any:
    """``data`` through a bundle's ``mapping`` (``{out: dot path}``; absent paths are left
    out); no mapping gives the data whole."""
    if mapping is None:
        return data
    out = {}
    for name, path in mapping.items():
        value = field_value(data, path)
        if value is not _MISSING:
            out[name] = value
    return out


def _date_part(moment: _dt.datetime, part: str) -> float:
    if part == "epoch":
        return moment.timestamp()
    if part == "dow":
        return (moment.weekday() + 1) % 7  # Sunday 0, as Postgres
    if part == "doy":
        return moment.timetuple().tm_yday
    if part == "week":
        return moment.isocalendar()[1]
    return float(getattr(moment, part))


def _transform(value: Any, tr: Mapping[str, Any] | None) -> Any:
    kind = None if tr is None else tr.get("transformation")
    if kind in (None, "identity"):
        return value
    if kind == "searchable":
        return value if isinstance(value, str) else json.dumps(value)
    try:
        if kind == "timestampExtract":  # a UNIX timestamp in seconds, as Postgres to_timestamp
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return _MISSING
            moment = _dt.datetime.fromtimestamp(value, _dt.timezone.utc)
        else:
            if not isinstance(value, str):
                return _MISSING
            moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=_dt.timezone.utc)
    except (ValueError, OverflowError, OSError):
        return _MISSING
    return _date_part(moment, tr["part"])  # type: ignore[index]


def _less_or_equal(a: Any, b: Any) -> bool:
    try:
        return bool(a <= b)
    except TypeError:
        return False


def _passes(data: Any, flt: Mapping[str, Any]) -> bool:
    value = _transform(field_value(data, flt["field"]), flt.get("transformation"))
    if value is _MISSING:
        return False
    op = flt["operator"]
    kind = op["operator"]
    if kind == "in":
        wanted = op["value"]
        if isinstance(wanted, list):
            return value in wanted
        return value == wanted or (isinstance(value, list) and wanted in value)
    if kind == "contains":
        wanted = op["value"]
        if isinstance(value, list):
            return wanted in value or (isinstance(wanted, list) and all(w in value for w in wanted))
        if isinstance(value, str) and isinstance(wanted, str):
            return wanted in value
        if isinstance(value, dict) and isinstance(wanted, dict):
            return all(value.get(k) == v for k, v in wanted.items())
        return value == wanted
    if kind == "between":
        return _less_or_equal(op["lower"], value) and _less_or_equal(value, op["upper"])
    text = value if isinstance(value, str) else json.dumps(value)
    words = op["search"].lower().split()
    return all(w in text.lower() for w in words)


def matches(data: Any, filters: Iterable[Mapping[str, Any]] | None) -> bool:
    """Whether ``data`` passes every filter (they combine with AND)."""
    return all(_passes(data, f) for f in filters or ())


def _order_key(path: str) -> Callable[[Record], tuple[int, Any]]:
    def key(record: Record) -> tuple[int, Any]:
        value = field_value(record.data, path)
        if value is _MISSING or value is None:
            return (2, 0)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return (0, value)
        return (1, str(value))

    return key


def order_records(records_: list[Record], order_by: str | None, ordering: str) -> list[Record]:
    """``records_`` sorted by the value at ``order_by`` (stable; missing values last)."""
    if not order_by:
        return list(reversed(records_)) if ordering == "descending" else list(records_)
    ordered = sorted(records_, key=_order_key(order_by))
    if ordering == "descending":
        present = [r for r in ordered if _order_key(order_by)(r)[0] < 2]
        absent = [r for r in ordered if _order_key(order_by)(r)[0] == 2]
        ordered = list(reversed(present)) + absent
    return ordered


def evaluate_bundle(
    spec: Mapping[str, Mapping[str, Any]], read: Callable[[str], list[Record]]
) -> dict[str, list[dict[str, Any]]]:
    """Answer a (checked) bundle: for each property, the records of its endpoints
    (``read("namespace/endpoint")`` gives them in storage order) that pass the
    filters, ordered and limited, each ``{endpoint, recordId, data}`` with its data
    mapped."""
    out: dict[str, list[dict[str, Any]]] = {}
    for prop, entry in spec.items():
        found: list[tuple[Record, Mapping[str, str] | None]] = []
        for query in entry["endpoints"]:
            for record in read(query["endpoint"]):
                if matches(record.data, query.get("filters")):
                    found.append((record, query.get("mapping")))
        order_by = entry.get("orderBy")
        ordering = entry.get("ordering", "ascending")
        records_ = order_records([r for r, _ in found], order_by, ordering)
        maps = {id(r): m for r, m in found}
        limit = entry.get("limit")
        if isinstance(limit, int) and not isinstance(limit, bool):
            records_ = records_[:limit]
        out[prop] = [
            Record(r.endpoint, r.record_id, map_record(r.data, maps[id(r)])).to_json()
            for r in records_
        ]
    return out


# -- data debits -------------------------------------------------------------------------


def debit_request_v2(
    bundle_name: object, spec: object, *, start_ms: int, end_ms: int, rolling: bool = False
) -> dict[str, Any]:
    """The v2 data debit request ``{bundle: {name, bundle}, startDate, endDate, rolling}``
    (dates as ISO 8601 strings, as the HAT's v2 API takes them)."""
    if not isinstance(bundle_name, str) or not bundle_name:
        raise ProtocolError("name", "must be a non-empty string", kind="type")
    return {
        "bundle": {"name": bundle_name, "bundle": bundle(spec)},
        "startDate": iso_time(start_ms),
        "endDate": iso_time(end_ms),
        "rolling": bool(rolling),
    }


def debit_request(
    key: object,
    spec: object,
    *,
    purpose: str,
    start_ms: int,
    period_s: int,
    client_name: str,
    client_url: str,
    terms_url: str,
    conditions: object = None,
    cancel_at_period_end: bool = True,
    logo_url: str = "",
    description: str | None = None,
    application_id: str | None = None,
) -> dict[str, Any]:
    """The v2.6 data debit request; ``spec`` is a data bundle (its ``name`` is ``key``),
    ``conditions`` an optional bundle whose every property must give a record for the
    debit to give data; ``period_s`` seconds from ``start_ms``."""
    if not isinstance(key, str) or not key:
        raise ProtocolError("dataDebitKey", "must be a non-empty string", kind="type")
    if isinstance(period_s, bool) or not isinstance(period_s, int) or period_s <= 0:
        raise ProtocolError("period", "must be a positive int (seconds)", kind="type")
    body: dict[str, Any] = {
        "dataDebitKey": key,
        "purpose": purpose,
        "start": iso_time(start_ms),
        "period": period_s,
        "cancelAtPeriodEnd": bool(cancel_at_period_end),
        "requestClientName": client_name,
        "requestClientUrl": client_url,
        "requestClientLogoUrl": logo_url,
        "termsUrl": terms_url,
        "bundle": {"name": key, "bundle": bundle(spec)},
    }
    if conditions is not None:
        body["conditions"] = {"name": f"{key}-conditions", "bundle": bundle(conditions)}
    if description is not None:
        body["requestDescription"] = description
    if application_id is not None:
        body["requestApplicationId"] = application_id
    return body


def iso_time(ms: object) -> str:
    """An ISO 8601 UTC time (``2026-12-02T15:00:00.000Z``) of ``ms``."""
    if isinstance(ms, bool) or not isinstance(ms, int) or ms < 0:
        raise ProtocolError("time", "must be a non-negative int (ms)", kind="type")
    moment = _dt.datetime.fromtimestamp(ms / 1000, _dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_time(value: object, name: str) -> int:
    """Milliseconds of an ISO 8601 time or of a number of ms."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return int(value)
    if isinstance(value, str):
        try:
            moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=_dt.timezone.utc)
            return round(moment.timestamp() * 1000)
    raise ProtocolError(name, "must be an ISO 8601 time or ms", kind="format")


@dataclass(frozen=True)
class DataDebit:
    """A data debit as the HAT describes it: ``key``, whether it is ``enabled`` and
    ``active`` (enabled and within its dates), its dates (ms) and bundle name."""

    key: str
    enabled: bool
    active: bool
    start_ms: int | None
    end_ms: int | None
    bundle_name: str | None
    bundle: Mapping[str, Any] = field(default_factory=dict, repr=False)
    client_name: str | None = None
    purpose: str | None = None


def data_debit(data: object) -> DataDebit:
    """A data debit answer (v2.6 ``{dataDebitKey, permissions: [...]}``, or v2
    ``{dataDebitKey, bundles: [...]}``): its latest permissions or bundle."""
    if not isinstance(data, dict) or not isinstance(data.get("dataDebitKey"), str):
        raise ProtocolError("dataDebitKey", "is missing from the answer", kind="missing")
    entries = data.get("permissions", data.get("bundles"))
    latest = entries[0] if isinstance(entries, list) and entries else {}
    if not isinstance(latest, dict):
        raise ProtocolError("permissions", "is not an object", kind="type")
    spec = latest.get("bundle") if isinstance(latest.get("bundle"), dict) else {}
    start = latest.get("start", latest.get("startDate"))
    end = latest.get("end", latest.get("endDate"))
    return DataDebit(
        key=data["dataDebitKey"],
        enabled=bool(latest.get("enabled", False)),
        active=bool(data.get("active", latest.get("active", False))),
        start_ms=None if start is None else parse_time(start, "start"),
        end_ms=None if end is None else parse_time(end, "end"),
        bundle_name=spec.get("name") if isinstance(spec.get("name"), str) else None,
        bundle=spec.get("bundle") if isinstance(spec.get("bundle"), dict) else {},
        client_name=data.get("requestClientName"),
        purpose=latest.get("purpose"),
    )


def debit_values(data: object) -> tuple[dict[str, bool] | None, dict[str, list[Any]]]:
    """``(conditions, bundle)`` of a values answer: v2.6 ``{conditions?, bundle}`` or v2
    ``{property: [records]}`` (no conditions)."""
    if not isinstance(data, dict):
        raise ProtocolError("values", "expected an object", kind="type")
    if (
        "bundle" in data
        and isinstance(data["bundle"], dict)
        and all(k in ("bundle", "conditions") for k in data)
    ):
        conditions = data.get("conditions")
        if conditions is not None and not isinstance(conditions, dict):
            raise ProtocolError("conditions", "expected an object", kind="type")
        spec = data["bundle"]
    else:
        conditions, spec = None, data
    for prop, entries in spec.items():
        if not isinstance(entries, list):
            raise ProtocolError("bundle", f"property {prop!r:.40} is not a list", kind="type")
    return conditions, spec
