"""A client for the IOTA Data Marketplace API (the cloud functions in
``iotaledger/data-marketplace``, ``firebase_functions/``). Devices need only
:meth:`MarketplaceClient.new_data`; the rest serves device owners and buyers.

Endpoints, packet shapes and checks are those of
:mod:`iota_publisher.protocol.marketplace`, the device rules those of
:mod:`iota_publisher.device`; HTTP goes through :mod:`iota_publisher._http`.

Failures are :class:`~iota_publisher.errors.MarketplaceError` subclasses with
``endpoint``, ``status`` and ``text`` (the server's error message):
:class:`MarketplaceUnavailableError` (no connection, timeout, HTTP 5xx/408/429),
:class:`InvalidSecretKeyError` (403 from newData), :class:`MarketplaceRejectedError`
(other 4xx, and the 200 ``{error}`` / ``{success: false}`` answers the cloud
functions refuse with) and :class:`InvalidMarketplaceResponseError`. Bad
arguments raise :class:`InvalidInputError` before anything is sent. Secret
keys and API keys never appear in this module's messages or logs (``devices``
must send the API key in its query string, which urllib3's DEBUG log shows).
"""

from __future__ import annotations

import json
import logging
import random
import time as _time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import requests

from ._http import (
    DEFAULT_RETRY,
    DEFAULT_TIMEOUT,
    Failure,
    HttpClient,
    RetryPolicy,
    clip,
    is_transient_status,
    redact_url,
    scrub,
)
from .device import validate_data_types, validate_device
from .errors import (
    InvalidInputError,
    InvalidMarketplaceResponseError,
    InvalidSecretKeyError,
    MarketplaceError,
    MarketplaceRejectedError,
    MarketplaceUnavailableError,
    ProtocolError,
)
from .protocol import invalid_input
from .protocol import marketplace as _mp
from .protocol.marketplace import STREAM_PAGE_SIZE, StreamPacket

__all__ = [
    "STREAM_PAGE_SIZE",
    "MarketplaceClient",
    "StreamPacket",
    "validate_data_types",
    "validate_device",
]

log = logging.getLogger(__name__)

# the client's argument names where they differ from the wire's
_ARGUMENTS = {"id": "sensor_id", "sk": "secret_key"}


class _Answer(NamedTuple):
    status: int
    data: Any
    text: str | None  # the body, clipped and scrubbed (None for secret-bearing answers)


def _text(value: object, field: str) -> str:
    """A non-empty string argument (its value is never put in the message)."""
    try:
        return _mp.text(value, field)
    except ProtocolError as exc:
        raise invalid_input(exc) from None


def _check_time(value: object) -> int:
    try:
        return _mp.time_ms(value)
    except ProtocolError as exc:
        raise invalid_input(exc) from None


def _base_url(url: object, field: str) -> str:
    if not isinstance(url, str):
        raise InvalidInputError(f"{field} must be a URL string", field=field)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInputError(f"{field} must be an http(s) URL, not {url!r}", field=field)
    return url.rstrip("/")


class MarketplaceClient(HttpClient):
    """Talk to a marketplace whose cloud functions live under ``api``.

    ``new_data_url`` overrides where packets are registered (default
    ``<api>/newData``). ``session`` defaults to a new one, closed by
    :meth:`close`; a session passed in is left open. ``timeout`` (seconds)
    bounds connecting, each read and the whole answer of every call; TLS
    certificates are always verified and redirects refused. Transient failures
    of calls that are safe to repeat (newData, and the reads devices, user and
    stream) are retried per ``retry_policy``, waiting with ``sleep`` (by
    default a wait that :meth:`interrupt` ends; jitter drawn by ``rng``). newDevice, delete,
    wallet and purchaseStream are sent once: repeating them after a lost
    answer could create a second key, fund twice or pay twice. Not thread-safe.
    """

    def __init__(
        self,
        api: str,
        *,
        new_data_url: str | None = None,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.api = _base_url(api, "api")
        self.new_data_url = (
            self.api + "/newData"
            if new_data_url is None
            else _base_url(new_data_url, "new_data_url")
        )
        super().__init__(
            session=session, timeout=timeout, retry_policy=retry_policy, sleep=sleep, rng=rng
        )
        self._timeout = self._timeout_seconds

    @classmethod
    def from_endpoint(cls, endpoint: str, **kw: Any) -> MarketplaceClient:
        """A client from a template's ``endpoint`` (its newData URL).

        ``https://host/path/newData`` gives the API base ``https://host/path``.
        An endpoint not ending in ``/newData`` is used as it is for newData,
        and its parent path as the API base.
        """
        url = _base_url(endpoint, "endpoint")
        parts = urlsplit(url)
        if parts.path.endswith("/newData"):
            base = parts.path[: -len("/newData")]
        else:
            base = parts.path.rpartition("/")[0]
        api = urlunsplit(parts._replace(path=base, query="", fragment=""))
        return cls(api, new_data_url=url, **kw)

    def __repr__(self) -> str:
        return f"MarketplaceClient({redact_url(self.api)!r})"

    # -- the HTTP boundary ---------------------------------------------------

    def _call(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        secrets: tuple[str, ...] = (),
    ) -> _Answer:
        """One call of ``endpoint``, retried per the policy only if the protocol
        counts it safe to repeat (:data:`~iota_publisher.protocol.marketplace.REPEATABLE`)."""
        url = self.new_data_url if endpoint == _mp.NEW_DATA else f"{self.api}/{endpoint}"
        return self._retry(
            lambda: self._send(method, endpoint, url, params, body, secrets),
            what=f"marketplace {endpoint}",
            retried=endpoint in _mp.REPEATABLE,
        )

    def _send(
        self,
        method: str,
        endpoint: str,
        url: str,
        params: dict[str, Any] | None,
        body: dict[str, Any] | None,
        secrets: tuple[str, ...],
    ) -> _Answer:
        """One request; every failure and refusal is mapped here. Secret-named
        request fields (``sk``, ``sidekey``, ``apiKey``...) are masked in what the
        server echoes, as are ``secrets``."""

        def fail(
            cls: type[MarketplaceError],
            reason: str,
            status: int | None = None,
            text: str | None = None,
        ) -> MarketplaceError:
            return cls(
                f"marketplace {endpoint} failed: {reason}",
                endpoint=endpoint,
                status=status,
                text=text,
            )

        started = _time.monotonic()

        def transport(failure: Failure) -> MarketplaceError:
            log.debug(
                "marketplace %s %s: %s after %.3f s",
                method,
                endpoint,
                failure.name or failure.kind,
                _time.monotonic() - started,
            )
            if failure.kind == "timeout":
                return fail(
                    MarketplaceUnavailableError, f"timed out after {self._timeout_seconds:g} s"
                )
            if failure.kind == "connection":
                return fail(MarketplaceUnavailableError, failure.reason)
            if failure.kind in ("redirect", "too_large", "decoding"):
                return fail(InvalidMarketplaceResponseError, failure.reason, failure.status)
            return fail(MarketplaceError, failure.reason)  # a bad certificate stays bad

        answer = self._exchange(
            method,
            url,
            fail=transport,
            max_bytes=_mp.answer_limit(endpoint),
            params=params,
            json=body,
            secrets=secrets,
        )
        status = answer.status
        log.debug(
            "marketplace %s %s: HTTP %d in %.3f s",
            method,
            endpoint,
            status,
            _time.monotonic() - started,
        )
        try:
            data = answer.json()
        except ValueError as exc:
            data, decode_error = None, exc
        else:
            decode_error = None
        error = data.get("error") if isinstance(data, dict) else None
        if error is not None and not isinstance(error, str):
            error = json.dumps(error)
        body_text = answer.text() or None
        text = clip(scrub(error, answer.secrets)) if error is not None else body_text
        said = f": {text}" if text else ""
        if status == 403 and endpoint == _mp.NEW_DATA:
            raise fail(
                InvalidSecretKeyError,
                "HTTP 403: the device id is unknown or the secret "
                f"key is wrong (server said{said or ' nothing'})",
                status,
                text,
            )
        if is_transient_status(status):
            raise fail(MarketplaceUnavailableError, f"HTTP {status}{said}", status, text)
        if 400 <= status < 500:
            raise fail(MarketplaceRejectedError, f"HTTP {status}{said}", status, text)
        if not 200 <= status < 300:
            raise fail(InvalidMarketplaceResponseError, f"unexpected HTTP {status}", status, text)
        if decode_error is not None:
            raise fail(
                InvalidMarketplaceResponseError, "the answer is not JSON", status, body_text
            ) from decode_error
        if error is not None:  # the cloud functions refuse some requests with 200 {error}
            raise fail(MarketplaceRejectedError, f"refused{said}", status, text)
        return _Answer(status, data, None if endpoint in _mp.SECRET_ANSWERS else body_text)

    @staticmethod
    def _invalid(endpoint: str, answer: _Answer, what: str) -> InvalidMarketplaceResponseError:
        return InvalidMarketplaceResponseError(
            f"marketplace {endpoint} failed: invalid answer: {what}",
            endpoint=endpoint,
            status=answer.status,
            text=answer.text,
        )

    def _expect_success(self, endpoint: str, answer: _Answer, refused: str) -> None:
        """Accept ``{"success": true}``; ``{"success": false}`` is a refusal."""
        success = answer.data.get("success") if isinstance(answer.data, dict) else None
        if success is True:
            return
        if success is False:
            raise MarketplaceRejectedError(
                f"marketplace {endpoint} failed: {refused}",
                endpoint=endpoint,
                status=answer.status,
                text=answer.text,
            )
        raise self._invalid(endpoint, answer, 'expected {"success": true}')

    # -- publishing ----------------------------------------------------------

    def new_data(
        self, sensor_id: str, secret_key: str, *, root: str, sidekey: str, time: int
    ) -> None:
        """Register one MAM message of device ``sensor_id``: ``POST newData``
        ``{"id", "sk", "packet": {"root", "sidekey", "time"}}``.

        ``root`` and ``sidekey`` are 81 trytes, ``time`` the packet's time in
        ms. Raises :class:`InvalidSecretKeyError` (never retried) on 403. The
        cloud function answers 403 for any failure while storing, too.
        """
        try:
            _mp.text(sensor_id, "id")
            _mp.text(secret_key, "sk")
            body = _mp.new_data_request(sensor_id, secret_key, _mp.new_data(root, sidekey, time))
        except ProtocolError as exc:
            raise invalid_input(exc, _ARGUMENTS) from None
        answer = self._call("POST", "newData", body=body, secrets=(secret_key,))
        self._expect_success("newData", answer, "the packet was not stored")

    # -- device management ---------------------------------------------------

    def new_device(self, api_key: str, device: Mapping[str, Any]) -> str:
        """Create a device (``POST newDevice {apiKey, id, device}``); return its secret key.

        ``device`` is checked with :func:`validate_device` first; ``id`` is its
        ``sensorId``. Servers before September 2019 answered without ``sk``:
        that is an :class:`InvalidMarketplaceResponseError` (the device exists;
        ``devices(user_id, api_key)`` lists its key).
        """
        _text(api_key, "api_key")
        clean = validate_device(device)
        answer = self._call(
            "POST",
            "newDevice",
            body={"apiKey": api_key, "id": clean["sensorId"], "device": clean},
            secrets=(api_key,),
        )
        self._expect_success("newDevice", answer, "the device was not created")
        sk = answer.data.get("sk")
        if not isinstance(sk, str) or not sk:
            raise self._invalid(
                "newDevice",
                answer,
                "no secret key 'sk' (the device may exist; "
                "devices(user_id, api_key) lists its key)",
            )
        return sk

    def devices(
        self, user_id: str | None = None, api_key: str | None = None
    ) -> list[dict[str, Any]]:
        """All devices (``GET devices``), or one user's with both ``user_id`` and
        ``api_key`` (those entries include each device's secret key ``sk``)."""
        if (user_id is None) != (api_key is None):
            missing = "api_key" if api_key is None else "user_id"
            raise InvalidInputError("give both user_id and api_key, or neither", field=missing)
        params = None
        if user_id is not None and api_key is not None:
            params = {"userId": _text(user_id, "user_id"), "apiKey": _text(api_key, "api_key")}
        answer = self._call("GET", "devices", params=params, secrets=(api_key,) if api_key else ())
        data = answer.data
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise self._invalid("devices", answer, "expected a list of device objects")
        return data

    def delete_device(self, api_key: str, device_id: str) -> None:
        """Delete a device and its wallet seed (``DELETE delete {apiKey, deviceId}``)."""
        body = {"apiKey": _text(api_key, "api_key"), "deviceId": _text(device_id, "device_id")}
        answer = self._call("DELETE", "delete", body=body, secrets=(api_key,))
        self._expect_success("delete", answer, "the device was not deleted")

    # -- buying and reading --------------------------------------------------

    def user(self, user_id: str, *, api_key: str | None = None) -> dict[str, Any]:
        """A user's record (``GET user?userId=``): ``wallet``, ``numberOfDevices``...
        It may hold the user's ``apiKey``: do not log it. An unknown user
        (the server answers ``null``) is a :class:`MarketplaceRejectedError`.

        ``api_key`` (the user's) is sent as ``apiKey``: servers that guard
        the wallet seed require it (the sandbox does); the 2019 cloud
        function ignores it."""
        params = _with_key({"userId": _text(user_id, "user_id")}, api_key)
        answer = self._call("GET", "user", params=params, secrets=_secrets(api_key))
        if answer.data is None:
            raise MarketplaceRejectedError(
                "marketplace user failed: no such user",
                endpoint="user",
                status=answer.status,
                text=None,
            )
        if not isinstance(answer.data, dict):
            raise self._invalid("user", answer, "expected a user object")
        return answer.data

    def wallet(self, user_id: str, *, api_key: str | None = None) -> None:
        """Create (or, on 2021 servers, refill) the user's wallet with free devnet
        tokens (``POST wallet {userId}``). Accepts ``{"success": true}`` (2019)
        and ``{"messageId": ...}`` (2021, HTTP 200 or 201). ``api_key`` is
        sent as ``apiKey`` (see :meth:`user`)."""
        body = _with_key({"userId": _text(user_id, "user_id")}, api_key)
        answer = self._call("POST", "wallet", body=body, secrets=_secrets(api_key))
        if isinstance(answer.data, dict) and isinstance(answer.data.get("messageId"), str):
            return
        self._expect_success("wallet", answer, "the wallet was not funded")

    def purchase_stream(self, user_id: str, device_id: str, *, api_key: str | None = None) -> None:
        """Buy access to a device's stream (``POST purchaseStream {userId, deviceId}``).
        Refusals such as "Not enough funds" come as 200 ``{error}``: rejected.
        ``api_key`` is sent as ``apiKey`` (see :meth:`user`)."""
        body = _with_key(
            {"userId": _text(user_id, "user_id"), "deviceId": _text(device_id, "device_id")},
            api_key,
        )
        answer = self._call("POST", "purchaseStream", body=body, secrets=_secrets(api_key))
        self._expect_success("purchaseStream", answer, "the stream was not purchased")

    def stream(
        self,
        device_id: str,
        user_id: str,
        time: int | None = None,
        *,
        api_key: str | None = None,
    ) -> list[StreamPacket]:
        """One page (up to 20 packets) of a purchased stream, newest first: the
        packets older than ``time`` (ms). ``None`` means now and leaves the
        parameter out (the server would read the documented ``time=null`` as NaN).
        ``api_key`` (the buyer's) is sent as ``apiKey`` (see :meth:`user`).

        The answer is a JSON array of ``{time, root, sidekey}`` (2021 entries
        add ``messageId``, ignored): the only shape the cloud function has ever
        sent, so no other is accepted. ``{"success": false}`` (not purchased)
        raises :class:`MarketplaceRejectedError`.
        """
        params: dict[str, Any] = {
            "deviceId": _text(device_id, "device_id"),
            "userId": _text(user_id, "user_id"),
        }
        if time is not None:
            params["time"] = _check_time(time)
        params = _with_key(params, api_key)
        answer = self._call("GET", "stream", params=params, secrets=_secrets(api_key))
        data = answer.data
        if isinstance(data, dict) and data.get("success") is False:
            raise MarketplaceRejectedError(
                f"marketplace stream failed: the stream of {device_id!r} was not purchased "
                "by this user",
                endpoint="stream",
                status=answer.status,
                text=None,
            )
        if not isinstance(data, list):
            raise self._invalid("stream", answer, "expected a list of packets")
        return [self._packet(answer, i, entry) for i, entry in enumerate(data)]

    def _packet(self, answer: _Answer, i: int, entry: object) -> StreamPacket:
        try:
            return _mp.stream_packet(entry, i)
        except ProtocolError as exc:
            raise self._invalid("stream", answer, str(exc)) from None

    def iter_stream(
        self, device_id: str, user_id: str, *, api_key: str | None = None
    ) -> Iterator[StreamPacket]:
        """Every packet of a purchased stream, newest first, page by page
        (``api_key`` as for :meth:`stream`).

        Each next page asks for packets before the smallest time seen; the
        iteration stops on a short or empty page. Packets not older than the
        cursor (a server ignoring it, repeating a page) are dropped, and a page
        without any older one ends the iteration. The server pages with a
        strict ``time <``, so packets sharing a time across a page boundary
        are skipped by it; nothing here can recover them.
        """
        cursor: int | None = None
        while True:
            page = self.stream(device_id, user_id, cursor, api_key=api_key)
            fresh = page if cursor is None else [p for p in page if p.time < cursor]
            yield from fresh
            if len(page) < STREAM_PAGE_SIZE or not fresh:
                return
            cursor = min(p.time for p in fresh)


def _with_key(fields: dict[str, Any], api_key: str | None) -> dict[str, Any]:
    """``fields`` with ``apiKey`` added when one is given."""
    if api_key is None:
        return fields
    return {**fields, "apiKey": _text(api_key, "api_key")}


def _secrets(api_key: str | None) -> tuple[str, ...]:
    return (api_key,) if api_key else ()
