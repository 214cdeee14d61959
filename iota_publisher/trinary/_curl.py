"""Curl-P, the ternary sponge of legacy IOTA (27 and 81 rounds).

The sponge has a 729-trit state whose first 243 trits are the rate. Absorb
copies each 243-trit chunk over the start of the state and transforms;
squeeze reads the first 243 trits and transforms. Both loop at least once,
exactly as the reference implementations do (a zero-length absorb still
transforms, and a partial last chunk overwrites only its own trits).

One interface, :class:`Curl`, has one class per backend: :class:`NativeCurl`
runs the native kernel, :class:`PureCurl` the pure-Python code in this module.
``Curl(rounds)`` builds the one of the backend in use. Trits pass between
calls as :class:`~iota_publisher.trinary.Trits`, the same type on both.

The pure code also carries a *bit-sliced* transform on Python integers (one
bit per lane, two bit-planes per trit) that hashes many independent inputs
side by side; WOTS key chains and the nonce searches use it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from array import array
from collections.abc import Sequence
from types import ModuleType

from .. import _backend
from ..errors import InvalidInputError, NativeKernelUnavailableError
from ._trits import Trits, _wrap, as_bytes, as_list

__all__ = [
    "HASH_LENGTH",
    "STATE_LENGTH",
    "Curl",
    "NativeCurl",
    "NativeKernelUnavailableError",
    "PureCurl",
    "backend_class",
    "curl_hash",
    "hash_chains",
    "hash_chains_trits",
]

# What the sponges take: Trits, a sequence of ints, or int8 bytes.
TritInput = Sequence[int] | bytes | bytearray

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


# -- the sponge -------------------------------------------------------------


def _check_rounds(rounds: int) -> int:
    if rounds not in (27, 81):
        raise InvalidInputError(f"Curl rounds must be 27 or 81, not {rounds!r}", field="rounds")
    return rounds


def _check_squeeze(length: int) -> None:
    if length < 0:
        raise InvalidInputError("squeeze length must not be negative", field="length")


def _check_rate(length: int) -> None:
    if not 0 <= length <= STATE_LENGTH:
        raise InvalidInputError(f"rate length must be 0..{STATE_LENGTH}", field="length")


def _chunk(trits: TritInput, offset: int, length: int | None) -> TritInput:
    if not offset and length is None:
        return trits
    end = len(trits) if length is None else offset + length
    if offset < 0 or end > len(trits) or end < offset:
        raise InvalidInputError(
            f"cannot absorb trits[{offset}:{end}] of {len(trits)} trits", field="length"
        )
    return trits[offset:end] if (offset or end != len(trits)) else trits


def _loaded_kernel() -> ModuleType:
    kernel = _backend.native()
    if kernel is None:
        raise NativeKernelUnavailableError(
            "the native Curl kernel is not loaded (see iota_publisher._backend)"
        )
    return kernel


def backend_class() -> type[Curl]:
    """The sponge class of the backend in use: :class:`NativeCurl` or :class:`PureCurl`."""
    return NativeCurl if _backend.native() is not None else PureCurl


class Curl(ABC):
    """Curl-P sponge with 27 or 81 rounds.

    ``Curl(rounds)`` builds the sponge of the backend in use
    (:mod:`iota_publisher._backend`): a :class:`NativeCurl` when the native
    kernel is loaded, else a :class:`PureCurl`. Both take trits as a
    :class:`~iota_publisher.trinary.Trits`, a sequence of ints, or int8
    bytes. The plain methods return lists of ints; the ``*_trits`` ones return
    :class:`~iota_publisher.trinary.Trits`, which saves converting between
    calls on hot paths (MAM, proof of work).

    >>> c = Curl(rounds=27)
    >>> c.absorb([0] * 243)
    >>> len(c.squeeze())
    243
    """

    HASH_LENGTH = HASH_LENGTH
    STATE_LENGTH = STATE_LENGTH

    __slots__ = ("_rounds",)

    def __new__(cls, rounds: int = 81) -> Curl:
        return super().__new__(backend_class() if cls is Curl else cls)

    def __init__(self, rounds: int = 81) -> None:
        self._rounds = _check_rounds(rounds)
        self.reset()

    @property
    def rounds(self) -> int:
        return self._rounds

    @abstractmethod
    def reset(self) -> None:
        """Zero the state."""

    @abstractmethod
    def absorb(self, trits: TritInput, offset: int = 0, length: int | None = None) -> None:
        """Absorb ``trits[offset:offset+length]`` (all of it from ``offset`` by default)."""

    @abstractmethod
    def squeeze_trits(self, length: int = HASH_LENGTH) -> Trits:
        """Squeeze ``length`` trits (one transform per started 243-trit block)."""

    @abstractmethod
    def rate_trits(self, length: int = HASH_LENGTH) -> Trits:
        """The first ``length`` trits of the state, without transforming."""

    @abstractmethod
    def mask_trits(self, plain: TritInput) -> Trits:
        """MAM's cipher: add the rate to each 243-trit chunk, then absorb the plain chunk."""

    @abstractmethod
    def unmask_trits(self, cipher: TritInput) -> Trits:
        """Undo :meth:`mask_trits` on a sponge in the same state."""

    @abstractmethod
    def copy(self) -> Curl:
        """An independent sponge in the same state."""

    @staticmethod
    @abstractmethod
    def chains(segments: TritInput, counts: Sequence[int], rounds: int) -> Trits:
        """The kernel of :func:`hash_chains` (arguments already checked)."""

    def squeeze(self, length: int = HASH_LENGTH) -> list[int]:
        """:meth:`squeeze_trits` as a list."""
        return self.squeeze_trits(length).tolist()

    def rate(self, length: int = HASH_LENGTH) -> list[int]:
        """:meth:`rate_trits` as a list."""
        return self.rate_trits(length).tolist()

    def mask(self, plain: TritInput) -> list[int]:
        """:meth:`mask_trits` as a list."""
        return self.mask_trits(plain).tolist()

    def unmask(self, cipher: TritInput) -> list[int]:
        """:meth:`unmask_trits` as a list."""
        return self.unmask_trits(cipher).tolist()


class NativeCurl(Curl):
    """Curl-P on the native kernel; the state is 729 int8 bytes."""

    __slots__ = ("_kernel", "_state")

    def __init__(self, rounds: int = 81) -> None:
        self._kernel = _loaded_kernel()
        self._rounds = _check_rounds(rounds)
        self._state = bytearray(STATE_LENGTH)

    def reset(self) -> None:
        self._state = bytearray(STATE_LENGTH)

    def absorb(self, trits: TritInput, offset: int = 0, length: int | None = None) -> None:
        self._kernel.absorb(self._state, as_bytes(_chunk(trits, offset, length)), self._rounds)

    def squeeze_trits(self, length: int = HASH_LENGTH) -> Trits:
        _check_squeeze(length)
        return _wrap(self._kernel.squeeze(self._state, length, self._rounds))

    def rate_trits(self, length: int = HASH_LENGTH) -> Trits:
        _check_rate(length)
        return _wrap(bytes(self._state[:length]))

    def mask_trits(self, plain: TritInput) -> Trits:
        return _wrap(self._kernel.mask(self._state, as_bytes(plain), self._rounds))

    def unmask_trits(self, cipher: TritInput) -> Trits:
        return _wrap(self._kernel.unmask(self._state, as_bytes(cipher), self._rounds))

    def copy(self) -> NativeCurl:
        other = NativeCurl.__new__(NativeCurl)
        other._rounds = self._rounds
        other._kernel = self._kernel
        other._state = self._state[:]
        return other

    @staticmethod
    def chains(segments: TritInput, counts: Sequence[int], rounds: int) -> Trits:
        kernel = _loaded_kernel()
        return _wrap(kernel.hash_chains(as_bytes(segments), bytes(counts), rounds))


class PureCurl(Curl):
    """Curl-P in pure Python; the state is a list of 729 ints."""

    __slots__ = ("_state",)

    def reset(self) -> None:
        self._state = [0] * STATE_LENGTH

    def absorb(self, trits: TritInput, offset: int = 0, length: int | None = None) -> None:
        chunk = as_list(_chunk(trits, offset, length))
        state = self._state
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

    def squeeze(self, length: int = HASH_LENGTH) -> list[int]:
        _check_squeeze(length)
        out: list[int] = []
        state = self._state
        remaining = length
        while True:
            out.extend(state[: min(remaining, HASH_LENGTH)])
            state = transform_pure(state, self._rounds)
            remaining -= HASH_LENGTH
            if remaining <= 0:
                break
        self._state = state
        return out

    def rate(self, length: int = HASH_LENGTH) -> list[int]:
        _check_rate(length)
        return self._state[:length]

    def mask(self, plain: TritInput) -> list[int]:
        return self._mask(as_list(plain), unmask=False)

    def unmask(self, cipher: TritInput) -> list[int]:
        return self._mask(as_list(cipher), unmask=True)

    def squeeze_trits(self, length: int = HASH_LENGTH) -> Trits:
        return _from_list(self.squeeze(length))

    def rate_trits(self, length: int = HASH_LENGTH) -> Trits:
        return _from_list(self.rate(length))

    def mask_trits(self, plain: TritInput) -> Trits:
        return _from_list(self.mask(plain))

    def unmask_trits(self, cipher: TritInput) -> Trits:
        return _from_list(self.unmask(cipher))

    def _mask(self, data: list[int], unmask: bool) -> list[int]:
        out: list[int] = []
        state = self._state
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

    def copy(self) -> PureCurl:
        other = PureCurl.__new__(PureCurl)
        other._rounds = self._rounds
        other._state = self._state[:]
        return other

    @staticmethod
    def chains(segments: TritInput, counts: Sequence[int], rounds: int) -> Trits:
        return _from_list(_hash_chains_pure(as_list(segments), counts, rounds))


def _from_list(trits: list[int]) -> Trits:
    # lists the pure sponge made hold only -1, 0 and 1
    return _wrap(array("b", trits).tobytes())


def curl_hash(trits: TritInput, rounds: int = 81, length: int = HASH_LENGTH) -> list[int]:
    """Absorb ``trits`` into a fresh Curl-P sponge and squeeze ``length`` trits."""
    sponge = Curl(rounds)
    sponge.absorb(trits)
    return sponge.squeeze(length)


def hash_chains(segments: TritInput, counts: Sequence[int], rounds: int = 27) -> list[int]:
    """Hash each 243-trit segment ``counts[i]`` times with a fresh sponge.

    One step of a chain is: zero state, copy the segment into the rate,
    transform, take the rate. WOTS private keys (1 step), digests (26 or 27
    steps) and signatures (0..26 steps) are all chains; the segments are
    independent, so the native kernel and the bit-sliced fallback hash them
    side by side.
    """
    return hash_chains_trits(segments, counts, rounds).tolist()


def hash_chains_trits(segments: TritInput, counts: Sequence[int], rounds: int = 27) -> Trits:
    """:func:`hash_chains` returning :class:`~iota_publisher.trinary.Trits`."""
    n = len(counts)
    if len(segments) != n * HASH_LENGTH:
        raise InvalidInputError(
            f"hash_chains needs {n} x {HASH_LENGTH} trits for {n} counts, got {len(segments)}",
            field="segments",
        )
    if any(not 0 <= c <= 255 for c in counts):
        raise InvalidInputError("chain counts must be 0..255", field="counts")
    return backend_class().chains(segments, counts, _check_rounds(rounds))


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
