"""The one HTTP boundary: every request of this package goes through :func:`send`.

What it promises, for the node and marketplace clients (and drivers that
call :func:`request_json`):

* bounded time: separate connect and read timeouts, and an overall
  deadline per request over the whole exchange (connecting, the TLS
  handshake, sending, the status line, the headers, the body), so that a
  server trickling its answer a byte at a time cannot stall a call past its
  timeout: the body is read in pieces, each read waiting at most until the
  deadline, and before the body a watchdog shuts the connection's socket
  down when the deadline passes (sessions from :func:`new_session`; see
  :class:`DeadlineAdapter` for a session of the caller's);
* bounded memory: answers are streamed up to a per-call limit, and a
  compressed answer is never inflated past it (a gzip bomb fails fast);
* redirects are never followed (credentials and state must not travel to
  another host): a 3xx is a permanent failure naming the status and the
  target host only;
* secrets never reach messages or logs: passwords and key-like query values
  in URLs, secret request fields echoed back in error bodies, the values of
  credential headers, and any string the caller names are masked;
* one list of transient statuses (:data:`TRANSIENT_STATUSES`: 408, 429 and
  every 5xx) and one place where error text is clipped (:func:`clip`).

``requests`` failures are mapped here into a neutral :class:`Failure`, which
each caller turns into its own exception (``fail``), so that a node client
raises :class:`~iota_publisher.errors.NodeError`\\ s and a marketplace client
:class:`~iota_publisher.errors.MarketplaceError`\\ s. :func:`retry` tries
transient ones again with capped exponential backoff and jitter.
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import json as _json
import logging
import os
import random
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urljoin, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error

from ._text import TEXT_LIMIT, clip
from ._version import __version__
from .errors import HttpError, HttpUnavailableError, InvalidInputError, TransientError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "NO_RETRY",
    "REDIRECT_STATUSES",
    "TEXT_LIMIT",
    "TRANSIENT_STATUSES",
    "USER_AGENT",
    "Answer",
    "DeadlineAdapter",
    "Failure",
    "HttpClient",
    "RetryPolicy",
    "Timeouts",
    "clip",
    "is_secret_name",
    "is_transient_status",
    "new_session",
    "redact_headers",
    "redact_url",
    "request_json",
    "retry",
    "scrub",
    "secrets_in",
    "send",
]

log = logging.getLogger(__name__)
# one line per retry, a logger of its own so a daemon can show it once per outage instead
retry_log = logging.getLogger(__name__ + ".retries")

USER_AGENT = f"iota-publisher/{__version__}"
DEFAULT_TIMEOUT = 30.0  # seconds, for connecting, for each read, and for the whole answer
DEFAULT_MAX_BYTES = 10_000_000  # bytes of an answer, after decompression
TRANSIENT_STATUSES = frozenset({408, 429, *range(500, 600)})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 65_536
_ACCEPT_ENCODING = "gzip, deflate"  # what :func:`send` can inflate within its limit
# names of fields, query parameters and headers whose values are secrets
_SECRET_NAMES = frozenset(
    {
        "apikey",
        "key",
        "sk",
        "secretkey",
        "secret",
        "sidekey",
        "seed",
        "password",
        "passwd",
        "pwd",
        "pass",
        "token",
        "accesstoken",
        "refreshtoken",
        "clientsecret",
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
        "auth",
        "signature",
        "sig",
        "code",
    }
)
_SECRET_SUFFIXES = ("key", "token", "secret", "password")
_NOT_ALNUM = re.compile(r"[^a-z0-9]")

T = TypeVar("T")


def is_transient_status(status: int) -> bool:
    """Whether an HTTP status is worth retrying later: 408, 429 or any 5xx."""
    return status in TRANSIENT_STATUSES


def is_secret_name(name: object) -> bool:
    """Whether a field, parameter or header called ``name`` holds a secret
    (``apiKey``, ``sk``, ``sidekey``, ``secretKey``, ``token``, ``Authorization`` ...)."""
    if not isinstance(name, str):
        return False
    plain = _NOT_ALNUM.sub("", name.lower())
    return plain in _SECRET_NAMES or plain.endswith(_SECRET_SUFFIXES)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (as it is, URL-quoted, JSON-escaped) replaced by ``***``."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        forms = {secret, quote(secret, safe=""), quote_plus(secret), _json.dumps(secret)[1:-1]}
        for form in forms:
            text = text.replace(form, "***")
    return text


def _values(value: Any, secret: bool, out: set[str]) -> None:
    """Collect the strings under secret-named keys of a JSON-like value."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            _values(v, secret or is_secret_name(k), out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _values(v, secret, out)
    elif secret and isinstance(value, (str, int)) and not isinstance(value, bool):
        text = str(value)
        if len(text) >= 4:  # too short to mask without masking everything else
            out.add(text)


def secrets_in(
    *,
    url: str | None = None,
    params: Any = None,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    form: Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    """The secrets a request carries: the URL's password and secret-named query
    values, secret-named fields of ``params``, of a JSON ``body`` (at any
    depth) and of a ``form``, and the values of credential headers (also
    without their ``Bearer``/``Basic`` scheme)."""
    out: set[str] = set()
    if url:
        parts = urlsplit(url)
        if parts.password:
            out.add(parts.password)
        _values(dict(parse_qsl(parts.query, keep_blank_values=True)), False, out)
    _values(params, False, out)
    _values(body, False, out)
    _values(form, False, out)
    for name, value in (headers or {}).items():
        if is_secret_name(name) and isinstance(value, str) and value:
            out.add(value)
            scheme, _, credential = value.partition(" ")
            if credential and scheme.isalpha():
                out.add(credential)
    return tuple(sorted(out))


def redact_url(url: str) -> str:
    """``url`` without its password and fragment, secret-named query values as ``***``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:***@{hostport}" if ":" in userinfo else f"{user}@{hostport}"
    query = parse_qsl(parts.query, keep_blank_values=True)
    shown = urlencode([(k, "***" if is_secret_name(k) else v) for k, v in query], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, shown, ""))


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` with credential values (Authorization, Cookie, keys, tokens)
    masked, for logs."""
    return {k: ("***" if is_secret_name(k) else v) for k, v in headers.items()}


def _origin(location: str, base: str) -> str:
    """``scheme://host[:port]`` of a redirect target (nothing of its path, query or user)."""
    parts = urlsplit(urljoin(base, location))
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = parts.hostname, None
    if not host:
        return "an unnamed host"
    shown = f"[{host}]" if ":" in host else host
    if port is not None:
        shown += f":{port}"
    return f"{parts.scheme}://{shown}" if parts.scheme else shown


@dataclass(frozen=True)
class Timeouts:
    """Seconds for connecting, for each read, and for the whole exchange (``total``,
    from the request until the last byte of the answer; ``None``: no deadline)."""

    connect: float
    read: float
    total: float | None

    @classmethod
    def of(cls, timeout: object) -> Timeouts:
        """One positive number for all three."""
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise InvalidInputError(
                f"timeout must be a positive number, not {timeout!r}", field="timeout"
            )
        seconds = float(timeout)
        return cls(seconds, seconds, seconds)


@dataclass(frozen=True)
class Failure:
    """Why an exchange failed, before a caller turns it into its own exception.

    ``kind``: ``timeout``, ``connection``, ``tls``, ``redirect``,
    ``too_large``, ``decoding`` or ``request``; ``reason`` says it in words
    (no secrets); ``name`` is the underlying exception's class name;
    ``transient`` whether it may pass; ``status`` the HTTP status, if one came.
    """

    kind: str
    reason: str
    transient: bool
    name: str | None = None
    status: int | None = None


@dataclass(frozen=True)
class Answer:
    """An HTTP answer that arrived whole, within its limits (any status but a redirect)."""

    status: int
    headers: Mapping[str, str]
    body: bytes = field(repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def transient(self) -> bool:
        return is_transient_status(self.status)

    def json(self) -> Any:
        """The body as JSON (``ValueError`` if it is not)."""
        return _json.loads(self.body.decode("utf-8"))

    def text(self, limit: int = TEXT_LIMIT) -> str:
        """The body for an error message: decoded, secrets masked, clipped."""
        return clip(scrub(self.body.decode("utf-8", "replace"), self.secrets), limit)


class _Abort(Exception):
    def __init__(self, failure: Failure, cause: BaseException | None = None) -> None:
        super().__init__(failure.reason)
        self.failure = failure
        self.cause = cause


def _transport_failure(
    exc: requests.RequestException, secrets: Iterable[str]
) -> tuple[Failure, BaseException]:
    """Map a ``requests`` failure; the cause is a scrubbed copy when its text held a secret
    (requests' messages quote the URL)."""
    message = scrub(str(exc), secrets)
    cause: BaseException = exc if message == str(exc) else type(exc)(message)
    name = type(exc).__name__
    said = clip(message)
    if isinstance(exc, requests.Timeout):
        return Failure("timeout", f"timed out ({name})", True, name), cause
    if isinstance(exc, requests.exceptions.SSLError):
        return Failure("tls", f"TLS failed: {said}", False, name), cause
    if isinstance(exc, (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        return Failure("connection", f"connection failed: {said}", True, name), cause
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return Failure("decoding", "the answer could not be decoded", False, name), cause
    return Failure("request", f"request failed: {said}", False, name), cause


class _Inflater:
    """Content-Encoding ``gzip``/``deflate`` (or none), inflated never past a limit."""

    def __init__(self, encoding: str) -> None:
        encoding = encoding.strip().lower()
        self._zlib: Any = None
        self._deflate = encoding == "deflate"
        self._first = True
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self._deflate:  # zlib-wrapped, as the RFC says; raw deflate as some servers send
            self._zlib = zlib.decompressobj()
        elif encoding not in ("", "identity"):
            raise ValueError(f"unsupported content encoding {encoding[:40]!r}")

    def feed(self, data: bytes, room: int) -> bytes:
        """At most ``room`` bytes of output for ``data``."""
        if self._zlib is None:
            return data[:room] if len(data) > room else data
        try:
            out = self._zlib.decompress(data, room)
        except zlib.error:
            if not (self._first and self._deflate):
                raise
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._zlib.decompress(data, room)
        self._first = False
        return out

    def finish(self) -> None:
        if self._zlib is not None and not self._first and not self._zlib.eof:
            raise zlib.error("the compressed answer is cut short")  # (an empty one is empty)


# -- the deadline over the whole exchange --------------------------------------------------
#
# ``requests`` hands out no socket until the status line and the headers are in, and each
# read until then waits up to the read timeout, so a server sending them a byte at a time
# would hold a call for ever. The connections of :class:`DeadlineAdapter` pools register
# their socket (as a duplicate descriptor, owned by the exchange) with the exchange running
# in their thread, when they connect and when a request starts on them; one watchdog thread
# keeps the deadlines in a heap and, when one passes (with a grace of _GRACE seconds, so that
# a read timeout ending at about the same time, as a silent server's does, is the failure
# reported), shuts the registered sockets down, which makes the blocked read (or write, or
# TLS handshake) fail at once. urllib3 discards
# a connection whose exchange failed, and :func:`send` does not release one whose deadline
# passed, so a shut-down connection never serves another request.

_local = threading.local()
_GRACE = 0.2  # seconds past the deadline before the watchdog steps in


class _Watch:
    """The deadline of one exchange and the sockets it runs on."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.expired = False
        self.done = False
        self._lock = threading.Lock()
        self._socks: list[tuple[object, socket.socket]] = []

    def attach(self, conn: object, sock: Any) -> None:
        with self._lock:
            if self.done or any(c is conn for c, _ in self._socks):
                return
            try:  # a descriptor of its own: shut down safely whoever closes the original
                dup = socket.fromfd(sock.fileno(), sock.family, sock.type)
            except (OSError, ValueError, AttributeError):
                return
            self._socks.append((conn, dup))
            if self.expired:
                _shut(dup)

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            for _, dup in self._socks:
                _shut(dup)

    def finish(self) -> None:
        with self._lock:
            self.done = True
            for _, dup in self._socks:
                dup.close()
            self._socks.clear()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already gone
        pass


def _attach(conn: object, sock: Any) -> None:
    watch: _Watch | None = getattr(_local, "watch", None)
    if watch is not None and sock is not None:
        watch.attach(conn, sock)


class _Watchdog:
    """One thread for every deadline of the process, started when first needed."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start afresh (in a forked child: no watchdog thread, maybe a lock held)."""
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, watch: _Watch) -> None:
        with self._cond:
            if len(self._heap) > 256:  # finished exchanges wait for their turn: sweep them
                self._heap = [entry for entry in self._heap if not entry[2].done]
                heapq.heapify(self._heap)
            entry = (watch.deadline + _GRACE, next(self._order), watch)
            heapq.heappush(self._heap, entry)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="iota-publisher-http-deadline", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is watch:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                left = self._heap[0][0] - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                watch = heapq.heappop(self._heap)[2]
            watch.expire()


_watchdog = _Watchdog()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_watchdog.reset)


class _WatchedConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _attach(self, sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self, self.sock)  # a kept-alive connection (a new one attaches as it connects)
        super().request(*args, **kwargs)


class _WatchedTlsConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _attach(self, sock)  # before the handshake, which the deadline bounds too
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self, self.sock)
        super().request(*args, **kwargs)


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _WatchedTlsPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedTlsConnection


_WATCHED_POOLS = {"http": _WatchedPool, "https": _WatchedTlsPool}


class DeadlineAdapter(HTTPAdapter):
    """The ``requests`` adapter of :func:`new_session`: a plain :class:`HTTPAdapter`
    (same pooling, same TLS verification) whose connections let :func:`send` bound the
    whole exchange, headers included, by its total deadline.

    A session passed in by a caller is used as it is (its adapters are not replaced);
    there the deadline bounds the body only, unless the caller mounts one::

        session.mount("http://", DeadlineAdapter())
        session.mount("https://", DeadlineAdapter())

    SOCKS proxies keep urllib3's own connections (body-only deadline).
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


def _socket_of(raw: Any) -> socket.socket | None:
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _read(
    response: requests.Response,
    url: str,
    timeouts: Timeouts,
    deadline: float | None,
    max_bytes: int,
    secrets: tuple[str, ...],
) -> Answer:
    status = response.status_code
    if status in REDIRECT_STATUSES:
        target = _origin(response.headers.get("Location", ""), url)
        reason = f"HTTP {status} redirect to {target} refused"
        raise _Abort(Failure("redirect", reason, False, status=status))
    too_large = Failure(
        "too_large", f"the answer is larger than {max_bytes} bytes", False, status=status
    )
    length = response.headers.get("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) > max_bytes:
        raise _Abort(too_large)
    try:
        inflater = _Inflater(response.headers.get("Content-Encoding", ""))
    except ValueError as exc:
        raise _Abort(Failure("decoding", str(exc), False, status=status)) from None
    raw = response.raw
    read = getattr(raw, "read1", None) or raw.read
    sock = _socket_of(raw)
    original = sock.gettimeout() if sock is not None else None
    parts: list[bytes] = []
    size = received = 0
    late = Failure(
        "timeout", f"no complete answer within {timeouts.total or 0:g} s", True, status=status
    )
    try:
        while True:
            wait = timeouts.read
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _Abort(late)
                wait = min(wait, left)
            if sock is not None:
                sock.settimeout(wait)
            try:
                data = read(_CHUNK, decode_content=False)
            except (
                OSError,
                http.client.HTTPException,
                requests.RequestException,
                Urllib3Error,  # ProtocolError (cut short), ReadTimeoutError, ...
            ) as exc:
                raise _Abort(_read_failure(exc, deadline, late, status)) from None
            if not data:
                break
            received += len(data)
            if received > max_bytes:
                raise _Abort(too_large)
            try:
                out = inflater.feed(data, max_bytes - size + 1)
            except zlib.error:
                raise _Abort(
                    Failure("decoding", "the answer could not be decoded", False, status=status)
                ) from None
            size += len(out)
            if size > max_bytes:
                raise _Abort(too_large)
            parts.append(out)
        try:
            inflater.finish()
        except zlib.error as exc:
            raise _Abort(Failure("decoding", str(exc), False, status=status)) from None
    finally:
        if sock is not None:
            try:
                sock.settimeout(original)
            except OSError:
                pass
    headers = {k: v for k, v in response.headers.items()}
    return Answer(status, headers, b"".join(parts), secrets)


def _read_failure(
    exc: BaseException, deadline: float | None, late: Failure, status: int
) -> Failure:
    name = type(exc).__name__
    if deadline is not None and time.monotonic() >= deadline:
        return late
    if isinstance(exc, (TimeoutError, socket.timeout)) or "Timeout" in name:
        return Failure("timeout", f"timed out ({name})", True, name, status)
    return Failure("connection", f"connection failed: the answer broke off ({name})", True, name)


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    fail: Callable[[Failure], BaseException],
    params: Any = None,
    json: Any = None,
    data: bytes | Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeouts: Timeouts,
    max_bytes: int = DEFAULT_MAX_BYTES,
    secrets: Iterable[str] = (),
    verify: bool | str = True,
) -> Answer:
    """One HTTP exchange within bounds; returns the :class:`Answer` (any status
    but a redirect) or raises ``fail(failure)`` (chained from a scrubbed copy of
    the ``requests`` error, and outside its handler, so nothing unscrubbed is
    the context).

    ``json`` is sent as a JSON body, ``data`` as it is (bytes) or form-encoded
    (a mapping); the secrets the request carries (:func:`secrets_in`) are
    masked in the answer's :meth:`Answer.text` along with ``secrets``.
    Redirects are refused; the answer is read up to ``max_bytes`` (after
    decompression). The whole exchange, from connecting to the last byte, ends
    within ``timeouts.total`` (a transient ``timeout`` failure, "no complete
    answer within N s"; before the body, up to 0.2 s later); before the body
    this needs a session of :func:`new_session` (or one with
    :class:`DeadlineAdapter` mounted).
    """
    form = data if isinstance(data, Mapping) else None
    found = secrets_in(url=url, params=params, body=json, headers=headers, form=form)
    masked = tuple(sorted({*found, *(s for s in secrets if s)}))
    sent_headers = {"Accept-Encoding": _ACCEPT_ENCODING, **(headers or {})}
    connect = timeouts.connect
    watch: _Watch | None = None
    if timeouts.total is not None:
        connect = min(connect, timeouts.total)  # a connect in progress has no socket to shut
        watch = _Watch(time.monotonic() + timeouts.total)
        _watchdog.arm(watch)
    deadline = None if watch is None else watch.deadline
    late = Failure("timeout", f"no complete answer within {timeouts.total or 0:g} s", True)
    failure: Failure | None = None
    cause: BaseException | None = None
    response: requests.Response | None = None
    answer: Answer | None = None
    _local.watch = watch
    try:
        try:
            response = session.request(
                method,
                url,
                params=params,
                json=json,
                data=data,
                headers=sent_headers,
                timeout=(connect, timeouts.read),
                verify=verify,
                stream=True,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            failure, cause = _transport_failure(exc, masked)
            if watch is not None and watch.expired:  # shut down at the deadline, whatever broke
                failure = late
        if failure is None and response is not None:
            try:
                answer = _read(response, url, timeouts, deadline, max_bytes, masked)
            except _Abort as abort:
                failure = abort.failure
    finally:
        _local.watch = None
        if watch is not None:
            watch.finish()
        if answer is None and response is not None:
            response.close()  # the rest of the body is not read: the connection goes
            response = None  # a traceback kept by the caller must not keep the socket open
    if failure is not None or response is None or answer is None:
        raise fail(failure or Failure("request", "no answer", False)) from cause
    if watch is not None and watch.expired:  # whole, but its socket may be shut: not reused
        response.close()
        return answer
    release = getattr(response.raw, "release_conn", None)
    if release is not None:  # read to the end: the connection may serve the next request
        release()
    return answer


def request_json(
    method: str,
    url: str,
    *,
    session: requests.Session | None = None,
    params: Any = None,
    json: Any = None,
    data: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = 1_000_000,
    secrets: Iterable[str] = (),
    check: bool = True,
) -> Answer:
    """A plain bounded JSON exchange through :func:`send`, for callers without a
    client class of their own (drivers). ``json`` is sent as a JSON body,
    ``data`` as a form (``application/x-www-form-urlencoded``).

    Raises :class:`~iota_publisher.errors.HttpUnavailableError` (a
    :class:`~iota_publisher.errors.TransientError`: no answer in time, a
    dropped connection, or, with ``check``, a transient status) or
    :class:`~iota_publisher.errors.HttpError` (TLS, a redirect, an answer
    over ``max_bytes`` or that does not decode; with ``check``, any other
    non-2xx status and a 2xx body that is not JSON). With ``check=False``
    every answer but a redirect is returned, to read its status and error
    body (:meth:`Answer.json`, :meth:`Answer.text`). ``session`` defaults to
    a new one, closed afterwards. Messages name the URL without its secrets.
    """
    shown = redact_url(url)
    timeouts = Timeouts.of(timeout)

    def fail(failure: Failure) -> HttpError:
        cls = HttpUnavailableError if failure.transient else HttpError
        return cls(
            f"{method} {shown} failed: {failure.reason}",
            url=shown,
            kind=failure.kind,
            status=failure.status,
        )

    own = session is None
    active = new_session() if session is None else session
    try:
        answer = send(
            active,
            method,
            url,
            fail=fail,
            params=params,
            json=json,
            data=data,
            headers=headers,
            timeouts=timeouts,
            max_bytes=max_bytes,
            secrets=secrets,
        )
    finally:
        if own:
            active.close()
    if check:
        if not answer.ok:
            cls = HttpUnavailableError if answer.transient else HttpError
            text = answer.text() or None
            said = f": {text}" if text else ""
            raise cls(
                f"{method} {shown} failed: HTTP {answer.status}{said}",
                url=shown,
                kind="status",
                status=answer.status,
                text=text,
            )
        try:
            answer.json()
        except ValueError:
            raise HttpError(
                f"{method} {shown} failed: the answer is not JSON",
                url=shown,
                kind="json",
                status=answer.status,
            ) from None
    return answer


# -- retrying ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry transient failures.

    ``attempts`` counts every try (1 = no retry). The n-th wait is
    ``min(max_delay, base_delay * 2**n)``, shortened by up to ``jitter``
    (a fraction) at random so that many devices do not retry in step.
    """

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise InvalidInputError("retry attempts must be at least 1", field="attempts")
        if self.base_delay < 0 or self.max_delay < 0 or not 0 <= self.jitter <= 1:
            raise InvalidInputError("retry delays must be >= 0 and jitter in 0..1", field="retry")

    def delay(self, retry_number: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry ``retry_number`` (0-based)."""
        capped = min(self.max_delay, self.base_delay * 2**retry_number)
        return capped * (1 - self.jitter * rng())


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)


def retry(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
    stop: threading.Event | None = None,
) -> T:
    """Run ``call``; on a :class:`TransientError`, wait and try again per ``policy``.

    ``what`` names the operation in log lines (never put secrets in it).
    The last transient error is raised when the attempts are used up, or at
    once when ``stop`` is set (before or during a wait: pass
    ``sleep=stop.wait`` for a wait that ends when it is set).
    """
    for attempt in range(policy.attempts):
        try:
            return call()
        except TransientError as exc:
            if attempt + 1 >= policy.attempts or (stop is not None and stop.is_set()):
                raise
            wait = policy.delay(attempt, rng)
            retry_log.warning(
                "%s failed (%s); retry %d of %d in %.1f s",
                what,
                exc,
                attempt + 1,
                policy.attempts - 1,
                wait,
            )
            sleep(wait)
            if stop is not None and stop.is_set():
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def new_session() -> requests.Session:
    """A session with this package's User-Agent (TLS verification stays on) whose
    connections :func:`send` can bound by its total deadline (:class:`DeadlineAdapter`)."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.mount("http://", DeadlineAdapter())
    session.mount("https://", DeadlineAdapter())
    return session


class HttpClient:
    """What the node and marketplace clients share: the session they own (or
    were given), TLS verification that cannot be switched off, validated
    timeouts, the retry seams (``sleep``, ``rng``) and :meth:`interrupt`.

    ``sleep=None`` waits on an event that :meth:`interrupt` sets, so that a
    client waiting to retry can be stopped at once.
    """

    def __init__(
        self,
        *,
        session: requests.Session | None,
        timeout: float,
        retry_policy: RetryPolicy,
        sleep: Callable[[float], None] | None,
        rng: Callable[[], float],
    ) -> None:
        self._timeouts = Timeouts.of(timeout)
        self._timeout_seconds = self._timeouts.read
        self._retry_policy = retry_policy
        self._stop = threading.Event()
        self._sleep: Callable[[float], None] = self._pause if sleep is None else sleep
        self._rng = rng
        self._owns_session = session is None
        self._session = new_session() if session is None else session
        verify = self._session.verify  # a CA bundle path is honoured, verify=False is not
        self._verify: bool | str = verify if isinstance(verify, str) else True

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _pause(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def interrupt(self) -> None:
        """End a wait between retries at once (the call raises its last transient
        error); later calls are tried once, without retries. Safe from any thread."""
        self._stop.set()

    def close(self) -> None:
        """Close the session if this client created it."""
        if self._owns_session:
            self._session.close()

    def _retry(self, call: Callable[[], T], *, what: str, retried: bool = True) -> T:
        return retry(
            call,
            self._retry_policy if retried else NO_RETRY,
            what=what,
            sleep=self._sleep,
            rng=self._rng,
            stop=self._stop,
        )

    def _exchange(
        self,
        method: str,
        url: str,
        *,
        fail: Callable[[Failure], BaseException],
        max_bytes: int,
        params: Any = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
    ) -> Answer:
        return send(
            self._session,
            method,
            url,
            fail=fail,
            params=params,
            json=json,
            data=data,
            headers=headers,
            timeouts=self._timeouts,
            max_bytes=max_bytes,
            secrets=secrets,
            verify=self._verify,
        )
