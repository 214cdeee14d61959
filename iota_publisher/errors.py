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
    "PublisherError",
    "InvalidInputError",
    "InvalidTrytesError",
    "MamError",
    "MamParseError",
    "MamSignatureError",
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
