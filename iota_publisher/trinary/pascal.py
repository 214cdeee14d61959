"""Pascal encoding: the self-delimiting integer format of MAM v0.

A non-negative integer is written in balanced ternary, padded to whole
trytes, and every tryte but the last is made non-positive and the last made
positive by negating where needed; which trytes were negated is recorded in
a trailing checksum of one trit per tryte. A reader finds the end at the first
positive tryte. Zero has its own 4-trit form ``1, 0, 0, -1``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import InvalidInputError, PascalDecodeError
from ._codec import int_to_trits, trits_to_int

__all__ = ["PascalDecodeError", "pascal_decode", "pascal_encode"]

_ZERO = (1, 0, 0, -1)


def _tryte_count(value: int) -> int:
    # number of trytes of the shortest balanced-ternary form of value (> 0)
    return (len(int_to_trits(value)) + 2) // 3


def pascal_encode(value: int) -> list[int]:
    """Encode a non-negative integer."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInputError(
            f"Pascal encoding takes a non-negative int, not {value!r}", field="value"
        )
    if value == 0:
        return list(_ZERO)
    trytes = _tryte_count(value)
    length = 3 * trytes
    trits = int_to_trits(value, length)
    encoding = 0
    for i in range(trytes - 1):
        part = trits[3 * i : 3 * i + 3]
        if trits_to_int(part) >= 0:
            encoding |= 1 << i
            trits[3 * i : 3 * i + 3] = [-t for t in part]
    last = trits[length - 3 :]
    if trits_to_int(last) < 0:
        encoding |= 1 << (trytes - 1)
        trits[length - 3 :] = [-t for t in last]
    return trits + int_to_trits(encoding, trytes)


def pascal_decode(trits: Sequence[int], offset: int = 0) -> tuple[int, int]:
    """Decode the integer starting at ``trits[offset]``.

    Returns ``(value, end)``, where ``end`` is the index just past the
    encoding. Raises :class:`PascalDecodeError` if the trits run out first.
    """
    n = len(trits)
    if tuple(trits[offset : offset + 4]) == _ZERO:
        return 0, offset + 4
    pos = offset
    while True:
        if pos + 3 > n:
            raise PascalDecodeError(
                f"no Pascal-encoded integer at trit {offset}: the trits end first", field="trits"
            )
        if trits_to_int(trits[pos : pos + 3]) > 0:
            break
        pos += 3
    trytes = (pos + 3 - offset) // 3
    end = pos + 3 + trytes
    if end > n:
        raise PascalDecodeError(
            f"no Pascal-encoded integer at trit {offset}: its checksum is cut off", field="trits"
        )
    encoder = trits_to_int(trits[pos + 3 : end])
    value = 0
    for i in range(trytes):
        part = trits_to_int(trits[offset + 3 * i : offset + 3 * i + 3])
        value += 27**i * (-part if (encoder >> i) & 1 else part)
    return value, end
