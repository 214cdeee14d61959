"""The publisher's configuration: the marketplace template's ``config.json``, extended.

The template's keys stay valid (``sensorId``, ``secretKey``, ``debug``,
``provider``, ``endpoint``, ``serverUrl``); every key this package adds is
optional with a default:

========================  ==========================================================
``mode``                  MAM mode: ``restricted`` (default), ``private``, ``public``
``security``              MAM security level 1-3 (default 2)
``depth``                 tip selection depth (default 3)
``mwm``                   minWeightMagnitude 1-27 (default 9; 14 was the old mainnet value)
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

Every key is checked: an unknown key (at the top level, in a sensor entry, in
a field mapping or in a driver's ``options``) is an error naming it, with a
"did you mean" when it looks like a known one (``intervall``); keys starting
with ``_`` are comments and ignored. A sensor's options are checked against
its driver's declarations (``Driver.OPTIONS``), a field's ``reading`` and
``unit`` against the readings the driver declares (``Driver.READINGS``).
Every problem is a :class:`~iota_publisher.errors.ConfigError` whose
``field`` names the key (``sensors[1].options.adress``); messages never
show a secret value. :func:`find_problems` collects all of them at once
(``iota-publish check``), :func:`load_config` raises the first.

``stateDir`` defaults to ``$STATE_DIRECTORY`` (set by systemd's
``StateDirectory=``) or else ``state/`` beside the config file; a relative
path is taken relative to the config file.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ._text import did_you_mean
from .device import validate_data_types
from .errors import ConfigError, InvalidInputError
from .trinary import is_trytes

__all__ = ["Config", "SensorConfig", "find_problems", "load_config", "redact"]

#: every top-level key a config may hold
TOP_LEVEL_KEYS = (
    "sensorId",
    "secretKey",
    "debug",
    "provider",
    "endpoint",
    "serverUrl",
    "mode",
    "security",
    "depth",
    "mwm",
    "pow",
    "powThreads",
    "tag",
    "stateDir",
    "sideKey",
    "outboxLimit",
    "timeout",
    "interval",
    "sensors",
    "fields",
    "dataTypes",
)
SENSOR_KEYS = ("name", "driver", "options", "interval")
#: the highest minWeightMagnitude an IRI network asks for (mainnet 14, devnet 9):
#: a hash has 81 trits, and proof of work beyond 27 trailing zeros would not end
MAX_MWM = 27

Report = Callable[[ConfigError], None]


def _raise(problem: ConfigError) -> None:
    raise problem


def unknown_keys(entry: Mapping[str, Any], allowed: Any, path: str | None, report: Report) -> None:
    """Report every key of ``entry`` not in ``allowed`` (``_comment`` keys are fine)."""
    for key in entry:
        if key in allowed or (isinstance(key, str) and key.startswith("_")):
            continue
        where = f"{path}.{key}" if path else str(key)
        report(
            ConfigError(f"unknown config key {where!r}{did_you_mean(key, allowed)}", field=where)
        )


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
    def from_mapping(
        cls,
        raw: Mapping[str, Any],
        *,
        base_dir: Path | None = None,
        problems: list[ConfigError] | None = None,
    ) -> Config:
        """Validate a parsed ``config.json``; errors name the offending key.

        Raises the first :class:`ConfigError`; with a ``problems`` list,
        appends every problem to it instead and goes on with defaults (the
        result is then meaningful only when ``problems`` stays empty).
        """
        if not isinstance(raw, Mapping):
            raise ConfigError("the configuration must be a JSON object", field=None)
        report: Report = _raise if problems is None else problems.append
        base = base_dir or Path.cwd()
        unknown_keys(raw, TOP_LEVEL_KEYS, None, report)
        get = _Getter(raw, report)
        debug = get.boolean("debug", True)
        sensor_id = get.string("sensorId", required=True)
        secret_key = get.string("secretKey", required=True, secret=True)
        provider = get.url("provider", required=not debug)
        endpoint = get.url("endpoint", required=not debug)
        if endpoint is not None and not urlsplit(endpoint).path.endswith("/newData"):
            report(
                ConfigError(
                    "config key 'endpoint' must be the marketplace's newData URL "
                    "(ending in /newData)",
                    field="endpoint",
                )
            )
        server_url = get.url("serverUrl")
        mode = get.choice("mode", _MODES, "restricted")
        security = get.integer("security", 2, 1, 3)
        depth = get.integer("depth", 3, 1, 15)
        mwm = get.integer("mwm", 9, 1, MAX_MWM)
        pow_mode = get.choice("pow", ("local", "remote"), "local")
        threads = get.integer("powThreads", None, 1, 1024)
        tag = get.string("tag", default="SENSORDATA")
        if not is_trytes(tag) or len(tag) > 27:
            report(ConfigError("tag must be at most 27 trytes (9 and A-Z)", field="tag"))
            tag = "SENSORDATA"
        state = get.string("stateDir")
        if state is None:
            state_dir = Path(os.environ.get("STATE_DIRECTORY") or base / "state")
        else:
            state_dir = Path(state) if Path(state).is_absolute() else base / state
        policy = get.choice("sideKey", ("per-packet", "fixed"), "per-packet", secret=True)
        if policy == "fixed" and mode != "restricted":
            report(ConfigError("sideKey 'fixed' needs mode 'restricted'", field="sideKey"))
        limit = get.integer("outboxLimit", 10_000, 1, 10**9)
        timeout = get.number("timeout", 30.0, 0.1, 3600.0)
        interval = get.number("interval", 60.0, 1.0, 86_400.0)
        sensors = _sensors(raw.get("sensors"), interval, base, state_dir, report)
        data_types = raw.get("dataTypes")
        if data_types is not None:  # the marketplace's rules, errors naming dataTypes[i].key
            try:
                validate_data_types(data_types, error=ConfigError)
            except ConfigError as exc:
                report(exc)
                data_types = None  # reported once; the fields are checked without it
        fields = None
        if raw.get("fields") is not None or sensors:
            from .payload import FieldMap

            try:
                fields = FieldMap.from_config(
                    raw.get("fields"),
                    data_types,
                    report=None if problems is None else report,
                )
            except ConfigError as exc:
                report(exc)
        if fields is not None:
            _check_fields(fields, sensors, report, loading=problems is None)
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
    entries: object,
    default_interval: float,
    base: Path,
    state_dir: Path,
    report: Report = _raise,
) -> tuple[SensorConfig, ...]:
    if entries is None:
        return ()
    if not isinstance(entries, list):
        report(ConfigError("'sensors' must be a list of sensor objects", field="sensors"))
        return ()
    from .drivers import DriverContext, available, driver_class

    known = available()
    context = DriverContext(config_dir=base, state_dir=state_dir)
    out: list[SensorConfig] = []
    for i, entry in enumerate(entries):
        path = f"sensors[{i}]"
        if not isinstance(entry, Mapping):
            report(ConfigError(f"{path} must be an object", field=path))
            continue
        unknown_keys(entry, SENSOR_KEYS, path, report)
        driver = entry.get("driver")
        if not isinstance(driver, str) or driver not in known:
            shown = "missing" if driver is None else f"not {driver!r}"
            report(
                ConfigError(
                    f"{path}.driver must be one of {', '.join(known)}, {shown}"
                    f"{did_you_mean(driver, known) if isinstance(driver, str) else ''}",
                    field=f"{path}.driver",
                )
            )
            continue
        name = entry.get("name", driver)
        if not isinstance(name, str) or not name:
            report(ConfigError(f"{path}.name must be a non-empty string", field=f"{path}.name"))
            continue
        if any(s.name == name for s in out):
            report(ConfigError(f"{path}.name {name!r} is used twice", field=f"{path}.name"))
            continue
        options = entry.get("options", {})
        if not isinstance(options, Mapping):
            report(ConfigError(f"{path}.options must be an object", field=f"{path}.options"))
            continue
        interval = _Getter(entry, report, path).number("interval", default_interval, 1.0, 86_400.0)
        cls = driver_class(driver)
        for problem in cls.option_problems(options, f"{path}.options"):
            report(problem)
        options = cls.prepare_options(options, context)
        out.append(SensorConfig(name, driver, options, interval))
    return tuple(out)


def _check_fields(
    fields: Any, sensors: tuple[SensorConfig, ...], report: Report, *, loading: bool = True
) -> None:
    """Each field's sensor exists, its reading is one the sensor yields (when
    the driver says), and its unit applies to the reading's."""
    from .drivers import driver_class
    from .payload import unit_problem

    by_name = {s.name: s for s in sensors}
    declared = {s.name: driver_class(s.driver).declared_readings(s.options) for s in sensors}
    for i, rule in enumerate(fields.rules):
        path = fields.paths[i]
        if rule.sensor is not None:
            if rule.sensor not in by_name:
                report(
                    ConfigError(
                        f"{path}.sensor {rule.sensor!r} is not a configured sensor "
                        f"({', '.join(sorted(by_name)) or 'none'})"
                        f"{did_you_mean(rule.sensor, by_name)}",
                        field=f"{path}.sensor",
                    )
                )
                continue
            candidates = [rule.sensor]
        else:
            candidates = list(by_name)
        sets = {name: declared[name] for name in candidates}
        if any(s is None for s in sets.values()):
            continue  # a driver that declares nothing: cannot tell
        found = [(name, s.find(rule.reading)) for name, s in sets.items() if s is not None]
        found = [(name, spec) for name, spec in found if spec is not None]
        if not found:
            if any(s.open for s in sets.values() if s is not None):
                continue  # the source decides its names
            known = sorted({n for s in sets.values() if s is not None for n in s.names})
            if rule.sensor is None:
                what = "no configured sensor yields it"
            else:
                what = f"sensor {rule.sensor!r} ({by_name[rule.sensor].driver}) does not yield it"
            report(
                ConfigError(
                    f"{path}.reading {rule.reading!r}: {what} (readings: "
                    f"{', '.join(known) or 'none'}){did_you_mean(rule.reading, known)}",
                    field=f"{path}.reading",
                )
            )
            continue
        if len(found) > 1 and not loading:
            # at run time the field would be left out every window; reported by `check`
            report(
                ConfigError(
                    f"{path}.sensor is needed: the reading {rule.reading!r} comes from "
                    f"several sensors ({', '.join(name for name, _ in found)})",
                    field=f"{path}.sensor",
                )
            )
            continue
        if rule.unit is None:
            continue
        for _name, spec in found:
            problem = unit_problem(spec.unit, rule.unit, explicit=rule.unit_given)
            if problem:
                report(
                    ConfigError(
                        f"{path}.unit {rule.unit!r} does not apply to reading "
                        f"{rule.reading!r}: {problem}",
                        field=f"{path}.unit",
                    )
                )
                break


def read_config_file(path: str | os.PathLike[str]) -> Any:
    """The parsed JSON of a config file; a :class:`ConfigError` naming the
    file when it cannot be read, is not UTF-8, or is not (sane) JSON."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {p}: {exc.strerror or exc}", field=None
        ) from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"config file {p} is not UTF-8 text (line {line}, byte {exc.start + 1})", field=None
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"config file {p} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            field=None,
        ) from exc
    except RecursionError:
        raise ConfigError(f"config file {p} is nested too deeply", field=None) from None


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a ``config.json``.

    Every failure is a :class:`ConfigError` (a reload after SIGHUP relies on
    it): one naming the key, or the file when it cannot be read or parsed.
    """
    p = Path(path)
    raw = read_config_file(p)
    return _guarded(p, lambda: Config.from_mapping(raw, base_dir=p.resolve().parent))


def find_problems(path: str | os.PathLike[str]) -> tuple[Config | None, list[ConfigError]]:
    """Every problem of the config file at ``path``, for ``iota-publish check``.

    Beyond what :func:`load_config` checks (collected here, not only the
    first): the config lists sensors (``run`` needs them), each sensor's
    driver accepts its options (the driver is built, nothing is opened or
    read), and the state directory can be written (created if missing).
    Returns the config (``None`` when it does not load) and the problems.
    """
    p = Path(path)
    try:
        raw = read_config_file(p)
    except ConfigError as exc:
        return None, [exc]
    problems: list[ConfigError] = []
    try:
        config = _guarded(
            p, lambda: Config.from_mapping(raw, base_dir=p.resolve().parent, problems=problems)
        )
    except ConfigError as exc:
        return None, _unique([*problems, exc])
    if isinstance(raw, Mapping) and not raw.get("sensors"):
        problems.append(
            ConfigError(
                "the config lists no 'sensors' to read (iota-publish run needs at least one)",
                field="sensors",
            )
        )
    known = {str(problem.field) for problem in problems}
    for i, sensor in enumerate(config.sensors):
        path_ = f"sensors[{i}]"
        if any(k.startswith(path_) for k in known):
            continue
        problem = _driver_problem(sensor, f"{path_}.options")
        if problem is not None:
            problems.append(problem)
    if not any(str(problem.field) == "stateDir" for problem in problems):
        problem = _state_dir_problem(config.state_dir)
        if problem is not None:
            problems.append(problem)
    return (None if problems else config), _unique(problems)


def _unique(problems: list[ConfigError]) -> list[ConfigError]:
    seen: set[str] = set()
    out = []
    for problem in problems:
        if str(problem) not in seen:
            seen.add(str(problem))
            out.append(problem)
    return out


def _guarded(path: Path, build: Callable[[], Config]) -> Config:
    """``build()``, with any failure that is not a ConfigError made one naming the file."""
    try:
        return build()
    except ConfigError:
        raise
    except InvalidInputError as exc:  # a rule shared with the marketplace (dataTypes)
        raise ConfigError(str(exc), field=exc.field) from exc
    except RecursionError:
        raise ConfigError(f"config file {path} is nested too deeply", field=None) from None
    except Exception as exc:  # a reload must never crash the daemon
        # the message of an unexpected error may hold a value: show its type only
        raise ConfigError(
            f"config file {path} could not be validated ({type(exc).__name__})", field=None
        ) from exc


def _driver_problem(sensor: SensorConfig, where: str) -> ConfigError | None:
    """Build the sensor's driver (nothing is opened or read) to find the option
    errors its constructor finds (a file that does not exist, a bad address)."""
    from .drivers import create_driver

    try:
        driver = create_driver(sensor.driver, sensor.options)
    except ConfigError as exc:
        base = where.rpartition(".")[0]  # sensors[i]
        if exc.field == "driver":  # the driver's library is not installed
            key = f"{base}.driver"
        elif exc.field and exc.field != "options":
            key = f"{where}.{exc.field}"
        else:
            key = where
        return ConfigError(f"{key}: {exc}", field=key)
    except Exception as exc:  # noqa: BLE001 - a driver that cannot even be built
        return ConfigError(
            f"{where}: driver {sensor.driver!r} cannot be set up ({type(exc).__name__})",
            field=where,
        )
    try:
        driver.close()
    except Exception:  # noqa: BLE001,S110 - closing a driver that opened nothing
        pass
    return None


def _state_dir_problem(state_dir: Path) -> ConfigError | None:
    """A ConfigError when the state directory cannot be created or written."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        probe = state_dir / f".check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return ConfigError(
            f"stateDir {str(state_dir)!r} is not a writable folder: {exc.strerror or exc}",
            field="stateDir",
        )
    return None


def redact(value: Any) -> Any:
    """A copy of a JSON-like value with secret keys masked, for logs and debug output."""
    if isinstance(value, Mapping):
        return {k: ("***" if k in SECRET_KEYS else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _masked_url(url: str) -> str:
    """A URL for a message: credentials (``user:password@``) and the query masked."""
    url = re.sub(r"//[^/?#]*@", "//***@", url)
    base, sep, _query = url.partition("?")
    return f"{base}?***" if sep else base


class _Getter:
    """Typed access to config keys with errors that name the key.

    A problem goes to ``report`` (which raises, or collects), and the default
    is used in its place. ``path`` prefixes the keys (``sensors[1]``).
    """

    def __init__(
        self, raw: Mapping[str, Any], report: Report = _raise, path: str | None = None
    ) -> None:
        self.raw = raw
        self.report = report
        self.path = path

    def _key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _bad(self, key: str, what: str) -> None:
        name = self._key(key)
        self.report(ConfigError(f"config key {name!r} {what}", field=name))

    def _value(self, key: str, required: bool) -> Any:
        value = self.raw.get(key)
        if value is None and required:
            self._bad(key, "is required")
        return value

    def string(
        self, key: str, *, required: bool = False, default: str | None = None, secret: bool = False
    ) -> Any:
        value = self._value(key, required)
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip():
            self._bad(key, "must be a non-empty string" + ("" if secret else f", not {value!r}"))
            return default
        return value.strip()

    def url(self, key: str, *, required: bool = False) -> str | None:
        value = self.string(key, required=required)
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
            parts.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError:  # "http://[::1": an unclosed IPv6 address, a bad port
            ok = False
        if not ok:
            self._bad(key, f"must be an http(s) URL, not {_masked_url(value)!r}")
            return None
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._value(key, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            self._bad(key, f"must be true or false, not {value!r}")
            return default
        return value

    def integer(self, key: str, default: int | None, low: int, high: int) -> Any:
        value = self._value(key, False)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            self._bad(key, f"must be an integer from {low} to {high}, not {value!r}")
            return default
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
            self._bad(key, f"must be a number from {low} to {high}, not {value!r}")
            return default
        return float(value)

    def choice(
        self, key: str, options: tuple[str, ...], default: str, *, secret: bool = False
    ) -> str:
        value = self._value(key, False)
        if value is None:
            return default
        if value not in options:
            # a side key given where the policy goes must not be echoed
            shown = "" if secret else f", not {value!r}{did_you_mean(value, options)}"
            self._bad(key, f"must be one of {', '.join(options)}{shown}")
            return default
        return value
