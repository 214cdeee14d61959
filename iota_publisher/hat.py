"""A client for a HAT (Hub of All Things): log in, write and read records, data debits.

Paths and shapes are those of :mod:`iota_publisher.protocol.hat`; HTTP goes
through :mod:`iota_publisher._http` (bounded answers, redirects refused,
secrets masked).

Authentication: with ``username`` and ``password`` the client logs in
(``GET /users/access_token``, the credentials in headers) and sends the RS256
JWT it gets as ``X-Auth-Token``. The token is renewed shortly before its
``exp`` (read from the token without verifying it: the HAT checks it) and once
after a 401. With a ``token`` alone, the client cannot renew it: a 401 is a
:class:`HatAuthError`.

Failures are :class:`~iota_publisher.errors.HatError` subclasses with ``call``,
``status`` and ``text``: :class:`HatUnavailableError` (transient: no
connection, timeout, 5xx/408/429), :class:`HatAuthError` (401; 403, a missing
permission), :class:`HatNotFoundError` (404), :class:`HatRejectedError` (other
4xx), :class:`InvalidHatResponseError`. Passwords and tokens never appear in
messages or logs.

Writes are safe to retry: the HAT refuses a record whose data it already holds
with ``400 Duplicate Data``, which :meth:`HatClient.write` returns as
``WriteResult(duplicate=True)``.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import time as _time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

import requests

from ._http import (
    DEFAULT_RETRY,
    DEFAULT_TIMEOUT,
    Failure,
    HttpClient,
    RetryPolicy,
    clip,
    is_transient_status,
    scrub,
)
from .errors import (
    HatAuthError,
    HatError,
    HatNotFoundError,
    HatRejectedError,
    HatUnavailableError,
    InvalidHatResponseError,
    InvalidInputError,
    ProtocolError,
)
from .protocol import hat as _hat
from .protocol import invalid_input
from .protocol.hat import DataDebit, Record, WriteResult

__all__ = [
    "DataDebit",
    "DebitValues",
    "HatAuthError",
    "HatClient",
    "HatError",
    "HatNotFoundError",
    "HatRejectedError",
    "HatUnavailableError",
    "InvalidHatResponseError",
    "Record",
    "WriteResult",
    "token_expiry",
]

log = logging.getLogger(__name__)

RENEW_MARGIN = 60.0  # seconds before a token's exp when it is renewed
_ANSWER_LIMIT = 10_000_000


class DebitValues(NamedTuple):
    """What a data debit gives: ``conditions`` (``None`` for v2, or when it has none)
    and ``bundle`` (``{property: [records]}``; ``{}`` when a condition is unmet)."""

    conditions: dict[str, bool] | None
    bundle: dict[str, list[Any]]


class _Answer(NamedTuple):
    status: int
    data: Any
    text: str | None


def token_expiry(token: str) -> float | None:
    """The ``exp`` (UNIX seconds) of a JWT, read without verifying it; ``None`` if it has
    none or is no JWT."""
    try:
        import jwt
    except ImportError:  # without the hat extra: the payload read by hand
        try:
            part = token.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        except (IndexError, ValueError):
            return None
    else:
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None


def _base_url(url: object) -> str:
    if not isinstance(url, str):
        raise InvalidInputError("url must be a URL string", field="url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInputError(f"url must be an http(s) URL, not {url!r:.80}", field="url")
    if parts.username or parts.password:
        raise InvalidInputError("url must not hold credentials", field="url")
    return url.rstrip("/")


def _checked(check: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    try:
        return check(*args, **kw)
    except ProtocolError as exc:
        raise invalid_input(exc) from None


class HatClient(HttpClient):
    """Talk to the HAT at ``url`` (``https://owner.hubofallthings.net``).

    Give ``username`` and ``password`` (renewable), or a ``token``, or both (the
    token is used first). ``clock`` (UNIX seconds) decides when a token is due
    for renewal. Transient failures of the calls that are safe to repeat
    (login, reads, writes, enable/disable, values) are retried per
    ``retry_policy``; creating a data debit is sent once. Not thread-safe.
    """

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] | None = None,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = _time.time,
    ) -> None:
        self.url = _base_url(url)
        if (username is None) != (password is None):
            raise InvalidInputError("give both username and password", field="password")
        for name, value in (("username", username), ("password", password), ("token", token)):
            if value is not None and (not isinstance(value, str) or not value):
                raise InvalidInputError(f"{name} must be a non-empty string", field=name)
        if username is None and token is None:
            raise InvalidInputError("give username and password, or a token", field="username")
        self.username = username
        self._password = password
        self._token = token
        self._expires = None if token is None else token_expiry(token)
        self._clock = clock
        super().__init__(
            session=session, timeout=timeout, retry_policy=retry_policy, sleep=sleep, rng=rng
        )

    def __repr__(self) -> str:
        return f"HatClient({self.url!r}, username={self.username!r})"

    @property
    def address(self) -> str:
        """The HAT's address as DEX names it: its host (and port, if any)."""
        return urlsplit(self.url).netloc

    # -- the HTTP boundary ---------------------------------------------------------------

    def _secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self._password, self._token) if s)

    def _fail(
        self,
        cls: type[HatError],
        call: str,
        reason: str,
        status: int | None = None,
        text: str | None = None,
    ) -> HatError:
        return cls(f"HAT {call} failed: {reason}", call=call, status=status, text=text)

    def _send(
        self,
        method: str,
        path: str,
        call: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        raw: bool = False,
    ) -> _Answer:
        """One request; every failure and refusal is mapped here, but for a HAT's
        ``400 Duplicate Data``, returned (status 400) for :meth:`write` to judge."""
        started = _time.monotonic()

        def transport(failure: Failure) -> HatError:
            log.debug("HAT %s %s: %s", method, call, failure.name or failure.kind)
            if failure.kind in ("timeout", "connection"):
                return self._fail(HatUnavailableError, call, failure.reason)
            if failure.kind in ("redirect", "too_large", "decoding"):
                return self._fail(InvalidHatResponseError, call, failure.reason, failure.status)
            return self._fail(HatError, call, failure.reason)

        answer = self._exchange(
            method,
            self.url + path,
            fail=transport,
            max_bytes=_ANSWER_LIMIT,
            params=params,
            json=body,
            headers=headers,
            secrets=self._secrets(),
        )
        status = answer.status
        log.debug("HAT %s %s: HTTP %d in %.3f s", method, call, status, _time.monotonic() - started)
        try:
            data = None if raw and answer.ok else answer.json()
        except ValueError as exc:
            data, decode_error = None, exc
        else:
            decode_error = None
        body_text = answer.text() or None
        text = body_text
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            said = data["message"]
            cause = data.get("cause") or data.get("error")
            if isinstance(cause, str) and cause and cause != said:
                said = f"{said}: {cause}"
            text = clip(scrub(said, answer.secrets))
        said = f": {text}" if text else ""
        if _hat.is_duplicate(status, data):
            return _Answer(status, data, text)
        if status == 401:
            raise self._fail(HatAuthError, call, f"HTTP 401, not authenticated{said}", status, text)
        if status == 403:
            raise self._fail(HatAuthError, call, f"HTTP 403, not permitted{said}", status, text)
        if status == 404:
            raise self._fail(HatNotFoundError, call, f"HTTP 404{said}", status, text)
        if is_transient_status(status):
            raise self._fail(HatUnavailableError, call, f"HTTP {status}{said}", status, text)
        if 400 <= status < 500:
            raise self._fail(HatRejectedError, call, f"HTTP {status}{said}", status, text)
        if not 200 <= status < 300:
            raise self._fail(InvalidHatResponseError, call, f"unexpected HTTP {status}", status)
        if raw:
            return _Answer(status, answer.body.decode("utf-8", "replace"), None)
        if decode_error is not None:
            raise self._fail(
                InvalidHatResponseError, call, "the answer is not JSON", status, body_text
            ) from None
        return _Answer(status, data, None if call in ("login", "app-token") else body_text)

    def _invalid(self, call: str, answer: _Answer, what: str) -> InvalidHatResponseError:
        return InvalidHatResponseError(
            f"HAT {call} failed: invalid answer: {what}",
            call=call,
            status=answer.status,
            text=answer.text,
        )

    def _authorised(self, method: str, path: str, call: str, **kw: Any) -> _Answer:
        """One request with a fresh token; after a 401, one new login and one more try."""
        token = self.token()
        try:
            return self._send(method, path, call, headers={_hat.TOKEN_HEADER: token}, **kw)
        except HatAuthError as exc:
            if exc.status != 401 or self._password is None:
                raise
            log.info("HAT %s: token refused, logging in again", call)
            self._token = None
            token = self.token()
            return self._send(method, path, call, headers={_hat.TOKEN_HEADER: token}, **kw)

    def _call(
        self, method: str, path: str, call: str, *, retried: bool = True, **kw: Any
    ) -> _Answer:
        return self._retry(
            lambda: self._authorised(method, path, call, **kw), what=f"HAT {call}", retried=retried
        )

    # -- authentication ------------------------------------------------------------------

    def login(self) -> str:
        """Log in with the username and password; return (and keep) the access token."""
        if self.username is None or self._password is None:
            raise HatAuthError(
                "HAT login failed: no username and password to log in with", call="login"
            )
        headers = {"username": self.username, "password": self._password}

        def once() -> _Answer:
            return self._send("GET", _hat.ACCESS_TOKEN_PATH, "login", headers=headers)

        answer = self._retry(once, what="HAT login")
        try:
            token = _hat.access_token(answer.data)
        except ProtocolError as exc:
            raise self._invalid("login", answer, str(exc)) from None
        self._token = token
        self._expires = token_expiry(token)
        return token

    def token(self) -> str:
        """The current access token, renewed first when it expires within a minute."""
        due = self._expires is not None and self._clock() >= self._expires - RENEW_MARGIN
        if self._token is not None and not (due and self._password is not None):
            return self._token
        return self.login()

    def public_key(self) -> str:
        """The HAT's public key (PEM), which verifies its tokens: ``GET /publickey``."""
        answer = self._retry(
            lambda: self._send("GET", "/publickey", "publickey", raw=True), what="HAT publickey"
        )
        text = str(answer.data).strip()
        if text.startswith('"'):  # a JSON string (the sandbox HAT answers JSON only)
            try:
                text = str(json.loads(text))
            except ValueError:
                pass
        if "BEGIN PUBLIC KEY" not in text:
            raise self._invalid("publickey", answer, "expected a PEM public key")
        return text

    def application_token(self, application: str = "dex") -> str:
        """A token the HAT issues for ``application`` (``dex`` for claiming offers):
        ``GET /api/v2.6/applications/{application}/access-token``."""
        app = _checked(_hat.namespace, application, "application")
        answer = self._call("GET", f"{_hat.API}/applications/{app}/access-token", "app-token")
        try:
            return _hat.access_token(answer.data)
        except ProtocolError as exc:
            raise self._invalid("app-token", answer, str(exc)) from None

    # -- records -------------------------------------------------------------------------

    def write(
        self, namespace: str, endpoint: str, data: Any, *, skip_errors: bool = False
    ) -> WriteResult:
        """Store a record (an object) or several (a list of objects) at
        ``namespace/endpoint``: ``POST /api/v2.6/data/{namespace}/{endpoint}``.

        Returns the stored records with their ids, or ``WriteResult(duplicate=True)``
        when the HAT already holds this data (a retry after a lost answer: delivered).
        A list is stored all or nothing: one duplicate refuses it whole, so write one
        record per call when retries must be exact. Transient failures raise
        :class:`HatUnavailableError` after the retries.
        """
        path = _checked(_hat.data_path, namespace, endpoint)
        items = data if isinstance(data, list) else [data]
        if not items or not all(isinstance(d, dict) for d in items):
            raise InvalidInputError("data must be an object or a list of objects", field="data")
        params = {"skipErrors": "true"} if skip_errors else None
        answer = self._call("POST", path, "write", body=data, params=params)
        if answer.status == 400:
            log.info("HAT write to %s/%s: already stored (duplicate)", namespace, endpoint)
            return WriteResult(duplicate=True)
        try:
            stored = _hat.records(answer.data)
        except ProtocolError as exc:
            raise self._invalid("write", answer, str(exc)) from None
        return WriteResult(tuple(stored))

    def read(
        self,
        namespace: str,
        endpoint: str,
        *,
        order_by: str | None = None,
        ordering: str | None = None,
        skip: int | None = None,
        take: int | None = None,
    ) -> list[Record]:
        """Records of ``namespace/endpoint`` (``ordering`` ``"descending"`` or
        ``"ascending"``; the HAT's ``take`` defaults to 1000)."""
        path = _checked(_hat.data_path, namespace, endpoint)
        params: dict[str, Any] = {}
        if order_by is not None:
            params["orderBy"] = order_by
        if ordering is not None:
            if ordering not in ("ascending", "descending"):
                raise InvalidInputError(
                    "ordering must be ascending or descending", field="ordering"
                )
            params["ordering"] = ordering
        for name, value in (("skip", skip), ("take", take)):
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise InvalidInputError(f"{name} must be a non-negative int", field=name)
                params[name] = value
        answer = self._call("GET", path, "read", params=params or None)
        try:
            return _hat.records(answer.data)
        except ProtocolError as exc:
            raise self._invalid("read", answer, str(exc)) from None

    # -- data debits ---------------------------------------------------------------------

    @staticmethod
    def _key(key: str) -> str:
        if not isinstance(key, str) or not key or len(key) > 200:
            raise InvalidInputError("the data debit key must be a non-empty string", field="key")
        return quote(key, safe="")

    def _debit(self, answer: _Answer, call: str) -> DataDebit:
        try:
            return _hat.data_debit(answer.data)
        except ProtocolError as exc:
            raise self._invalid(call, answer, str(exc)) from None

    def create_data_debit(
        self, key: str, request: Mapping[str, Any], *, v2: bool = False
    ) -> DataDebit:
        """Register a data debit (``POST /api/v2.6/data-debit/{key}`` with a request from
        :func:`~iota_publisher.protocol.hat.debit_request`, or with ``v2`` ``POST
        /api/v2/data-debit/{key}`` with one from ``debit_request_v2``). Sent once."""
        api = _hat.API_V2 if v2 else _hat.API
        answer = self._call(
            "POST",
            f"{api}/data-debit/{self._key(key)}",
            "data-debit",
            body=dict(request),
            retried=False,
        )
        return self._debit(answer, "data-debit")

    def data_debit(self, key: str) -> DataDebit:
        answer = self._call("GET", f"{_hat.API}/data-debit/{self._key(key)}", "data-debit")
        return self._debit(answer, "data-debit")

    def data_debits(self) -> list[DataDebit]:
        """Every data debit of this HAT (``GET /api/v2.6/data-debit``; the owner's call)."""
        answer = self._call("GET", f"{_hat.API}/data-debit", "data-debits")
        if not isinstance(answer.data, list):
            raise self._invalid("data-debits", answer, "expected a list of data debits")
        return [
            self._debit(_Answer(answer.status, d, answer.text), "data-debits") for d in answer.data
        ]

    def enable_data_debit(self, key: str, *, bundle_name: str | None = None) -> DataDebit:
        """The owner's consent: ``GET /api/v2.6/data-debit/{key}/enable``, or with
        ``bundle_name`` the v2 ``GET /api/v2/data-debit/{key}/enable/{bundle_name}``."""
        if bundle_name is None:
            path = f"{_hat.API}/data-debit/{self._key(key)}/enable"
        else:
            path = f"{_hat.API_V2}/data-debit/{self._key(key)}/enable/{self._key(bundle_name)}"
        return self._debit(self._call("GET", path, "enable"), "enable")

    def disable_data_debit(self, key: str, *, at_period_end: bool = False) -> DataDebit:
        """Withdraw consent: ``GET /api/v2.6/data-debit/{key}/disable?atPeriodEnd=``."""
        path = f"{_hat.API}/data-debit/{self._key(key)}/disable"
        params = {"atPeriodEnd": "true" if at_period_end else "false"}
        return self._debit(self._call("GET", path, "disable", params=params), "disable")

    def data_debit_values(self, key: str, *, v2: bool = False) -> DebitValues:
        """What the debit gives its holder: ``GET /api/v2.6/data-debit/{key}/values``
        (``{conditions?, bundle}``) or with ``v2`` the v2 shape (``{property: [records]}``).
        A debit not enabled (or past its end) is a :class:`HatRejectedError` (400)."""
        api = _hat.API_V2 if v2 else _hat.API
        answer = self._call("GET", f"{api}/data-debit/{self._key(key)}/values", "values")
        try:
            conditions, spec = _hat.debit_values(answer.data)
        except ProtocolError as exc:
            raise self._invalid("values", answer, str(exc)) from None
        return DebitValues(conditions, spec)
