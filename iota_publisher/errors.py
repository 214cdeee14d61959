"""Exceptions raised by iota-publisher.

Every exception derives from :class:`PublisherError`. Leaves also derive from
the builtin that matches their meaning, so ``except ValueError`` keeps working
for callers who do not know this package.

Two families are kept apart on purpose:

* a caller passing a bad argument (wrong alphabet, wrong length, security level
  out of range) gets an :class:`InvalidInputError`;
* data from elsewhere that does not decode (a MAM payload read from the
  Tangle) gets a :class:`MamParseError`.

Messages name the offending field but never include secret values (seeds,
side keys, secret keys).
"""

from __future__ import annotations

__all__ = [
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
    "PublisherError",
    "TransientError",
]


class PublisherError(Exception):
    """Root of every exception raised by iota-publisher."""


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


class MamError(PublisherError):
    """Base class for MAM channel errors."""


class MamParseError(MamError, ValueError):
    """A MAM payload could not be decoded (truncated, malformed or tampered)."""


class MamSignatureError(MamParseError):
    """A MAM payload decoded, but its signature does not lead to the root.

    This is what a wrong side key, a wrong root or a tampered payload
    usually look like: the three cannot be told apart from the payload alone.
    """


class ConfigError(InvalidInputError):
    """A configuration file or setting is invalid; ``field`` names the setting."""


class TransientError(PublisherError):
    """Mixin for failures worth retrying later (network down, server busy).

    Anything that is not a ``TransientError`` is permanent: retrying the same
    request cannot succeed.
    """


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


class InvalidNodeResponseError(NodeError, ValueError):
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


class InvalidMarketplaceResponseError(MarketplaceError, ValueError):
    """The marketplace answered, but not with what the API promises."""


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
