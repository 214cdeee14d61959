"""MAM's stream cipher: trits are added to the sponge's rate, 243 at a time.

Masking absorbs each plaintext chunk; the chunk is added (trit-wise, mod 3
in balanced form) to the rate read *before* that absorb. Unmasking subtracts
and absorbs the recovered plaintext, so both sides walk the same sponge.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..trinary._curl import HASH_LENGTH, Curl

# (a + b) in balanced form, for a, b in -1..1: index a + b + 2
_SUM = (1, -1, 0, 1, -1)


def mask(plain: Sequence[int], sponge: Curl) -> list[int]:
    key = sponge.rate()
    out: list[int] = []
    for c in range(0, len(plain), HASH_LENGTH):
        chunk = plain[c : c + HASH_LENGTH]
        sponge.absorb(chunk)
        out += [_SUM[p + k + 2] for p, k in zip(chunk, key)]
        key = sponge.rate()
    return out


def unmask(cipher: Sequence[int], sponge: Curl) -> list[int]:
    out: list[int] = []
    for c in range(0, len(cipher), HASH_LENGTH):
        key = sponge.rate()
        chunk = [_SUM[x - k + 2] for x, k in zip(cipher[c : c + HASH_LENGTH], key)]
        sponge.absorb(chunk)
        out += chunk
    return out


def mask_hash(trits: Sequence[int]) -> list[int]:
    """Curl-P-81 hash of the root: the address of private and restricted messages."""
    sponge = Curl(81)
    sponge.absorb(trits)
    return sponge.squeeze()
