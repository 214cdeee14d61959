"""MAM's nonce search ("Hamming diver"), step for step as the reference does it.

The nonce makes the signed hash's first ``security`` thirds sum to zero (and
no shorter prefix of thirds), which is how a reader learns the security level.
Any such nonce would be valid; to create payloads identical to the reference,
this search visits candidates in the reference's order and keeps its quirks:

* 64 lanes per batch; trits 0-3 of the nonce enumerate lanes with fixed
  bit-planes, trits 54-80 are a counter shared by all lanes, incremented
  once *before* every batch, and trits 4-53 are the sponge's own rate;
* lanes are checked from 0 to 63 and the first that qualifies is taken, but
  a batch whose first qualifying lane is lane 0 counts as a miss (the
  reference uses 0 for "not found").
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import _backend
from ..trinary import STATE_LENGTH, Trits, transform_sliced

__all__ = ["hamming_search"]

_M64 = (1 << 64) - 1
_LOW = (0xDB6DB6DB6DB6DB6D, 0xF1F8FC7E3F1F8FC7, 0x7FFFE00FFFFC01FF, 0xFFC0000007FFFFFF)
_HIGH = (0xB6DB6DB6DB6DB6DB, 0x8FC7E3F1F8FC7E3F, 0xFFC01FFFF803FFFF, 0x003FFFFFFFFFFFFF)
_NONCE_LENGTH = 81


def _round_third(value: int) -> int:
    return value + (-value % 3)


def _increment(lo: list[int], hi: list[int], start: int, stop: int) -> int:
    for i in range(start, stop):
        low, high = lo[i], hi[i]
        lo[i] = high ^ low
        hi[i] = low
        if high & ~low == 0:
            return stop - start
    return stop - start + 1


def _first_lane(security: int, lo: list[int], hi: list[int]) -> int:
    """The reference's check(): first qualifying lane, 0 when none (or lane 0)."""
    for lane in range(64):
        bit = 1 << lane
        total = 0
        for third in range(security):
            for k in range(third * 81, (third + 1) * 81):
                if not lo[k] & bit:
                    total -= 1
                elif not hi[k] & bit:
                    total += 1
            if total == 0 and third < security - 1:
                total = 1
                break
        if total == 0:
            return lane
    return 0


def _search_pure(state: Sequence[int], security: int) -> list[int]:
    lo = [_M64 if t != 1 else 0 for t in state]
    hi = [_M64 if t != -1 else 0 for t in state]
    lo[:4] = _LOW
    hi[:4] = _HIGH
    size = _NONCE_LENGTH
    while True:
        start = size * 2 // 3
        grown = _increment(lo, hi, start, size)
        size = min(_round_third(start + grown), 243)
        tlo, thi = transform_sliced(lo, hi, 27)
        lane = _first_lane(security, [x & _M64 for x in tlo[:243]], [x & _M64 for x in thi[:243]])
        if lane:
            break
    out = []
    for i in range(size):
        lb = (lo[i] >> lane) & 1
        hb = (hi[i] >> lane) & 1
        out.append(-1 if (lb, hb) == (1, 0) else 1 if (lb, hb) == (0, 1) else 0)
    return out


def hamming_search(state: Trits, security: int) -> Trits:
    """The reference's nonce for a full 729-trit sponge state.

    The nonce is 81 trits, except in the reference's corner case where the
    counter overflows and it grows to 84.
    """
    if len(state) != STATE_LENGTH:
        from ..errors import InvalidInputError

        raise InvalidInputError(
            f"hamming_search needs the full {STATE_LENGTH}-trit state", field="state"
        )
    native = _backend.native()
    if native is not None:
        return Trits.from_bytes(native.hamming_search(bytes(state), security))
    return Trits(_search_pure(state.tolist(), security))
