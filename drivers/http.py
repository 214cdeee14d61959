"""The ``http`` source: poll a web API that answers JSON.

It replaces the 2019 marketplace template's second example (polling
``serverUrl`` for a few fields). Answers become readings as :mod:`._json`
describes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from ..errors import ConfigError, HttpError, HttpUnavailableError
from ._base import (
    DriverError,
    Option,
    Readings,
    ReadingSet,
    ReadingSpec,
    SensorDataError,
    SensorUnavailableError,
    check_value,
)
from ._json import (
    JSON_OPTIONS,
    JsonSource,
    PathPart,
    Value,
    get_path,
    is_finite,
    is_number,
    json_kind,
    parse_path,
    str_mapping,
)

__all__ = ["HttpSource"]

log = logging.getLogger(__name__)


class HttpSource(JsonSource):
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
    OPTIONS = (
        Option("url", str, None, "the JSON API to GET", required=True, secret=True),
        Option("fields", Mapping, None, "reading name -> path in the answer (default: top level)"),
        Option("headers", Mapping, None, "request headers (an API key)", secret=True),
        Option("timeout", float, 30.0, "seconds per request", positive=True),
        *JSON_OPTIONS,
    )

    @classmethod
    def declared_readings(cls, options: Mapping[str, Any]) -> ReadingSet:
        """With ``fields``, exactly its names; without, the answer's top-level numbers."""
        fields = options.get("fields")
        if not isinstance(fields, Mapping) or not fields:
            return super().declared_readings(options)
        units = options.get("units")
        units = units if isinstance(units, Mapping) else {}
        return ReadingSet(
            tuple(
                ReadingSpec(str(k), units[k] if isinstance(units.get(k), str) else None)
                for k in fields
            )
        )

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

        from .._http import new_session

        super().__init__(time_key, units)
        self.url: str = check_value(self.name, "url", url, str, required=True)
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
        for name, path in str_mapping(self.name, "fields", fields).items():
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
        self._headers = str_mapping(self.name, "headers", headers)
        self.timeout = float(self.option("timeout").check(self.name, timeout))
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
            if not (is_number(value) or isinstance(value, str)):
                raise self._bad(
                    f"path {path!r}",
                    f"{json_kind(value)}, not a number or "
                    f"string, in the answer from {self.safe_url}",
                )
            if not is_finite(value):
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
                f"{json_kind(data)}, not an object: name the values to publish with 'fields'",
            )
        skip = self._time_parts[0] if self._time_parts and len(self._time_parts) == 1 else None
        values = {k: v for k, v in data.items() if is_number(v) and k != skip and is_finite(v)}
        if not values:
            raise self._bad(where, "no top-level numbers: name the values with 'fields'")
        return self._readings(values, when)

    def _get(self) -> Any:
        """One GET through :func:`iota_publisher._http.request_json`; its failures and
        refusals are mapped here. The answer must come within ``timeout`` (connecting,
        each read and the whole answer) and hold at most 1 MB; a redirect is refused (a
        permanent :class:`DriverError`: the URL's keys must not travel to another host)."""
        from .._http import request_json  # requests, imported by the driver that uses it

        failed: HttpError | None = None
        try:
            answer = request_json(
                "GET",
                self.url,
                session=self._session,
                headers=self._headers or None,
                timeout=self.timeout,
                secrets=self._secret_parts,
                check=False,
            )
        except HttpError as exc:
            failed = exc  # its message shows query values that are not named as secrets
        if failed is not None:  # raised outside the handler: the HttpError is not the context
            raise self._failure(failed) from failed.__cause__  # (scrubbed of the secrets by _http)
        status = answer.status
        log.debug("http: GET %s: HTTP %d", self.safe_url, status)
        if answer.transient:
            raise SensorUnavailableError(
                f"http: {self.safe_url} answered HTTP {status}", driver=self.name
            )
        if not answer.ok:
            raise SensorDataError(f"http: {self.safe_url} answered HTTP {status}", driver=self.name)
        try:
            return answer.json()
        except ValueError:
            kind = answer.headers.get("Content-Type") or "no content type"
            raise SensorDataError(
                f"http: the answer from {self.safe_url} is not JSON ({kind})", driver=self.name
            ) from None

    def _failure(self, exc: HttpError) -> DriverError:
        """The driver error for an exchange that brought no usable answer."""
        from .._http import clip, scrub

        cause = exc.__cause__
        # the transport's own words (scrubbed by _http), else what _http says went wrong
        reason = clip(str(cause)) if cause is not None else str(exc).partition(" failed: ")[2]
        reason = scrub(reason, self._secret_parts)
        if exc.kind == "timeout":
            return SensorUnavailableError(
                f"http: {self.safe_url} timed out after {self.timeout:g} s", driver=self.name
            )
        if isinstance(exc, HttpUnavailableError):
            return SensorUnavailableError(
                f"http: connecting to {self.safe_url} failed: {reason}", driver=self.name
            )
        if exc.kind == "tls":
            return DriverError(f"http: TLS failed for {self.safe_url}: {reason}", driver=self.name)
        if exc.kind in ("too_large", "decoding"):
            return SensorDataError(
                f"http: the answer from {self.safe_url} is unusable: {reason}", driver=self.name
            )
        return DriverError(f"http: GET {self.safe_url} failed: {reason}", driver=self.name)


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
