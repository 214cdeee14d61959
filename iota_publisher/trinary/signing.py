"""Winternitz one-time signatures (WOTS) of legacy IOTA.

Two families share the same shape (a private key of ``security`` fragments of
27 segments of 243 trits; every segment a hash chain of 27 links):

* the ledger's, built on **Kerl** (addresses, bundle signatures,
  normalized bundle hashes), in this module;
* MAM's ISS-P27, built on **Curl-P-27**, in :mod:`iota_publisher.mam` (it
  uses :func:`add_index` and the chain kernel of :mod:`._curl`).

Everything here is pure: trits in, trits out.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import InvalidInputError
from ._codec import (
    int_to_trits,
    trits_to_int,
    trits_to_trytes,
    tryte_value,
    trytes_to_trits,
    validate_trytes,
)
from ._kerl import Kerl

__all__ = [
    "FRAGMENT_LENGTH",
    "SEGMENTS_PER_FRAGMENT",
    "add_index",
    "address",
    "digest_from_signature_fragment",
    "digests",
    "key",
    "normalized_hash",
    "signature_fragment",
    "signature_fragments",
    "subseed",
    "validate_signatures",
]

HASH_LENGTH = 243
SEGMENTS_PER_FRAGMENT = 27
FRAGMENT_LENGTH = SEGMENTS_PER_FRAGMENT * HASH_LENGTH  # 6561 trits, one security level
MIN_TRYTE_VALUE = -13
MAX_TRYTE_VALUE = 13


def check_security(security: object) -> int:
    if not isinstance(security, int) or isinstance(security, bool) or not 1 <= security <= 3:
        raise InvalidInputError(f"security must be 1, 2 or 3, not {security!r}", field="security")
    return security


def check_index(index: object, field: str = "index") -> int:
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise InvalidInputError(f"{field} must be a non-negative int, not {index!r}", field=field)
    return index


def add_index(seed: Sequence[int], index: int) -> list[int]:
    """``seed + index`` in balanced ternary, wrapping at the seed's length.

    This is the subseed preimage of both WOTS families: the reference adds
    one ``index`` times, carrying, and drops the carry out of the last trit.
    """
    check_index(index)
    n = len(seed)
    modulus = 3**n
    half = (modulus - 1) // 2
    value = (trits_to_int(seed) + index + half) % modulus - half
    return int_to_trits(value, n)


def _chain(sponge: Kerl, segment: list[int], steps: int) -> list[int]:
    for _ in range(steps):
        sponge.reset()
        sponge.absorb(segment)
        segment = sponge.squeeze()
    return segment


def subseed(seed: Sequence[int], index: int) -> list[int]:
    """Kerl subseed of ``seed`` (padded to a multiple of 243 trits) at ``index``."""
    padded = list(seed) + [0] * (-len(seed) % HASH_LENGTH)
    k = Kerl()
    k.absorb(add_index(padded, index))
    return k.squeeze()


def key(subseed_trits: Sequence[int], security: int) -> list[int]:
    """Private key: ``security`` x 6561 trits squeezed from Kerl(subseed)."""
    check_security(security)
    if len(subseed_trits) != HASH_LENGTH:
        raise InvalidInputError("a subseed is 243 trits", field="subseed")
    k = Kerl()
    k.absorb(subseed_trits)
    return k.squeeze(security * FRAGMENT_LENGTH)


def _fragments(trits: Sequence[int], field: str) -> list[list[int]]:
    if not trits or len(trits) % FRAGMENT_LENGTH:
        raise InvalidInputError(
            f"{field} must be a non-empty multiple of {FRAGMENT_LENGTH} trits", field=field
        )
    return [list(trits[i : i + FRAGMENT_LENGTH]) for i in range(0, len(trits), FRAGMENT_LENGTH)]


def _fragment_digest(fragment: list[int], steps: Sequence[int]) -> list[int]:
    sponge = Kerl()
    hashed: list[int] = []
    for j, count in enumerate(steps):
        hashed += _chain(sponge, fragment[j * HASH_LENGTH : (j + 1) * HASH_LENGTH], count)
    sponge.reset()
    sponge.absorb(hashed)
    return sponge.squeeze()


def digests(key_trits: Sequence[int]) -> list[int]:
    """One 243-trit digest per key fragment (each segment hashed 26 times)."""
    full = MAX_TRYTE_VALUE - MIN_TRYTE_VALUE
    out: list[int] = []
    for fragment in _fragments(key_trits, "key"):
        out += _fragment_digest(fragment, [full] * SEGMENTS_PER_FRAGMENT)
    return out


def address(digests_trits: Sequence[int]) -> list[int]:
    """Address (243 trits) of the concatenated digests."""
    if not digests_trits or len(digests_trits) % HASH_LENGTH:
        raise InvalidInputError(
            "digests must be a non-empty multiple of 243 trits", field="digests"
        )
    k = Kerl()
    k.absorb(digests_trits)
    return k.squeeze()


def normalized_hash(hash_trytes: str) -> list[int]:
    """Normalize a bundle hash: 81 tryte values whose thirds each sum to zero.

    Values are lowered (sum above zero) or raised (sum below) one at a time,
    always at the first tryte not yet at -13 (or 13), as the reference does.
    A normalized hash containing 13 (``M``) reveals a whole key segment; the
    bundle builder avoids such hashes.
    """
    validate_trytes(hash_trytes, "bundle hash", length=81)
    out = [tryte_value(c) for c in hash_trytes]
    for third in range(0, 81, 27):
        total = sum(out[third : third + 27])
        # lowering the first tryte not yet at -13, one step at a time, is the same
        # as lowering each tryte in turn as far as it goes (and likewise upwards)
        for j in range(third, third + 27):
            if total > 0:
                step = min(total, out[j] - MIN_TRYTE_VALUE)
                out[j] -= step
                total -= step
            elif total < 0:
                step = min(-total, MAX_TRYTE_VALUE - out[j])
                out[j] += step
                total += step
            else:
                break
    return out


def _normalized_fragment(normalized: Sequence[int]) -> list[int]:
    if len(normalized) != SEGMENTS_PER_FRAGMENT or any(
        not MIN_TRYTE_VALUE <= v <= MAX_TRYTE_VALUE for v in normalized
    ):
        raise InvalidInputError(
            "a normalized fragment is 27 values in -13..13", field="normalized_fragment"
        )
    return list(normalized)


def signature_fragment(
    normalized_fragment: Sequence[int], key_fragment: Sequence[int]
) -> list[int]:
    """Sign one 27-value third of a normalized hash with one key fragment."""
    norm = _normalized_fragment(normalized_fragment)
    if len(key_fragment) != FRAGMENT_LENGTH:
        raise InvalidInputError(f"a key fragment is {FRAGMENT_LENGTH} trits", field="key_fragment")
    sponge = Kerl()
    out: list[int] = []
    for j, value in enumerate(norm):
        segment = list(key_fragment[j * HASH_LENGTH : (j + 1) * HASH_LENGTH])
        out += _chain(sponge, segment, MAX_TRYTE_VALUE - value)
    return out


def signature_fragments(
    seed: Sequence[int], index: int, security: int, bundle_hash: str
) -> list[list[int]]:
    """Signature fragments (one per security level) of ``bundle_hash``."""
    normalized = normalized_hash(bundle_hash)
    key_trits = key(subseed(seed, index), security)
    return [
        signature_fragment(
            normalized[i * 27 : (i + 1) * 27],
            key_trits[i * FRAGMENT_LENGTH : (i + 1) * FRAGMENT_LENGTH],
        )
        for i in range(security)
    ]


def digest_from_signature_fragment(
    normalized_fragment: Sequence[int], fragment: Sequence[int]
) -> list[int]:
    """The digest a signature fragment leads to (the verifier's side)."""
    norm = _normalized_fragment(normalized_fragment)
    if len(fragment) != FRAGMENT_LENGTH:
        raise InvalidInputError(
            f"a signature fragment is {FRAGMENT_LENGTH} trits", field="signature_fragment"
        )
    return _fragment_digest(list(fragment), [v - MIN_TRYTE_VALUE for v in norm])


def validate_signatures(expected_address: str, fragments: Sequence[str], bundle_hash: str) -> bool:
    """Tell whether signature fragments (trytes) sign ``bundle_hash`` for the address."""
    validate_trytes(expected_address, "address", length=81)
    normalized = normalized_hash(bundle_hash)
    all_digests: list[int] = []
    for i, fragment in enumerate(fragments):
        validate_trytes(fragment, f"signature fragment {i}", length=FRAGMENT_LENGTH // 3)
        third = i % 3
        all_digests += digest_from_signature_fragment(
            normalized[third * 27 : (third + 1) * 27], trytes_to_trits(fragment)
        )
    if not all_digests:
        return False
    return trits_to_trytes(address(all_digests)) == expected_address
