"""Exceptions raised by iota-publisher: one tree, rooted at :class:`PublisherError`.

Leaves also derive from the builtin that matches their meaning, so
``except ValueError`` (or ``except TimeoutError``) keeps working for callers
who do not know this package. Every class is defined here and re-exported by
the module that raises it (``iota_publisher.pow.PowTimeoutError`` is
``iota_publisher.errors.PowTimeoutError``).

As in h11 (``LocalProtocolError`` / ``RemoteProtocolError``), two families are
kept apart on purpose, because they call for different fixes:

* :class:`InvalidInputError`: the *caller* got it wrong (a bad argument, a bad
  config, a bundle it built). Fix the call; retrying it cannot help.
* :class:`PeerDataError`: a *peer* sent data that does not meet the protocol
  (a node's or the marketplace's answer, a MAM message read from the Tangle).
  The caller did nothing wrong; the peer is broken, hostile, or, for a MAM
  message, read with the wrong key.

The same data can land in either family depending on who hands it in: a
bundle the caller passes to :func:`~iota_publisher.trinary.validate_bundle`
that does not validate is a :class:`BundleError`, while the same bundle read
from a node is the node's fault, for a client to report as an
:class:`InvalidNodeResponseError` (``from`` the :class:`BundleError`).

The rest are operational failures. :class:`TransientError` is a mixin on the
ones worth retrying later (a node down, a sensor warming up); anything else is
permanent::

    PublisherError
    ├── InvalidInputError (ValueError)              the caller's mistake; .field
    │   ├── InvalidTrytesError                      bad alphabet or length
    │   ├── ConfigError                             a config setting; .field names it
    │   │   └── drivers.netatmo.NetatmoAuthError    (also DriverError)
    │   ├── UnitError                               units that do not convert (payload)
    │   ├── PascalDecodeError                       trits that are no Pascal integer
    │   └── BundleError                             transactions that are no bundle
    ├── PeerDataError (ValueError)                  a peer's data breaks the protocol
    │   ├── MamParseError (also MamError)           a MAM payload that does not decode
    │   │   └── MamSignatureError                   ... or does not lead to its root
    │   ├── InvalidNodeResponseError (also NodeError)
    │   └── InvalidMarketplaceResponseError (also MarketplaceError)
    ├── TransientError                              mixin: worth retrying later
    ├── MamError                                    MAM channel errors
    ├── NodeError                                   an IRI call failed; .command, .status, .text
    │   ├── NodeUnavailableError (TransientError)   unreachable, timed out, 5xx / 429
    │   └── NodeRejectedError                       refused (4xx)
    ├── MarketplaceError                            a marketplace call failed; .endpoint, ...
    │   ├── MarketplaceUnavailableError (TransientError)
    │   └── MarketplaceRejectedError                refused (4xx, ``success: false``)
    │       └── InvalidSecretKeyError               403 from newData
    ├── PowTimeoutError (TimeoutError)              the nonce search ran out of time
    ├── StoreError                                  the state database cannot be used
    │   └── StoreLockedError                        another process holds it
    ├── sandbox.SandboxError                        the local sandbox cannot run
    └── drivers.DriverError                         a sensor driver failed; .driver
        ├── SensorUnavailableError (TransientError)
        ├── SensorDataError (ValueError)            data that fails the driver's checks
        │   └── SensorWarmingUpError (TransientError)
        └── SourceExhausted                         a finite source has no more readings

(``SandboxError`` and the driver errors are still defined in their packages.
A sensor's bad frame is bad data from a peer too: ``SensorDataError`` belongs
under :class:`PeerDataError` once the drivers take their errors from here.)

The one warning, :class:`PureFallbackWarning` (a ``RuntimeWarning``), says that
hashing runs on the slow pure-Python backend because the native kernel is
missing.

Messages name the offending field but never include secret values (seeds,
side keys, secret keys, API keys).
"""

from __future__ import annotations

__all__ = [
    "BundleError",
    "ConfigError",
    "InvalidInputError",
    "InvalidMarketplaceResponseError",
    "InvalidNodeResponseError",
    "InvalidSecretKeyError",
    "InvalidTrytesError",
    "MamError",
    "MamParseError",
    "MamSignatureError",
    "MarketplaceError",
    "MarketplaceRejectedError",
    "MarketplaceUnavailableError",
    "NodeError",
    "NodeRejectedError",
    "NodeUnavailableError",
    "PascalDecodeError",
    "PeerDataError",
    "PowTimeoutError",
    "PublisherError",
    "PureFallbackWarning",
    "StoreError",
    "StoreLockedError",
    "TransientError",
    "UnitError",
]


class PublisherError(Exception):
    """Root of every exception raised by iota-publisher."""


# -- the caller's mistakes ---------------------------------------------------


class InvalidInputError(PublisherError, ValueError):
    """An argument passed by the caller is invalid.

    ``field`` names the argument (``"seed"``, ``"security"`` ...), or is
    ``None`` when the argument has no name worth reporting.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidTrytesError(InvalidInputError):
    """A tryte string has characters outside ``9A-Z`` or the wrong length."""


class ConfigError(InvalidInputError):
    """A configuration file or setting is invalid; ``field`` names the setting."""


class UnitError(InvalidInputError):
    """Two units cannot be converted into each other (or one is unknown)."""


class PascalDecodeError(InvalidInputError):
    """The trits do not start with a complete Pascal-encoded integer."""


class BundleError(InvalidInputError):
    """A list of transactions is not a consistent bundle."""


# -- bad data from a peer ----------------------------------------------------


class PeerDataError(PublisherError, ValueError):
    """A peer sent data that does not meet the protocol.

    The peer is a node or the marketplace (their answers) or the Tangle (a MAM
    message read back). Not the caller's mistake: see :class:`InvalidInputError`
    for that.
    """


class MamError(PublisherError):
    """Base class for MAM channel errors."""


class MamParseError(MamError, PeerDataError):
    """A MAM payload could not be decoded (truncated, malformed or tampered)."""


class MamSignatureError(MamParseError):
    """A MAM payload decoded, but its signature does not lead to the root.

    This is what a wrong side key, a wrong root or a tampered payload
    usually look like: the three cannot be told apart from the payload alone.
    """


# -- operational failures ----------------------------------------------------


class TransientError(PublisherError):
    """Mixin for failures worth retrying later (network down, server busy).

    Anything that is not a ``TransientError`` is permanent: retrying the same
    request cannot succeed.
    """


class PowTimeoutError(PublisherError, TimeoutError):
    """The nonce search ran out of time."""


class StoreError(PublisherError):
    """The state database cannot be used."""


class StoreLockedError(StoreError):
    """Another process holds the state directory."""


class _RemoteError(PublisherError):
    """An HTTP peer failed or refused a request.

    ``status`` is the HTTP status (``None`` when no answer came), ``text``
    the peer's error message (from its JSON ``error`` field when it sent one).
    """

    def __init__(self, message: str, *, status: int | None = None, text: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.text = text


class NodeError(_RemoteError):
    """An IRI node call failed. ``command`` names the API command."""

    def __init__(
        self,
        message: str,
        *,
        command: str | None = None,
        status: int | None = None,
        text: str | None = None,
    ) -> None:
        super().__init__(message, status=status, text=text)
        self.command = command


class NodeUnavailableError(NodeError, TransientError):
    """The node could not be reached, timed out, or answered 5xx / 429."""


class NodeRejectedError(NodeError):
    """The node refused the request (4xx): retrying it unchanged will not help."""


class InvalidNodeResponseError(NodeError, PeerDataError):
    """The node answered, but not with what the API promises."""


class MarketplaceError(_RemoteError):
    """A Data Marketplace call failed. ``endpoint`` names the API endpoint."""

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        status: int | None = None,
        text: str | None = None,
    ) -> None:
        super().__init__(message, status=status, text=text)
        self.endpoint = endpoint


class MarketplaceUnavailableError(MarketplaceError, TransientError):
    """The marketplace could not be reached, timed out, or answered 5xx / 429."""


class MarketplaceRejectedError(MarketplaceError):
    """The marketplace refused the request (4xx, or ``success: false``)."""


class InvalidSecretKeyError(MarketplaceRejectedError):
    """403 from newData: the device id is unknown or its secret key is wrong."""


class InvalidMarketplaceResponseError(MarketplaceError, PeerDataError):
    """The marketplace answered, but not with what the API promises."""


# -- warnings ----------------------------------------------------------------


class PureFallbackWarning(RuntimeWarning):
    """The native kernel is missing; hashing falls back to (slow) pure Python."""


# -- classes added by other areas go below, each block commented with its area --

# -- drivers ------------------------------------------------------------------------
# The sensor drivers' errors (iota_publisher.drivers re-exports them). A driver that
# gets bad data from its sensor raises SensorDataError, one whose sensor does not
# answer raises SensorUnavailableError; bad options are a ConfigError naming them.

__all__ += [
    "DriverError",
    "NetatmoAuthError",
    "SensorDataError",
    "SensorUnavailableError",
    "SensorWarmingUpError",
    "SourceExhausted",
]


class DriverError(PublisherError):
    """A driver failed. ``driver`` names it (e.g. ``"bme280"``)."""

    def __init__(self, message: str, *, driver: str | None = None) -> None:
        super().__init__(message)
        self.driver = driver


class SensorUnavailableError(DriverError, TransientError):
    """The sensor or service did not answer (unplugged, asleep, out of range, offline)."""


class SensorDataError(DriverError, PeerDataError):
    """The sensor answered with data that fails its checks (checksum, range, frame)."""


class SensorWarmingUpError(SensorDataError, TransientError):
    """The sensor answers, but is still warming up (MH-Z19B preheat, a fan
    spinning up): its values cannot be trusted yet. Transient: read again later."""


class SourceExhausted(DriverError):
    """A finite source has no more records (a ``file`` without ``loop``).

    Like :class:`StopIteration` for a driver: it is not transient, and every
    later read raises it again. The caller should stop reading this source.
    """


class NetatmoAuthError(DriverError, ConfigError):
    """Netatmo refused the credentials: a new token pair (or client id/secret) is needed.

    Permanent: retrying cannot succeed. It is a :class:`ConfigError` too, with
    ``field`` naming the setting to fix.
    """

    def __init__(self, message: str, *, field: str = "refresh_token") -> None:
        super().__init__(message, driver="netatmo")
        self.field = field


# -- Curl backends (trinary._curl) ---------------------------------------------


class NativeKernelUnavailableError(PublisherError, RuntimeError):
    """The native Curl backend was asked for, but the native kernel is not loaded."""


__all__ += ["NativeKernelUnavailableError"]


# -- the wire protocols and the HTTP boundary (iota_publisher.protocol, iota_publisher._http) --


class ProtocolError(PublisherError, ValueError):
    """A value breaks a rule of a wire protocol (:mod:`iota_publisher.protocol`).

    Raised by the sans-I/O checks, which clients and servers share: a client
    turns it into an :class:`InvalidInputError` (its caller's mistake) or an
    invalid-answer error (its peer's), a server into its refusal. ``field`` is
    the wire name of the parameter (``"trytes"``), ``index`` the list entry at
    fault (or ``None``), ``kind`` what is wrong (``"missing"``, ``"type"``,
    ``"empty"``, ``"too_many"``, ``"trytes"``, ``"range"``, ``"format"``),
    ``detail`` the words after the field name, ``limit`` the bound exceeded.
    Values are never quoted whole (they may be long, or secret).
    """

    def __init__(
        self,
        field: str,
        detail: str,
        *,
        kind: str = "format",
        index: int | None = None,
        limit: int | None = None,
    ) -> None:
        self.field = field
        self.detail = detail
        self.kind = kind
        self.index = index
        self.limit = limit
        super().__init__(f"{self.path} {detail}")

    @property
    def path(self) -> str:
        """``field``, or ``field[index]`` for a list entry."""
        return self.field if self.index is None else f"{self.field}[{self.index}]"


class HttpError(_RemoteError):
    """A plain HTTP exchange through :func:`iota_publisher._http.request_json` failed.

    ``url`` is the address with its secrets removed, ``kind`` names the
    failure (``"timeout"``, ``"connection"``, ``"tls"``, ``"redirect"``,
    ``"too_large"``, ``"decoding"``, ``"status"``, ``"json"``, ``"request"``).
    """

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        kind: str = "request",
        status: int | None = None,
        text: str | None = None,
    ) -> None:
        super().__init__(message, status=status, text=text)
        self.url = url
        self.kind = kind


class HttpUnavailableError(HttpError, TransientError):
    """No answer in time, a dropped connection, or a transient status (408, 429, 5xx)."""


__all__ += ["HttpError", "HttpUnavailableError", "ProtocolError"]


# -- files the commands write (template, init, sandbox) ------------------------------


class ExistingFileError(InvalidInputError, FileExistsError):
    """A file is in the way that the command did not write: it is left as it is.

    ``path`` names the file, ``reason`` says why it is not replaced (``"exists"``,
    ``"was not written by this sandbox"``). Raised by ``build_template`` and
    ``Sandbox.write_config`` (``iota-publish template``, ``init``, ``sandbox``)
    unless they are told to replace it (``force=True``, ``--force``).
    """

    def __init__(self, path: object, reason: str = "exists") -> None:
        super().__init__(
            f"{path} {reason}; it is left as it is (force=True replaces it)", field=None
        )
        self.path = path
        self.reason = reason


__all__ += ["ExistingFileError"]

# -- the outbox and the publisher (iota_publisher.store, iota_publisher.publisher) --


class StoreFullError(StoreError, TransientError):
    """The disk (or the database's size limit) is full: nothing was written.

    Transient: what was committed before stays, and the same step succeeds
    once there is space again.
    """


class StoreBusyError(StoreError, TransientError):
    """Another connection held the state database longer than the wait allowed."""


class ReadingParkedError(PublisherError):
    """:meth:`Publisher.publish` could not send its reading: it was refused for good
    and parked (``iota-publish status`` lists it, ``retry`` sends it again).
    ``id`` is its outbox id, ``stage`` the stage it was parked from."""

    def __init__(self, message: str, *, id: int, stage: str) -> None:
        super().__init__(message)
        self.id = id
        self.stage = stage


__all__ += ["ReadingParkedError", "StoreBusyError", "StoreFullError"]
