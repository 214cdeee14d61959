"""The wire protocols, spoken once and without I/O (h11's habit).

:mod:`.iri` is the legacy IRI node API, :mod:`.marketplace` the Data
Marketplace API: names, limits, request bodies, parameter and answer checks,
shared by the clients (:mod:`iota_publisher.node`,
:mod:`iota_publisher.marketplace`), the sandbox servers and the test
stand-ins. Nothing here opens a socket, a file or a clock.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import InvalidInputError, InvalidTrytesError, ProtocolError
from . import iri, marketplace
from .marketplace import STREAM_PAGE_SIZE, StreamPacket

__all__ = [
    "STREAM_PAGE_SIZE",
    "ProtocolError",
    "StreamPacket",
    "invalid_input",
    "iri",
    "marketplace",
]


def invalid_input(exc: ProtocolError, names: Mapping[str, str] | None = None) -> InvalidInputError:
    """A failed check of a caller's argument, as the :class:`InvalidInputError` a client
    raises (:class:`InvalidTrytesError` for trytes). ``names`` maps wire names to the
    client's argument names (``minWeightMagnitude`` -> ``mwm``); ``field`` is the
    argument's path (``trytes[2]``)."""
    name = (names or {}).get(exc.field, exc.field)
    path = name if exc.index is None else f"{name}[{exc.index}]"
    cls = InvalidTrytesError if exc.kind == "trytes" else InvalidInputError
    return cls(f"{path} {exc.detail}", field=path)
