"""Trits: the one container that hashing code passes runs of trits around in.

A :class:`Trits` is immutable and holds its trits as int8 bytes (``-1`` is
``0xFF``), whichever Curl backend runs: the native kernel reads and writes
those bytes as they are, the pure-Python backend converts to lists of ints at
its edges. Code on top of the sponges (MAM) keeps trits in this one type and
never asks which backend is in use.

>>> t = Trits.from_trytes("ABC")
>>> t.tolist()
[1, 0, 0, -1, 1, 0, 0, -1, 1]
>>> (t[:3] + Trits([0, 0, 0])).trytes()
'A9'
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import SupportsIndex, overload

from .. import _backend
from ..errors import InvalidInputError
from ._codec import trits_to_trytes, trytes_to_trits, validate_trits, validate_trytes

__all__ = ["Trits"]

_TRIT_BYTES = b"\x00\x01\xff"  # 0, 1 and -1 as int8


class Trits(Sequence[int]):
    """An immutable run of trits (-1, 0, 1).

    Build one from ints (``Trits([1, 0, -1])``), from trytes
    (:meth:`from_trytes`) or from int8 bytes (:meth:`from_bytes`). Slices and
    sums (``a + b``) are :class:`Trits` again; ``bytes(t)`` is the int8 form.
    The repr shows only the length, since trits are often key material.
    """

    __slots__ = ("_data",)

    def __init__(self, trits: Iterable[int] = ()) -> None:
        if isinstance(trits, Trits):
            self._data: bytes = trits._data
            return
        values = trits if isinstance(trits, list) else list(trits)
        validate_trits(values)
        self._data = array("b", values).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Trits:
        """Trits from int8 bytes (each byte 0x00, 0x01 or 0xFF)."""
        data = bytes(data)
        if data.translate(None, _TRIT_BYTES):
            raise InvalidInputError(
                "trit bytes must be 0x00, 0x01 or 0xFF (0, 1, -1)", field="trits"
            )
        return _wrap(data)

    @classmethod
    def from_trytes(cls, trytes: str) -> Trits:
        """The trits of a tryte string (3 per tryte); raises on characters outside ``9A-Z``."""
        validate_trytes(trytes)
        native = _backend.native()
        if native is not None:
            return _wrap(native.trytes_to_trits(trytes))
        return _wrap(array("b", trytes_to_trits(trytes)).tobytes())

    @classmethod
    def zeros(cls, length: int) -> Trits:
        """``length`` zero trits."""
        return _wrap(bytes(length))

    @classmethod
    def concat(cls, parts: Iterable[Trits]) -> Trits:
        """All ``parts`` one after the other."""
        return _wrap(b"".join(part._data for part in parts))

    def trytes(self) -> str:
        """The tryte string of these trits (their number must be a multiple of 3)."""
        if len(self._data) % 3:
            raise InvalidInputError(
                f"trits must have a length that is a multiple of 3 to form trytes, "
                f"not {len(self._data)}",
                field="trits",
            )
        native = _backend.native()
        if native is not None:
            return native.trits_to_trytes(self._data)
        return trits_to_trytes(self.tolist())

    def tolist(self) -> list[int]:
        """The trits as a list of ints."""
        return array("b", self._data).tolist()

    def __bytes__(self) -> bytes:
        return self._data

    def __len__(self) -> int:
        return len(self._data)

    @overload
    def __getitem__(self, index: SupportsIndex) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> Trits: ...

    def __getitem__(self, index: SupportsIndex | slice) -> int | Trits:
        if isinstance(index, slice):
            return _wrap(self._data[index])
        value = self._data[index]
        return value - 256 if value > 127 else value

    def __iter__(self) -> Iterator[int]:
        return iter(array("b", self._data))

    def __add__(self, other: object) -> Trits:
        if not isinstance(other, Trits):
            return NotImplemented
        return _wrap(self._data + other._data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trits):
            return NotImplemented
        return self._data == other._data

    def __hash__(self) -> int:
        return hash(self._data)

    def __repr__(self) -> str:
        return f"<Trits: {len(self._data)} trits>"


def _wrap(data: bytes) -> Trits:
    """A :class:`Trits` around int8 bytes known to be valid (no copy, no check)."""
    trits = object.__new__(Trits)
    trits._data = data
    return trits


def as_bytes(trits: Sequence[int] | bytes | bytearray) -> bytes:
    """Int8 bytes of trits in any form (bytes are taken as int8 and not checked)."""
    if isinstance(trits, Trits):
        return trits._data
    if isinstance(trits, (bytes, bytearray)):
        return bytes(trits)
    validate_trits(trits)
    return array("b", trits).tobytes()


def as_list(trits: Sequence[int] | bytes | bytearray) -> list[int]:
    """A list of the trits in any form (checked unless they are :class:`Trits`)."""
    if isinstance(trits, Trits):
        return trits.tolist()
    values = array("b", trits).tolist() if isinstance(trits, (bytes, bytearray)) else trits
    validate_trits(values)
    return values if isinstance(values, list) else list(values)
