"""iota-publisher: sell sensor data on the IOTA Data Marketplace.

Readings become encrypted, signed MAM v0 messages on the Tangle
(:mod:`iota_publisher.mam`, on the pure trinary core in
:mod:`iota_publisher.trinary`), registered with the marketplace so buyers can
find and decrypt them.
"""

import logging

from ._version import __version__
from .errors import (
    ConfigError,
    InvalidInputError,
    InvalidTrytesError,
    MamError,
    MamParseError,
    MamSignatureError,
    PeerDataError,
    PublisherError,
    TransientError,
)
from .publisher import Publisher, PublishResult

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "ConfigError",
    "InvalidInputError",
    "InvalidTrytesError",
    "MamError",
    "MamParseError",
    "MamSignatureError",
    "PeerDataError",
    "PublishResult",
    "Publisher",
    "PublisherError",
    "TransientError",
    "__version__",
]
