"""Netatmo Weather Station readings from Netatmo's web API.

Authentication is OAuth2's refresh-token flow only (Netatmo disabled the
password grant in 2023). Make a token pair once in Netatmo's developer portal
(https://dev.netatmo.com/apps: your app, "Token generator", scope
``read_station``) and put the refresh token in the config::

    with create_driver("netatmo", {"client_id": "...", "client_secret": "...",
                                   "refresh_token": "..."}) as station:
        station.read()   # {"indoor.temperature": Reading(...), "outdoor.humidity": ..., ...}

Refresh tokens rotate: every refresh returns a new one and kills the old one.
The driver writes the current pair to ``token_file`` (default
``netatmo-token.json`` in the state directory for a sensor of a config, see
:meth:`Netatmo.prepare_options`; in the working directory at start-up for a
driver built by hand) atomically, mode 0600, right after every refresh and
before the new access token is used; on start it prefers that file over the
config's ``refresh_token``, unless the config holds a *different* refresh
token than the one the file grew from (you made a new pair in the portal):
then the config's wins.

Reading names are ``<module>.<quantity>``; ``time`` is the module's
``time_utc`` (when Netatmo last received its data, every ~10 minutes):

=====================  ==========================================================
module                 which one
=====================  ==========================================================
``indoor``             the base station (NAMain)
``outdoor``            the outdoor module (NAModule1)
``wind``               the anemometer (NAModule2)
``rain``               the rain gauge (NAModule3)
``indoor_<name>``      an additional indoor module (NAModule4), by its module
                       name made lower-case ASCII (``"Bed room"`` -> ``indoor_bed_room``)
``module_<name>``      any other module type, the same way
=====================  ==========================================================

Two modules that would get the same name both get ``_<last 6 hex digits of
their MAC>`` appended. When the account has several stations and no
``device_id`` is set, every name is prefixed with the station's name the same
way (``home.indoor.temperature``); set ``device_id`` to pin one station.

====================================  =======  ================================
quantity (dashboard_data key)         unit     modules
====================================  =======  ================================
``temperature`` (Temperature)         C        indoor, outdoor, extra indoor
``humidity`` (Humidity)               %        indoor, outdoor, extra indoor
``co2`` (CO2)                         ppm      indoor, extra indoor
``noise`` (Noise)                     dB       indoor
``pressure`` (Pressure, sea level)    mbar     indoor
``absolute_pressure``                 mbar     indoor (station level)
``wind_strength``, ``gust_strength``  km/h     wind
``wind_angle``, ``gust_angle``        deg      wind
``rain`` (last ~5 min)                mm       rain
``sum_rain_1``, ``sum_rain_24``       mm       rain
``battery`` (battery_percent)         %        every module but the base
                                               station (time = ``last_seen``)
====================================  =======  ================================

Modules without ``dashboard_data`` (unreachable: out of radio range, flat
battery) are skipped with a warning; when nothing is reachable the read raises
:class:`SensorUnavailableError`. A module whose ``time_utc`` did not change
since the previous read is still returned (the agent decides what to do);
:attr:`Netatmo.last_update` maps each module to its ``time_utc`` and
:attr:`Netatmo.unchanged` names the modules that sent nothing new.

Errors: ``invalid_grant`` and API code 30 (the refresh token is invalid or was
already used) raise :class:`NetatmoAuthError`, a permanent
:class:`~iota_publisher.errors.ConfigError`; API codes 26 (usage limit) and
41 (device unreachable), HTTP 408, 429 and 5xx and network failures raise
:class:`SensorUnavailableError` (try later: Netatmo allows 50 requests per 10 s
and 500 per hour per user, and stations upload every 10 minutes anyway);
codes 2 and 3 (invalid or expired access token) refresh once and retry; others
raise :class:`DriverError` with Netatmo's code and message. Secrets (client
secret and tokens) never appear in logs, reprs or exception messages.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
import tempfile
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._http import DEFAULT_TIMEOUT, clip, new_session, request_json, scrub
from ..errors import ConfigError, HttpError, HttpUnavailableError
from ._base import (
    Driver,
    DriverContext,
    DriverError,
    NetatmoAuthError,
    Option,
    Reading,
    Readings,
    ReadingSpec,
    SensorDataError,
    SensorUnavailableError,
    check_option,
)

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_TOKEN_FILE",
    "FIELDS",
    "MODULE_KEYS",
    "Netatmo",
    "NetatmoAuthError",
    "StationData",
    "parse_stations",
]

log = logging.getLogger(__name__)

_DRIVER = "netatmo"
DEFAULT_API_URL = "https://api.netatmo.com"
DEFAULT_TOKEN_FILE = "netatmo-token.json"
REFRESH_MARGIN = 60.0  # seconds before expiry at which the access token is renewed
DEFAULT_EXPIRES_IN = 10800

#: dashboard_data key -> (quantity, unit)
FIELDS: dict[str, tuple[str, str]] = {
    "Temperature": ("temperature", "C"),
    "Humidity": ("humidity", "%"),
    "CO2": ("co2", "ppm"),
    "Noise": ("noise", "dB"),
    "Pressure": ("pressure", "mbar"),
    "AbsolutePressure": ("absolute_pressure", "mbar"),
    "WindStrength": ("wind_strength", "km/h"),
    "WindAngle": ("wind_angle", "deg"),
    "GustStrength": ("gust_strength", "km/h"),
    "GustAngle": ("gust_angle", "deg"),
    "Rain": ("rain", "mm"),
    "sum_rain_1": ("sum_rain_1", "mm"),
    "sum_rain_24": ("sum_rain_24", "mm"),
}

#: module type -> module part of the reading name (NAModule4 and others add the module name)
MODULE_KEYS: dict[str, str] = {
    "NAMain": "indoor",
    "NAModule1": "outdoor",
    "NAModule2": "wind",
    "NAModule3": "rain",
}

_TOKEN_HINT = (
    "make a new token pair in Netatmo's developer portal (https://dev.netatmo.com/apps: "
    "your app, 'Token generator', scope read_station) and put its refresh token in the "
    "config's refresh_token (the token file then follows it)"
)


class _TokenRejected(DriverError):
    """API error 2 or 3: the access token is invalid or expired (refresh and retry)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message, driver=_DRIVER)
        self.code = code


# ---------------------------------------------------------------- pure parsing


@dataclass(frozen=True)
class StationData:
    """What one getstationsdata answer holds, as readings.

    ``last_update`` maps each reachable module's name part (``"indoor"``,
    ``"outdoor"`` ...) to its ``time_utc``; ``unreachable`` lists the ones
    without data.
    """

    readings: dict[str, Reading] = field(default_factory=dict)
    last_update: dict[str, float] = field(default_factory=dict)
    unreachable: list[str] = field(default_factory=list)


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^0-9a-z]+", "_", ascii_text.lower()).strip("_")


def _mac_tail(module_id: Any) -> str:
    return re.sub(r"[^0-9a-f]", "", str(module_id).lower())[-6:] or "unknown"


def _module_key(module: Mapping[str, Any]) -> str:
    kind = str(module.get("type", ""))
    if kind in MODULE_KEYS:
        return MODULE_KEYS[kind]
    base = "indoor" if kind == "NAModule4" else "module"
    name = _slug(str(module.get("module_name") or "")) or _mac_tail(module.get("_id"))
    return f"{base}_{name}"


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def parse_stations(payload: Mapping[str, Any]) -> StationData:
    """Readings from a ``getstationsdata`` answer (the whole JSON object).

    Pure: no I/O, no logging. Raises :class:`SensorDataError` when the answer
    lacks ``body.devices``.
    """
    body = payload.get("body") if isinstance(payload, Mapping) else None
    devices = body.get("devices") if isinstance(body, Mapping) else None
    if not isinstance(devices, list):
        raise SensorDataError(
            f"{_DRIVER}: getstationsdata answer has no body.devices", driver=_DRIVER
        )
    stations = [d for d in devices if isinstance(d, Mapping)]
    data = StationData()

    station_prefixes: list[str] = []
    if len(stations) > 1:
        names = [
            _slug(str(s.get("station_name") or s.get("home_name") or "")) or _mac_tail(s.get("_id"))
            for s in stations
        ]
        station_prefixes = _disambiguate(names, [s.get("_id") for s in stations])
    for index, station in enumerate(stations):
        modules = [station] + [m for m in station.get("modules") or [] if isinstance(m, Mapping)]
        keys = _disambiguate([_module_key(m) for m in modules], [m.get("_id") for m in modules])
        prefix = f"{station_prefixes[index]}." if station_prefixes else ""
        for module, module_key in zip(modules, keys, strict=True):
            key = prefix + module_key
            dashboard = module.get("dashboard_data")
            if not isinstance(dashboard, Mapping) or not dashboard:
                data.unreachable.append(key)
                continue
            time_utc = _number(dashboard.get("time_utc"))
            when = float(time_utc) if time_utc is not None else None
            if when is not None:
                data.last_update[key] = when
            for source, (quantity, unit) in FIELDS.items():
                value = _number(dashboard.get(source))
                if value is not None:
                    name = f"{key}.{quantity}"
                    data.readings[name] = Reading(name, value, unit, when)
            battery = _number(module.get("battery_percent"))
            if battery is not None and module is not station:
                seen = _number(module.get("last_seen"))
                name = f"{key}.battery"
                data.readings[name] = Reading(
                    name, battery, "%", float(seen) if seen is not None else when
                )
    return data


def _disambiguate(names: list[str], ids: list[Any]) -> list[str]:
    """Append the MAC tail to every name that is not unique."""
    return [
        f"{name}_{_mac_tail(module_id)}" if names.count(name) > 1 else name
        for name, module_id in zip(names, ids, strict=True)
    ]


# ---------------------------------------------------------------- the driver


class Netatmo(Driver):
    """Readings of a Netatmo Weather Station (base station and modules) via Netatmo's API.

    See the module documentation for options, reading names, units and errors.
    """

    name = "netatmo"
    OPTIONS = (
        Option("client_id", str, None, "your Netatmo app's client id", required=True),
        Option("client_secret", str, None, "your app's client secret", required=True, secret=True),
        Option("refresh_token", str, None, "a refresh token (scope read_station)", secret=True),
        Option(
            "token_file",
            (str, os.PathLike),
            DEFAULT_TOKEN_FILE,
            "where the rotating tokens are kept",
        ),
        Option("device_id", str, None, "the station's MAC, when the account has several"),
        Option("api_url", str, DEFAULT_API_URL, "Netatmo's API"),
        Option("timeout", float, DEFAULT_TIMEOUT, "seconds per request", positive=True),
    )
    #: names are <module>.<quantity>; the modules are the account's
    READINGS = tuple(ReadingSpec(f"*.{quantity}", unit) for quantity, unit in FIELDS.values()) + (
        ReadingSpec("*.battery", "%"),
    )

    @classmethod
    def prepare_options(cls, options: Mapping[str, Any], context: DriverContext) -> dict[str, Any]:
        """As every driver's, and ``token_file`` defaults to ``netatmo-token.json`` in
        the state directory (the driver creates its folder when it first saves)."""
        out = super().prepare_options(options, context)
        if "token_file" not in out:
            out["token_file"] = str(context.state_dir / DEFAULT_TOKEN_FILE)
        return out

    def __init__(
        self,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        refresh_token: str | None = None,
        token_file: str | os.PathLike[str] | None = None,
        device_id: str | None = None,
        api_url: str = DEFAULT_API_URL,
        timeout: float = DEFAULT_TIMEOUT,
        session: Any = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        options = {"client_id": client_id, "client_secret": client_secret}
        self._client_id = check_option(_DRIVER, options, "client_id", str, required=True)
        self._client_secret = check_option(_DRIVER, options, "client_secret", str, required=True)
        config_token = check_option(_DRIVER, {"refresh_token": refresh_token}, "refresh_token", str)
        self._device_id = self.option("device_id").check(_DRIVER, device_id)
        api_url = self.option("api_url").check(_DRIVER, api_url)
        if not re.match(r"^https?://[^/\s]+", api_url):
            raise ConfigError(
                f"driver {_DRIVER!r}: option 'api_url' must be an http(s) URL, not {api_url!r}",
                field="api_url",
            )
        self._api_url = api_url.rstrip("/")
        self._timeout = float(self.option("timeout").check(_DRIVER, timeout))
        if token_file is None:
            token_file = DEFAULT_TOKEN_FILE
        if not isinstance(token_file, (str, os.PathLike)) or not str(token_file):
            raise ConfigError(
                f"driver {_DRIVER!r}: option 'token_file' must be a path", field="token_file"
            )
        self._token_file = Path(os.path.abspath(os.fspath(token_file)))
        self._session = session
        self._own_session = session is None
        self._clock = clock if clock is not None else time.time

        self._refresh_token = ""
        self._access_token: str | None = None
        self._expires_at = 0.0
        self._origin = _fingerprint(config_token) if config_token else None
        self._unsaved = False
        self._retired: deque[str] = deque(maxlen=4)  # earlier tokens, still redacted
        self._load_tokens(config_token)

        #: module name part -> ``time_utc`` of its data in the latest read
        self.last_update: dict[str, float] = {}
        #: modules whose ``time_utc`` did not change between the last two reads
        self.unchanged: frozenset[str] = frozenset()
        self._unreachable: set[str] = set()

    @property
    def token_file(self) -> Path:
        return self._token_file

    # --- tokens

    def _load_tokens(self, config_token: str | None) -> None:
        stored = self._read_token_file()
        if stored is not None:
            origin = stored.get("origin")
            if config_token and isinstance(origin, str) and origin != self._origin:
                log.info(
                    "%s: the config holds a new refresh token; it replaces the one in %s",
                    _DRIVER,
                    self._token_file,
                )
            else:
                self._refresh_token = stored["refresh_token"]
                access = stored.get("access_token")
                expires_at = stored.get("expires_at")
                if isinstance(access, str) and access and isinstance(expires_at, (int, float)):
                    self._access_token = access
                    self._expires_at = float(expires_at)
                if isinstance(origin, str):
                    self._origin = origin
                return
        if not config_token:
            raise ConfigError(
                f"driver {_DRIVER!r} needs the option 'refresh_token' (no token file at "
                f"{self._token_file}); {_TOKEN_HINT}",
                field="refresh_token",
            )
        self._refresh_token = config_token
        self._access_token = None
        self._expires_at = 0.0

    def _read_token_file(self) -> dict[str, Any] | None:
        path = self._token_file
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(
                f"driver {_DRIVER!r}: cannot read token_file {path} ({exc.strerror})",
                field="token_file",
            ) from None
        try:
            stored = json.loads(text)
        except ValueError:
            stored = None
        if (
            not isinstance(stored, dict)
            or not isinstance(stored.get("refresh_token"), str)
            or not stored["refresh_token"]
        ):
            raise ConfigError(
                f"driver {_DRIVER!r}: token_file {path} is not a token file written by this "
                "driver; delete it to start again from the config's refresh_token",
                field="token_file",
            )
        try:
            if path.stat().st_mode & 0o077:
                log.warning(
                    "%s: %s is readable by other users; it holds secrets (chmod 600)", _DRIVER, path
                )
        except OSError:  # pragma: no cover
            pass
        return stored

    def _save_tokens(self) -> None:
        """Write the token pair atomically (temp file, fsync, rename), mode 0600."""
        path = self._token_file
        content = json.dumps(
            {
                "refresh_token": self._refresh_token,
                "access_token": self._access_token,
                "expires_at": self._expires_at,
                "origin": self._origin,
            },
            indent=2,
        )
        tmp_name: str | None = None
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                if hasattr(os, "fchmod"):
                    os.fchmod(f.fileno(), stat.S_IRUSR | stat.S_IWUSR)
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp_name, path)
            tmp_name = None
            _fsync_dir(path.parent)
        except OSError as exc:
            raise SensorUnavailableError(
                f"{_DRIVER}: could not save the rotated refresh token to {path} "
                f"({exc.strerror or type(exc).__name__}); the previous one is no longer valid, "
                "so keep this process running: the next read tries to save again",
                driver=_DRIVER,
            ) from None
        finally:
            if tmp_name is not None:
                try:
                    os.unlink(tmp_name)
                except OSError:
                    pass
        self._unsaved = False

    def _refresh(self) -> None:
        payload = self._call(
            "POST",
            "/oauth2/token",
            what="token refresh",
            data={
                "grant_type": "refresh_token",
                "refresh_token": self._refresh_token,
                "client_id": self._client_id,
                "client_secret": self._client_secret,
            },
        )
        access = payload.get("access_token")
        refresh = payload.get("refresh_token") or self._refresh_token
        expires_in = _number(payload.get("expires_in"))
        if not isinstance(access, str) or not access or not isinstance(refresh, str):
            raise SensorDataError(
                f"{_DRIVER}: the token answer has no access_token", driver=_DRIVER
            )
        if expires_in is None or expires_in <= 0:
            expires_in = DEFAULT_EXPIRES_IN
        self._retired.extend(t for t in (self._access_token, self._refresh_token) if t)
        self._access_token = access
        self._refresh_token = refresh
        self._expires_at = self._clock() + float(expires_in)
        self._unsaved = True
        self._save_tokens()  # before the new access token is used: the old refresh token is dead
        log.info(
            "%s: access token refreshed, valid for %d s; tokens saved to %s",
            _DRIVER,
            expires_in,
            self._token_file,
        )

    def _ensure_token(self) -> None:
        if self._unsaved:
            self._save_tokens()
        if self._access_token is None or self._clock() >= self._expires_at - REFRESH_MARGIN:
            self._refresh()

    # --- HTTP, one boundary

    def _http(self) -> Any:
        if self._session is None:
            self._session = new_session()
        return self._session

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """One exchange through :func:`iota_publisher._http.request_json` (bounded
        time and size, no redirects, secrets masked); its failures and Netatmo's
        refusals become driver errors here."""
        try:
            answer = request_json(
                method,
                f"{self._api_url}{path}",
                session=self._http(),
                data=data,
                params=params,
                headers=headers,
                timeout=self._timeout,
                secrets=self._secrets(),
                check=False,
            )
        except HttpUnavailableError as exc:
            if exc.kind == "timeout":
                raise SensorUnavailableError(
                    f"{_DRIVER}: {what} timed out after {self._timeout:g} s", driver=_DRIVER
                ) from None
            cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else exc.kind
            raise SensorUnavailableError(
                f"{_DRIVER}: {what} failed: cannot reach {self._api_url} ({cause})",
                driver=_DRIVER,
            ) from None
        except HttpError as exc:
            reason = self._redact(str(exc).partition(" failed: ")[2] or exc.kind)
            cls = SensorDataError if exc.kind in ("too_large", "decoding") else DriverError
            raise cls(f"{_DRIVER}: {what} failed: {reason}", driver=_DRIVER) from None
        status = answer.status
        try:
            payload = answer.json()
        except ValueError:
            payload = None
        error = payload.get("error") if isinstance(payload, dict) else None
        if answer.transient:
            raise SensorUnavailableError(
                f"{_DRIVER}: {what} failed: HTTP {status}{self._describe(error)}; try later",
                driver=_DRIVER,
            )
        if error is not None:
            raise self._error(what, status, error)
        if status >= 400:
            raise DriverError(f"{_DRIVER}: {what} failed: HTTP {status}", driver=_DRIVER)
        if not isinstance(payload, dict):
            raise SensorDataError(
                f"{_DRIVER}: {what}: the answer is not a JSON object", driver=_DRIVER
            )
        return payload

    def _describe(self, error: Any) -> str:
        if isinstance(error, Mapping):
            return f" (error {error.get('code')}: {self._redact(error.get('message'))})"
        if isinstance(error, str):
            return f" ({self._redact(error)})"
        return ""

    def _error(self, what: str, status: int, error: Any) -> DriverError:
        if isinstance(error, Mapping):
            code = error.get("code")
            message = self._redact(error.get("message"))
            if code in (2, 3):
                return _TokenRejected(
                    f"{_DRIVER}: access token rejected (error {code}: {message})", code
                )
            if code == 30:
                return NetatmoAuthError(
                    f"{_DRIVER}: the refresh token is invalid or was already used "
                    f"(error 30: {message}); {_TOKEN_HINT}"
                )
            if code in (26, 41):
                return SensorUnavailableError(
                    f"{_DRIVER}: {what} failed (error {code}: {message}); try later", driver=_DRIVER
                )
            if code == 13:
                return DriverError(
                    f"{_DRIVER}: {what} forbidden (error 13: {message}); the token needs the "
                    "read_station scope",
                    driver=_DRIVER,
                )
            return DriverError(
                f"{_DRIVER}: {what} failed (error {code}: {message})", driver=_DRIVER
            )
        error_name = self._redact(error)
        if error_name == "invalid_grant":
            return NetatmoAuthError(
                f"{_DRIVER}: the refresh token is invalid or was already used (invalid_grant); "
                f"{_TOKEN_HINT}"
            )
        if error_name in ("invalid_client", "unauthorized_client"):
            return NetatmoAuthError(
                f"{_DRIVER}: Netatmo refused the client_id or client_secret ({error_name}); "
                "copy both from your app at https://dev.netatmo.com/apps",
                field="client_secret",
            )
        return DriverError(
            f"{_DRIVER}: {what} failed: HTTP {status} ({error_name})", driver=_DRIVER
        )

    def _secrets(self) -> tuple[str, ...]:
        """The client secret and every token, current and retired."""
        found = (self._client_secret, self._refresh_token, self._access_token, *self._retired)
        return tuple(s for s in found if s)

    def _redact(self, text: Any) -> str:
        """Netatmo's text for a message: secrets masked, clipped (by :mod:`.._http`)."""
        return clip(scrub(str(text if text is not None else ""), self._secrets()))

    def _get_stations(self) -> dict[str, Any]:
        params = {"device_id": self._device_id} if self._device_id else None
        return self._call(
            "GET",
            "/api/getstationsdata",
            what="getstationsdata",
            params=params,
            headers={"Authorization": f"Bearer {self._access_token}"},
        )

    # --- Driver

    def read(self) -> Readings:
        self._ensure_token()
        try:
            payload = self._get_stations()
        except _TokenRejected as exc:
            log.info("%s: access token rejected (error %d); refreshing once", _DRIVER, exc.code)
            self._refresh()
            try:
                payload = self._get_stations()
            except _TokenRejected as again:
                raise DriverError(
                    f"{_DRIVER}: the API rejected a freshly refreshed access token "
                    f"(error {again.code}); check the app's scopes (read_station)",
                    driver=_DRIVER,
                ) from None
        data = parse_stations(payload)
        self._note_unreachable(data.unreachable)
        if not data.readings:
            raise SensorUnavailableError(
                f"{_DRIVER}: no station module is reachable "
                f"({', '.join(data.unreachable) or 'no station on this account'})",
                driver=_DRIVER,
            )
        previous = self.last_update
        self.unchanged = frozenset(k for k, t in data.last_update.items() if previous.get(k) == t)
        self.last_update = dict(data.last_update)
        return dict(data.readings)

    def _note_unreachable(self, unreachable: list[str]) -> None:
        now = set(unreachable)
        for key in sorted(now - self._unreachable):
            log.warning("%s: module %s is unreachable (no data); skipped", _DRIVER, key)
        for key in sorted(self._unreachable - now):
            log.info("%s: module %s is reachable again", _DRIVER, key)
        self._unreachable = now

    def close(self) -> None:
        if self._own_session and self._session is not None:
            self._session.close()
            self._session = None


def _fingerprint(token: str) -> str:
    """A one-way tag of the config's refresh token, to notice when the user replaces it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
