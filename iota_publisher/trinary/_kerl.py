"""Kerl: Keccak-384 over trits, the hash of legacy IOTA addresses and bundles.

Each 243-trit chunk is read as a balanced-ternary integer (its last trit is
ignored), written as a 384-bit big-endian two's complement number and fed to
Keccak-384 (the original Keccak padding, not NIST SHA-3). Squeezing converts
the digest back to 242 trits (reduced modulo 3^242 into the balanced range)
plus a zero trit, then restarts Keccak on the bitwise complement of the digest.
"""

from __future__ import annotations

from collections.abc import Sequence

from Crypto.Hash import keccak

from ..errors import InvalidInputError
from ._codec import int_to_trits, trits_to_int, validate_trits
from ._trits import Trits

__all__ = ["Kerl", "kerl_hash"]

HASH_LENGTH = 243
_BYTE_LENGTH = 48
_MOD_3 = 3**242
_HALF_3 = (_MOD_3 - 1) // 2
_MOD_2 = 1 << 384


def kerl_chunk_bytes(chunk: Sequence[int]) -> bytes:
    """The 48 bytes Keccak absorbs for one 243-trit chunk (its last trit ignored)."""
    value = trits_to_int(chunk[: HASH_LENGTH - 1])
    return (value % _MOD_2).to_bytes(_BYTE_LENGTH, "big")


def kerl_digest(chunks: Sequence[bytes]) -> list[int]:
    """Kerl hash (243 trits) of chunks already converted by :func:`kerl_chunk_bytes`."""
    k = keccak.new(digest_bits=384)
    for chunk in chunks:
        k.update(chunk)
    return _bytes_to_trits(k.digest())


def _bytes_to_trits(data: bytes) -> list[int]:
    value = int.from_bytes(data, "big", signed=True)
    value = (value + _HALF_3) % _MOD_3 - _HALF_3
    return int_to_trits(value, HASH_LENGTH - 1) + [0]


class Kerl:
    """Kerl sponge. Absorb and squeeze whole 243-trit chunks."""

    HASH_LENGTH = HASH_LENGTH

    __slots__ = ("_k",)

    def __init__(self) -> None:
        self._k = keccak.new(digest_bits=384)

    def reset(self) -> None:
        self._k = keccak.new(digest_bits=384)

    def absorb(self, trits: Sequence[int], offset: int = 0, length: int | None = None) -> None:
        """Absorb whole 243-trit chunks of ``trits`` (a list of ints or :class:`Trits`)."""
        if isinstance(trits, Trits):
            trits = trits.tolist()
        end = len(trits) if length is None else offset + length
        chunk = trits[offset:end]
        if not chunk or len(chunk) % HASH_LENGTH or end > len(trits):
            raise InvalidInputError(
                f"Kerl absorbs a non-empty multiple of {HASH_LENGTH} trits, not {len(chunk)}",
                field="trits",
            )
        validate_trits(chunk)
        for i in range(0, len(chunk), HASH_LENGTH):
            self._k.update(kerl_chunk_bytes(chunk[i : i + HASH_LENGTH]))

    def squeeze(self, length: int = HASH_LENGTH) -> list[int]:
        if length < 0 or length % HASH_LENGTH:
            raise InvalidInputError(
                f"Kerl squeezes a multiple of {HASH_LENGTH} trits, not {length}", field="length"
            )
        out: list[int] = []
        # like the reference, squeezing 0 trits still moves the sponge on once
        for _ in range(max(1, length // HASH_LENGTH)):
            digest = self._k.digest()
            out.extend(_bytes_to_trits(digest)[:length])
            self._k = keccak.new(digest_bits=384)
            self._k.update(bytes(b ^ 0xFF for b in digest))
        return out


def kerl_hash(trits: Sequence[int], length: int = HASH_LENGTH) -> list[int]:
    """Absorb ``trits`` into a fresh Kerl and squeeze ``length`` trits."""
    k = Kerl()
    k.absorb(trits)
    return k.squeeze(length)
