"""Curl-P, the ternary sponge of legacy IOTA (27 and 81 rounds).

The sponge has a 729-trit state whose first 243 trits are the rate. Absorb
copies each 243-trit chunk over the start of the state and transforms;
squeeze reads the first 243 trits and transforms. Both loop at least once,
exactly as the reference implementations do (a zero-length absorb still
transforms, and a partial last chunk overwrites only its own trits).

Two backends compute the transform: the native kernel, and the pure-Python
code in this module. The pure code also carries a *bit-sliced* transform on
Python integers (one bit per lane, two bit-planes per trit) that hashes many
independent inputs side by side; WOTS key chains and the nonce searches use it.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any

from .. import _backend
from ..errors import InvalidInputError
from ._codec import trits_to_trytes, trytes_to_trits, validate_trits, validate_trytes

__all__ = [
    "HASH_LENGTH",
    "STATE_LENGTH",
    "Curl",
    "curl_hash",
    "hash_chains",
]

HASH_LENGTH = 243
STATE_LENGTH = 729

# The truth table of the reference, indexed by a + 4*b + 5 for the pair of
# trits (a, b). Rotated by 5 so that Python's negative indexing does the +5.
_TRUTH_JS = (1, 0, -1, 2, 1, -1, 0, 2, -1, 1, 0)
_TRUTH = _TRUTH_JS[5:] + _TRUTH_JS[:5]


def _index_pairs() -> tuple[tuple[int, int], ...]:
    pairs = []
    t = 0
    for _ in range(STATE_LENGTH):
        a = t
        t = t + 364 if t < 365 else t - 365
        pairs.append((a, t))
    return tuple(pairs)


_PAIRS = _index_pairs()

# (a + b) in balanced form, for a, b in -1..1: index a + b + 2
_SUM = (1, -1, 0, 1, -1)


def transform_pure(state: list[int], rounds: int) -> list[int]:
    """One Curl-P transform of a 729-trit state (returns a new list)."""
    truth = _TRUTH
    pairs = _PAIRS
    for _ in range(rounds):
        s = state
        state = [truth[s[a] + (s[b] << 2)] for a, b in pairs]
    return state


def transform_sliced(lo: list[int], hi: list[int], rounds: int) -> tuple[list[int], list[int]]:
    """Bit-sliced Curl-P transform: each bit position of the ints is a lane.

    Trit encoding per lane: 0 = (lo 1, hi 1), 1 = (lo 0, hi 1), -1 = (lo 1, hi 0).
    For a cell fed by x = s[t(i)] and y = s[t(i+1)], the truth table reduces on
    these three codes to ``lo' = x.hi ^ (x.lo & ~y.lo)``, ``hi' = x.lo ^ (y.hi & lo')``.
    Python's unbounded two's complement makes ``~`` safe without masks; callers
    read only the lanes they use (lanes outside the codes hold garbage).
    """
    pairs = _PAIRS
    for _ in range(rounds):
        old_lo, old_hi = lo, hi
        lo = [old_hi[a] ^ (old_lo[a] & ~old_lo[b]) for a, b in pairs]
        hi = [old_lo[a] ^ (old_hi[b] & x) for (a, b), x in zip(pairs, lo, strict=True)]
    return lo, hi


def trits_to_planes(lanes: Sequence[Sequence[int]], width: int) -> tuple[list[int], list[int]]:
    """Pack ``len(lanes)`` trit vectors of ``width`` trits into bit-planes."""
    lo = [0] * width
    hi = [0] * width
    for bit_index, trits in enumerate(lanes):
        bit = 1 << bit_index
        for j, t in enumerate(trits):
            if t != 1:
                lo[j] |= bit
            if t != -1:
                hi[j] |= bit
    return lo, hi


def planes_to_trits(lo: Sequence[int], hi: Sequence[int], lane: int) -> list[int]:
    """Read one lane's trits back out of bit-planes."""
    out = []
    for plane_lo, plane_hi in zip(lo, hi, strict=True):
        lb = (plane_lo >> lane) & 1
        hb = (plane_hi >> lane) & 1
        out.append(0 if lb == hb else (1 if hb else -1))
    return out


# -- trit containers ------------------------------------------------------
#
# Public functions take and return lists of ints. Internally, hot paths
# (MAM, proof of work) keep trits in the backend's own container: ``bytes``
# of int8 values for the native kernel, lists for pure Python. ``raw()``
# converts anything to the current backend's container; ``raw=True`` on the
# sponge methods returns it, which saves converting large key material
# between every native call.


def _to_bytes(trits: Sequence[int] | bytes | bytearray) -> bytes:
    if isinstance(trits, (bytes, bytearray)):
        return bytes(trits)
    return array("b", trits).tobytes()


def to_list(trits: Sequence[int] | bytes | bytearray) -> list[int]:
    """Trits as a list of ints, whatever container they come in."""
    if isinstance(trits, (bytes, bytearray)):
        return array("b", trits).tolist()
    return trits if isinstance(trits, list) else list(trits)


def raw(trits: Sequence[int] | bytes | bytearray) -> bytes | list[int]:
    """Trits in the current backend's container (bytes when native, else a list)."""
    if _backend.native() is not None:
        return _to_bytes(trits)
    return to_list(trits)


def raw_from_trytes(trytes: str) -> bytes | list[int]:
    """Trits of a (validated) tryte string, in the backend's container."""
    native = _backend.native()
    if native is not None:
        validate_trytes(trytes)
        return native.trytes_to_trits(trytes)
    return trytes_to_trits(trytes)


def raw_to_trytes(trits: Sequence[int] | bytes | bytearray) -> str:
    """Tryte string of trits in either container."""
    native = _backend.native()
    if native is not None:
        return native.trits_to_trytes(_to_bytes(trits))
    return trits_to_trytes(to_list(trits))


def _checked(trits: Sequence[int] | bytes | bytearray) -> Sequence[int] | bytes | bytearray:
    # the native kernel checks bytes itself; lists are checked here
    if not isinstance(trits, (bytes, bytearray)):
        validate_trits(trits)
    return trits


class Curl:
    """Curl-P sponge with 27 or 81 rounds.

    >>> c = Curl(rounds=27)
    >>> c.absorb([0] * 243)
    >>> len(c.squeeze())
    243
    """

    HASH_LENGTH = HASH_LENGTH
    STATE_LENGTH = STATE_LENGTH

    __slots__ = ("_native", "_rounds", "_state")

    def __init__(self, rounds: int = 81) -> None:
        if rounds not in (27, 81):
            raise InvalidInputError(f"Curl rounds must be 27 or 81, not {rounds!r}", field="rounds")
        self._rounds = rounds
        self._native = _backend.native()
        self._state: bytearray | list[int]
        self.reset()

    @property
    def rounds(self) -> int:
        return self._rounds

    def reset(self) -> None:
        """Zero the state."""
        self._state = bytearray(STATE_LENGTH) if self._native is not None else [0] * STATE_LENGTH

    def _out(self, data: bytes | list[int], raw: bool) -> bytes | list[int]:
        if raw:
            return data
        return to_list(data)

    def absorb(
        self,
        trits: Sequence[int] | bytes | bytearray,
        offset: int = 0,
        length: int | None = None,
    ) -> None:
        """Absorb ``trits[offset:offset+length]`` (all of it from ``offset`` by default)."""
        end = len(trits) if length is None else offset + length
        if offset < 0 or end > len(trits) or end < offset:
            raise InvalidInputError(
                f"cannot absorb trits[{offset}:{end}] of {len(trits)} trits", field="length"
            )
        chunk = trits[offset:end] if (offset or end != len(trits)) else trits
        if self._native is not None:
            self._native.absorb(self._state, _to_bytes(_checked(chunk)), self._rounds)
            return
        chunk = to_list(_checked(chunk))
        state = self._state
        assert isinstance(state, list)
        pos = 0
        remaining = len(chunk)
        while True:
            limit = min(remaining, HASH_LENGTH)
            state[:limit] = chunk[pos : pos + limit]
            state = transform_pure(state, self._rounds)
            pos += limit
            remaining -= HASH_LENGTH
            if remaining <= 0:
                break
        self._state = state

    def squeeze(self, length: int = HASH_LENGTH, *, raw: bool = False) -> Any:
        """Squeeze ``length`` trits (one transform per started 243-trit block)."""
        if length < 0:
            raise InvalidInputError("squeeze length must not be negative", field="length")
        if self._native is not None:
            return self._out(self._native.squeeze(self._state, length, self._rounds), raw)
        out: list[int] = []
        state = self._state
        assert isinstance(state, list)
        remaining = length
        while True:
            out.extend(state[: min(remaining, HASH_LENGTH)])
            state = transform_pure(state, self._rounds)
            remaining -= HASH_LENGTH
            if remaining <= 0:
                break
        self._state = state
        return out

    def rate(self, length: int = HASH_LENGTH, *, raw: bool = False) -> Any:
        """The first ``length`` trits of the state, without transforming."""
        if not 0 <= length <= STATE_LENGTH:
            raise InvalidInputError(f"rate length must be 0..{STATE_LENGTH}", field="length")
        if self._native is not None:
            return self._out(bytes(self._state[:length]), raw)
        return list(self._state[:length])

    def mask(self, plain: Sequence[int] | bytes, *, raw: bool = False) -> Any:
        """MAM's cipher: add the rate to each 243-trit chunk, then absorb the plain chunk."""
        return self._mask(plain, False, raw)

    def unmask(self, cipher: Sequence[int] | bytes, *, raw: bool = False) -> Any:
        """Undo :meth:`mask` on a sponge in the same state."""
        return self._mask(cipher, True, raw)

    def _mask(self, data: Sequence[int] | bytes, unmask: bool, raw: bool) -> Any:
        if self._native is not None:
            fn = self._native.unmask if unmask else self._native.mask
            return self._out(fn(self._state, _to_bytes(_checked(data)), self._rounds), raw)
        data = to_list(_checked(data))
        out: list[int] = []
        state = self._state
        assert isinstance(state, list)
        for c in range(0, len(data), HASH_LENGTH):
            chunk = data[c : c + HASH_LENGTH]
            if unmask:
                chunk = [_SUM[x - k + 2] for x, k in zip(chunk, state, strict=False)]
                out += chunk
            else:
                out += [_SUM[p + k + 2] for p, k in zip(chunk, state, strict=False)]
            state[: len(chunk)] = chunk
            state = transform_pure(state, self._rounds)
        self._state = state
        return out

    def copy(self) -> Curl:
        """An independent sponge in the same state."""
        other = Curl.__new__(Curl)
        other._rounds = self._rounds
        other._native = self._native
        other._state = self._state[:]
        return other


def curl_hash(trits: Sequence[int], rounds: int = 81, length: int = HASH_LENGTH) -> list[int]:
    """Absorb ``trits`` into a fresh Curl-P sponge and squeeze ``length`` trits."""
    sponge = Curl(rounds)
    sponge.absorb(trits)
    return sponge.squeeze(length)


def hash_chains(
    segments: Sequence[int] | bytes,
    counts: Sequence[int],
    rounds: int = 27,
    *,
    raw: bool = False,
) -> Any:
    """Hash each 243-trit segment ``counts[i]`` times with a fresh sponge.

    One step of a chain is: zero state, copy the segment into the rate,
    transform, take the rate. WOTS private keys (1 step), digests (26 or 27
    steps) and signatures (0..26 steps) are all chains; the segments are
    independent, so the native kernel and the bit-sliced fallback hash them
    side by side.
    """
    n = len(counts)
    if len(segments) != n * HASH_LENGTH:
        raise InvalidInputError(
            f"hash_chains needs {n} x {HASH_LENGTH} trits for {n} counts, got {len(segments)}",
            field="segments",
        )
    if any(not 0 <= c <= 255 for c in counts):
        raise InvalidInputError("chain counts must be 0..255", field="counts")
    if rounds not in (27, 81):
        raise InvalidInputError(f"Curl rounds must be 27 or 81, not {rounds!r}", field="rounds")
    native = _backend.native()
    if native is not None:
        out = native.hash_chains(_to_bytes(_checked(segments)), bytes(counts), rounds)
        return out if raw else to_list(out)
    return _hash_chains_pure(to_list(_checked(segments)), counts, rounds)


def _hash_chains_pure(segments: Sequence[int], counts: Sequence[int], rounds: int) -> list[int]:
    out = list(segments)
    lanes = [i for i, c in enumerate(counts) if c > 0]
    if not lanes:
        return out
    lo, hi = trits_to_planes(
        [segments[i * HASH_LENGTH : (i + 1) * HASH_LENGTH] for i in lanes], HASH_LENGTH
    )
    zero_tail = [-1] * (STATE_LENGTH - HASH_LENGTH)  # trit 0 in every lane
    for step in range(1, max(counts) + 1):
        lo, hi = transform_sliced(lo + zero_tail, hi + zero_tail, rounds)
        del lo[HASH_LENGTH:], hi[HASH_LENGTH:]
        for bit, i in enumerate(lanes):
            if counts[i] == step:
                out[i * HASH_LENGTH : (i + 1) * HASH_LENGTH] = planes_to_trits(lo, hi, bit)
    return out
