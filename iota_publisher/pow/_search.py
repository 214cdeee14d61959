"""Proof-of-work nonce search (Curl-P-81, trailing zero trits).

The candidates are enumerated in one fixed order, so every backend (the
native kernel on any number of threads, and this pure-Python code) returns
the same nonce for the same transaction: candidate ``k`` puts the balanced
ternary digits of ``k % 256`` in nonce trits 0-5 and those of ``k // 256``
in trits 6-80, and the smallest valid ``k`` wins.

The pure-Python search is bit-sliced on Python integers: one bit per
candidate, ``256 * blocks`` candidates per transform, laid out so that bit
``i`` is candidate ``k0 + i`` and the lowest set bit of the result is the
smallest valid ``k``.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Sequence

from .. import _backend
from ..errors import InvalidInputError, PowTimeoutError
from ..trinary import HASH_LENGTH, STATE_LENGTH, Curl, int_to_trits, transform_sliced

__all__ = [
    "LANES",
    "PowTimeoutError",
    "check_mwm",
    "nonce_for",
    "search_nonce",
    "search_nonce_hash",
]

LANES = 256  # candidates per batch, fixed by the enumeration order
NONCE_LENGTH = 81
TRANSACTION_TRITS = 8019
_NONCE_OFFSET = HASH_LENGTH - NONCE_LENGTH  # 162, inside the last 243-trit chunk
_LANE_TRITS = 6
_BLOCKS = 16  # pure Python: batches per transform


def check_mwm(mwm: object) -> int:
    if not isinstance(mwm, int) or isinstance(mwm, bool) or not 1 <= mwm <= HASH_LENGTH:
        raise InvalidInputError(
            f"minWeightMagnitude must be an int from 1 to {HASH_LENGTH}, not {mwm!r}",
            field="minWeightMagnitude",
        )
    return mwm


def nonce_for(k: int) -> list[int]:
    """The nonce trits of candidate ``k``."""
    return int_to_trits(k % LANES, _LANE_TRITS) + int_to_trits(
        k // LANES, NONCE_LENGTH - _LANE_TRITS
    )


def prepare_state(trits: Sequence[int]) -> list[int]:
    """The search's starting state: the Curl-P-81 state after all but the last
    chunk, with the last chunk copied over the rate."""
    if len(trits) != TRANSACTION_TRITS:
        raise InvalidInputError(
            f"proof of work needs {TRANSACTION_TRITS} transaction trits, not {len(trits)}",
            field="trytes",
        )
    head = TRANSACTION_TRITS - HASH_LENGTH
    sponge = Curl(81)
    sponge.absorb(trits, 0, head)
    state = sponge.rate(STATE_LENGTH)
    state[:HASH_LENGTH] = trits[head:]
    return state


def search_nonce(
    trits: Sequence[int],
    mwm: int,
    *,
    threads: int | None = None,
    timeout: float | None = None,
) -> tuple[list[int], int]:
    """Find the nonce for 8019 transaction trits; return ``(nonce, candidates hashed)``.

    ``threads`` (native kernel only) defaults to every core; ``timeout`` is in
    seconds. Raises :class:`PowTimeoutError` when time runs out; Ctrl-C
    interrupts the search.
    """
    check_mwm(mwm)
    return _search(prepare_state(trits), mwm, threads, timeout)


def search_nonce_hash(
    trits: Sequence[int],
    mwm: int,
    *,
    threads: int | None = None,
    timeout: float | None = None,
) -> tuple[list[int], int, list[int]]:
    """:func:`search_nonce`, plus the 243-trit hash of the transaction with that nonce.

    The hash comes from the search's own starting state: one transform
    instead of hashing all 33 chunks of the transaction again.
    """
    check_mwm(mwm)
    state = prepare_state(trits)
    nonce, tried = _search(state, mwm, threads, timeout)
    state[_NONCE_OFFSET:HASH_LENGTH] = nonce
    native = _backend.native()
    if native is not None:
        buf = bytearray(array("b", state).tobytes())
        native.transform(buf, 81)
        digest = array("b", bytes(buf[:HASH_LENGTH])).tolist()
    else:
        lo, hi = transform_sliced([int(t != 1) for t in state], [int(t != -1) for t in state], 81)
        digest = [
            0 if a and b else (1 if b else -1)
            for a, b in zip(lo[:HASH_LENGTH], hi[:HASH_LENGTH], strict=True)
        ]
    return nonce, tried, digest


def _search(
    state: list[int], mwm: int, threads: int | None, timeout: float | None
) -> tuple[list[int], int]:
    native = _backend.native()
    if native is not None:
        try:
            nonce, tried = native.pow_search(
                array("b", state).tobytes(), mwm, threads or 0, float(timeout or 0.0)
            )
        except TimeoutError as exc:
            raise PowTimeoutError(str(exc)) from None
        return array("b", nonce).tolist(), tried
    return _search_pure(state, mwm, timeout)


def _lane_planes(blocks: int) -> list[tuple[int, int]]:
    """lo/hi planes of nonce trits 0-5: lane j of every block holds digits of j."""
    planes = []
    for position in range(_LANE_TRITS):
        lo = hi = 0
        for j in range(LANES):
            t = int_to_trits(j, _LANE_TRITS)[position]
            if t != 1:
                lo |= 1 << j
            if t != -1:
                hi |= 1 << j
        block_lo = block_hi = 0
        for b in range(blocks):
            block_lo |= lo << (LANES * b)
            block_hi |= hi << (LANES * b)
        planes.append((block_lo, block_hi))
    return planes


def _search_pure(state: list[int], mwm: int, timeout: float | None) -> tuple[list[int], int]:
    deadline = None if not timeout else time.monotonic() + timeout
    blocks = _BLOCKS
    width = LANES * blocks
    ones = (1 << width) - 1
    lo = [ones if t != 1 else 0 for t in state]
    hi = [ones if t != -1 else 0 for t in state]
    for position, (plo, phi) in enumerate(_lane_planes(blocks)):
        lo[_NONCE_OFFSET + position] = plo
        hi[_NONCE_OFFSET + position] = phi
    counter_start = _NONCE_OFFSET + _LANE_TRITS
    counter_trits = NONCE_LENGTH - _LANE_TRITS
    first_batch = 0
    while True:
        if deadline is not None and time.monotonic() > deadline:
            raise PowTimeoutError(f"proof of work timed out after {timeout} s")
        # trits 6-80: digits of the batch number, which differs per block
        for position in range(counter_trits):
            lo[counter_start + position] = 0
            hi[counter_start + position] = 0
        for b in range(blocks):
            block = ((1 << LANES) - 1) << (LANES * b)
            for position, t in enumerate(int_to_trits(first_batch + b, counter_trits)):
                if t != 1:
                    lo[counter_start + position] |= block
                if t != -1:
                    hi[counter_start + position] |= block
        tlo, thi = transform_sliced(lo, hi, 81)
        valid = ones
        for i in range(HASH_LENGTH - mwm, HASH_LENGTH):
            valid &= tlo[i] & thi[i]
            if not valid:
                break
        if valid:
            lane = (valid & -valid).bit_length() - 1
            k = first_batch * LANES + lane
            return nonce_for(k), (first_batch + blocks) * LANES
        first_batch += blocks
