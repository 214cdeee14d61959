"""The publisher's configuration: the marketplace template's ``config.json``, extended.

The template's keys stay valid (``sensorId``, ``secretKey``, ``debug``,
``provider``, ``endpoint``, ``serverUrl``); every key this package adds is
optional with a default:

========================  ==========================================================
``mode``                  MAM mode: ``restricted`` (default), ``private``, ``public``
``security``              MAM security level 1-3 (default 2)
``depth``                 tip selection depth (default 3)
``mwm``                   minWeightMagnitude (default 9; 14 was the old mainnet value)
``pow``                   ``local`` (default: this machine) or ``remote`` (the node)
``powThreads``            threads for local proof of work (default: every core)
``tag``                   transaction tag (default ``SENSORDATA``)
``stateDir``              where the channel state and outbox live (see below)
``sideKey``               ``per-packet`` (default, as the template) or ``fixed``
``outboxLimit``           readings kept while the network is down (default 10000)
``timeout``               seconds per HTTP request (default 30)
``interval``              seconds between readings (default 60)
``sensors``               the sensors to read: ``[{"name", "driver", "options", "interval"}]``
``fields``                how readings become the device's fields (see :mod:`.payload`)
``dataTypes``             the device's declared fields, to check ``fields`` against
========================  ==========================================================

A sensor entry names its driver (``iota_publisher.drivers.available()``);
``name`` defaults to the driver's name, ``options`` are the driver's keyword
options, ``interval`` overrides the global one. The driver class prepares its
options (``Driver.prepare_options``): relative file paths are taken from the
config file's folder, except files the driver writes, which go to the state
directory (writable under systemd).

``stateDir`` defaults to ``$STATE_DIRECTORY`` (set by systemd's
``StateDirectory=``) or else ``state/`` beside the config file; a relative
path is taken relative to the config file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .device import validate_data_types
from .errors import ConfigError
from .trinary._codec import is_trytes

__all__ = ["Config", "SensorConfig", "load_config", "redact"]

SECRET_KEYS = frozenset(
    {
        "secretKey",
        "seed",
        "sk",
        "apiKey",
        "sideKey",
        "client_secret",
        "refresh_token",
        "access_token",
        "password",
        "token",
        "headers",
        "Authorization",
    }
)
_MODES = ("public", "private", "restricted")


@dataclass(frozen=True)
class Config:
    """A validated configuration (build it with :func:`load_config` or :meth:`from_mapping`)."""

    sensor_id: str
    secret_key: str = field(repr=False)
    debug: bool = True
    provider: str | None = None
    endpoint: str | None = None
    server_url: str | None = None
    mode: str = "restricted"
    security: int = 2
    depth: int = 3
    mwm: int = 9
    pow: str = "local"
    pow_threads: int | None = None
    tag: str = "SENSORDATA"
    state_dir: Path = Path("state")
    side_key_policy: str = "per-packet"
    outbox_limit: int = 10_000
    timeout: float = 30.0
    interval: float = 60.0
    sensors: tuple[SensorConfig, ...] = ()
    fields: Any = None  # a payload.FieldMap, or None when no sensors are configured

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], *, base_dir: Path | None = None) -> Config:
        """Validate a parsed ``config.json``; errors name the offending key."""
        if not isinstance(raw, Mapping):
            raise ConfigError("the configuration must be a JSON object", field=None)
        base = base_dir or Path.cwd()
        get = _Getter(raw)
        debug = get.boolean("debug", True)
        sensor_id = get.string("sensorId", required=True)
        secret_key = get.string("secretKey", required=True, secret=True)
        provider = get.url("provider", required=not debug)
        endpoint = get.url("endpoint", required=not debug)
        server_url = get.url("serverUrl")
        mode = get.choice("mode", _MODES, "restricted")
        security = get.integer("security", 2, 1, 3)
        depth = get.integer("depth", 3, 1, 15)
        mwm = get.integer("mwm", 9, 1, 243)
        pow_mode = get.choice("pow", ("local", "remote"), "local")
        threads = get.integer("powThreads", None, 1, 1024)
        tag = get.string("tag", default="SENSORDATA")
        if not is_trytes(tag) or len(tag) > 27:
            raise ConfigError("tag must be at most 27 trytes (9 and A-Z)", field="tag")
        state = get.string("stateDir")
        if state is None:
            state_dir = Path(os.environ.get("STATE_DIRECTORY") or base / "state")
        else:
            state_dir = Path(state) if Path(state).is_absolute() else base / state
        policy = get.choice("sideKey", ("per-packet", "fixed"), "per-packet")
        if policy == "fixed" and mode != "restricted":
            raise ConfigError("sideKey 'fixed' needs mode 'restricted'", field="sideKey")
        limit = get.integer("outboxLimit", 10_000, 1, 10**9)
        timeout = get.number("timeout", 30.0, 0.1, 3600.0)
        interval = get.number("interval", 60.0, 1.0, 86_400.0)
        sensors = _sensors(raw.get("sensors"), interval, base, state_dir)
        data_types = raw.get("dataTypes")
        if data_types is not None:  # the marketplace's rules, errors naming dataTypes[i].key
            validate_data_types(data_types, error=ConfigError)
        fields = None
        if raw.get("fields") is not None or sensors:
            from .payload import FieldMap

            fields = FieldMap.from_config(raw.get("fields"), data_types)
            names = {s.name for s in sensors}
            for i, rule in enumerate(fields.rules):
                if rule.sensor is not None and rule.sensor not in names:
                    raise ConfigError(
                        f"fields[{i}].sensor {rule.sensor!r} is not a configured sensor "
                        f"({', '.join(sorted(names)) or 'none'})",
                        field=f"fields[{i}].sensor",
                    )
        return cls(
            sensor_id=sensor_id,
            secret_key=secret_key,
            debug=debug,
            provider=provider,
            endpoint=endpoint,
            server_url=server_url,
            mode=mode,
            security=security,
            depth=depth,
            mwm=mwm,
            pow=pow_mode,
            pow_threads=threads,
            tag=tag,
            state_dir=state_dir,
            side_key_policy=policy,
            outbox_limit=limit,
            timeout=timeout,
            interval=interval,
            sensors=sensors,
            fields=fields,
        )

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with every secret masked (safe to log or print)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["secret_key"] = "***"
        out["state_dir"] = str(self.state_dir)
        out["sensors"] = [
            {
                "name": s.name,
                "driver": s.driver,
                "options": redact(s.options),
                "interval": s.interval,
            }
            for s in self.sensors
        ]
        out["fields"] = [r.__dict__ for r in self.fields.rules] if self.fields else None
        return out


@dataclass(frozen=True)
class SensorConfig:
    """One sensor to read: a driver name, its options, and how often."""

    name: str
    driver: str
    options: dict[str, Any] = field(default_factory=dict, compare=False)
    interval: float = 60.0


def _sensors(
    entries: object, default_interval: float, base: Path, state_dir: Path
) -> tuple[SensorConfig, ...]:
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise ConfigError("'sensors' must be a list of sensor objects", field="sensors")
    from .drivers import DriverContext, available, driver_class

    known = available()
    context = DriverContext(config_dir=base, state_dir=state_dir)
    out: list[SensorConfig] = []
    for i, entry in enumerate(entries):
        path = f"sensors[{i}]"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{path} must be an object", field=path)
        unknown = set(entry) - {"name", "driver", "options", "interval"}
        if unknown:
            raise ConfigError(f"{path} has unknown keys {sorted(unknown)}", field=path)
        driver = entry.get("driver")
        if driver not in known:
            raise ConfigError(
                f"{path}.driver must be one of {', '.join(known)}, not {driver!r}",
                field=f"{path}.driver",
            )
        name = entry.get("name", driver)
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{path}.name must be a non-empty string", field=f"{path}.name")
        if any(s.name == name for s in out):
            raise ConfigError(f"{path}.name {name!r} is used twice", field=f"{path}.name")
        options = entry.get("options", {})
        if not isinstance(options, Mapping):
            raise ConfigError(f"{path}.options must be an object", field=f"{path}.options")
        interval = _Getter(entry).number("interval", default_interval, 1.0, 86_400.0)
        options = driver_class(driver).prepare_options(options, context)
        out.append(SensorConfig(name, driver, options, interval))
    return tuple(out)


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a ``config.json``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {p}: {exc.strerror or exc}", field=None
        ) from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"config file {p} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            field=None,
        ) from exc
    return Config.from_mapping(raw, base_dir=p.resolve().parent)


def redact(value: Any) -> Any:
    """A copy of a JSON-like value with secret keys masked, for logs and debug output."""
    if isinstance(value, Mapping):
        return {k: ("***" if k in SECRET_KEYS else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


class _Getter:
    """Typed access to config keys with errors that name the key."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw

    def _value(self, key: str, required: bool) -> Any:
        value = self.raw.get(key)
        if value is None and required:
            raise ConfigError(f"config key {key!r} is required", field=key)
        return value

    def string(
        self, key: str, *, required: bool = False, default: str | None = None, secret: bool = False
    ) -> Any:
        value = self._value(key, required)
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip():
            what = "a non-empty string" if secret else f"a non-empty string, not {value!r}"
            raise ConfigError(f"config key {key!r} must be {what}", field=key)
        return value.strip()

    def url(self, key: str, *, required: bool = False) -> str | None:
        value = self.string(key, required=required)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"config key {key!r} must be an http(s) URL, not {value!r}", field=key
            )
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._value(key, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ConfigError(f"config key {key!r} must be true or false, not {value!r}", field=key)
        return value

    def integer(self, key: str, default: int | None, low: int, high: int) -> Any:
        value = self._value(key, False)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ConfigError(
                f"config key {key!r} must be an integer from {low} to {high}, not {value!r}",
                field=key,
            )
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self._value(key, False)
        if value is None:
            return default
        if (
            not isinstance(value, (int, float))
            or isinstance(value, bool)
            or not math.isfinite(value)
            or not low <= value <= high
        ):
            raise ConfigError(
                f"config key {key!r} must be a number from {low} to {high}, not {value!r}",
                field=key,
            )
        return float(value)

    def choice(self, key: str, options: tuple[str, ...], default: str) -> str:
        value = self._value(key, False)
        if value is None:
            return default
        if value not in options:
            raise ConfigError(
                f"config key {key!r} must be one of {', '.join(options)}, not {value!r}", field=key
            )
        return value
