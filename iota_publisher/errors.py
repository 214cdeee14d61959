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


# -- Curl backends (trinary._curl) ---------------------------------------------


class NativeKernelUnavailableError(PublisherError, RuntimeError):
    """The native Curl backend was asked for, but the native kernel is not loaded."""


__all__ += ["NativeKernelUnavailableError"]
