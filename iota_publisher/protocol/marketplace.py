"""The IOTA Data Marketplace API (the cloud functions of ``iotaledger/data-marketplace``).

Sans-I/O: the endpoints, their methods, which of them are safe to repeat and
which answers carry secrets, the ``newData`` request, the stream's packet
and page shapes. Checks raise :class:`~iota_publisher.errors.ProtocolError`
(``field`` is the wire name); clients and servers turn it into their own
refusal. The device rules live in :mod:`iota_publisher.device`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as _field
from typing import Any

from ..errors import ProtocolError
from ..trinary import is_trytes
from .iri import HASH_LENGTH, tryte_value

__all__ = [
    "DELETE",
    "DEVICES",
    "ENDPOINTS",
    "NEW_DATA",
    "NEW_DEVICE",
    "PURCHASE_STREAM",
    "REPEATABLE",
    "SECRET_ANSWERS",
    "STREAM",
    "STREAM_PAGE_SIZE",
    "USER",
    "WALLET",
    "StreamPacket",
    "answer_limit",
    "new_data",
    "new_data_request",
    "stream_packet",
    "stream_page",
    "text",
    "time_ms",
]

NEW_DATA = "newData"
NEW_DEVICE = "newDevice"
DEVICES = "devices"
DELETE = "delete"
USER = "user"
WALLET = "wallet"
PURCHASE_STREAM = "purchaseStream"
STREAM = "stream"
ENDPOINTS: Mapping[str, str] = {  # endpoint -> HTTP method
    NEW_DATA: "POST",
    NEW_DEVICE: "POST",
    DEVICES: "GET",
    DELETE: "DELETE",
    USER: "GET",
    WALLET: "POST",
    PURCHASE_STREAM: "POST",
    STREAM: "GET",
}
# safe to send again after a lost answer (newData stores the same packet again at worst);
# newDevice, delete, wallet and purchaseStream could create, fund or pay twice
REPEATABLE = frozenset({NEW_DATA, DEVICES, USER, STREAM})
# answers that may hold secrets (apiKey, device keys, side keys, wallet seeds): never echoed
SECRET_ANSWERS = frozenset({NEW_DEVICE, USER, DEVICES, STREAM})
STREAM_PAGE_SIZE = 20  # packets per /stream answer (the cloud function's limit)
_ANSWER_LIMIT = 1_000_000  # bytes: every answer but the device list is small
_DEVICES_LIMIT = 10_000_000  # bytes: every device of the marketplace, with its fields


def answer_limit(endpoint: str) -> int:
    """Bytes an answer from ``endpoint`` may sensibly take."""
    return _DEVICES_LIMIT if endpoint == DEVICES else _ANSWER_LIMIT


@dataclass(frozen=True)
class StreamPacket:
    """One entry of a purchased stream: the MAM ``root`` and ``sidekey`` of
    the message published at ``time`` (ms). The side key is left out of the repr."""

    time: int
    root: str
    sidekey: str = _field(repr=False)


def text(value: object, name: str) -> str:
    """A non-empty string (its value is never put in the message: it may be a key)."""
    if not isinstance(value, str) or not value:
        raise ProtocolError(name, "must be a non-empty string", kind="type")
    return value


def time_ms(value: object, name: str = "time") -> int:
    """A non-negative int of milliseconds."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError(
            name, f"must be a non-negative int (ms), not {value!r:.40}", kind="type"
        )
    return value


def new_data(root: object, sidekey: object, time: object) -> dict[str, Any]:
    """The ``packet`` of a newData request: ``{root, sidekey, time}`` (81, 81 trytes, ms)."""
    return {
        "root": tryte_value(root, "root", length=HASH_LENGTH),
        "sidekey": _secret_trytes(sidekey, "sidekey"),
        "time": time_ms(time),
    }


def new_data_request(
    sensor_id: object, secret_key: object, packet: Mapping[str, Any]
) -> dict[str, Any]:
    """The newData body ``{"id", "sk", "packet"}``."""
    return {"id": text(sensor_id, "id"), "sk": text(secret_key, "sk"), "packet": dict(packet)}


def _secret_trytes(value: object, name: str, index: int | None = None) -> str:
    """81 trytes whose characters are never quoted (a side key)."""
    if isinstance(value, str) and not is_trytes(value):
        bad = next(i for i, c in enumerate(value) if not is_trytes(c))
        raise ProtocolError(
            name,
            f"must contain only the characters 9 and A-Z; found an invalid character at "
            f"position {bad}",
            kind="trytes",
            index=index,
        )
    return tryte_value(value, name, length=HASH_LENGTH, index=index)


def stream_packet(entry: object, i: int) -> StreamPacket:
    """Entry ``i`` of a stream page: ``{time, root, sidekey}`` (2021 servers add
    ``messageId``, ignored). A float time that is an integer is accepted."""
    if not isinstance(entry, dict):
        raise ProtocolError("packet", "is not an object", kind="type", index=i)
    t = entry.get("time")
    if isinstance(t, float) and t.is_integer():
        t = int(t)
    if isinstance(t, bool) or not isinstance(t, int) or t < 0:
        raise ProtocolError("packet", "'time' is not a time in ms", kind="type", index=i)
    root = tryte_value(entry.get("root"), f"packet {i} root", length=HASH_LENGTH)
    sidekey = _secret_trytes(entry.get("sidekey"), f"packet {i} sidekey")
    return StreamPacket(t, root, sidekey)


def stream_page(data: object) -> list[StreamPacket]:
    """A stream answer: a JSON array of packets, the only shape the cloud function sends."""
    if not isinstance(data, list):
        raise ProtocolError("stream", "expected a list of packets", kind="type")
    return [stream_packet(entry, i) for i, entry in enumerate(data)]
