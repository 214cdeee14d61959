"""ISS-P27: MAM's Winternitz signatures over Curl-P-27.

A leaf of a MAM Merkle tree is one WOTS key pair:

* subseed = Curl27(seed + index);
* pre-key = ``security * 27`` segments squeezed from Curl27(subseed); the
  private key is every pre-key segment hashed once;
* the digest hashes every key segment 26 more times and absorbs them all;
  the leaf's address is Curl27(digest).

A message is signed with the hash (sponge rate) itself, not a normalized
form: the nonce search makes the hash's thirds sum to zero instead, and the
number of zero-sum thirds tells the reader the security level.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..trinary import HASH_LENGTH, Curl, Trits, hash_chains_trits
from ..trinary.signing import add_index

SEGMENTS_PER_FRAGMENT = 27
FRAGMENT_LENGTH = SEGMENTS_PER_FRAGMENT * HASH_LENGTH
_MAX_TRYTE = 13
_MIN_TRYTE = -13


def subseed(seed: Sequence[int], index: int) -> Trits:
    sponge = Curl(27)
    sponge.absorb(add_index(seed, index))
    return sponge.squeeze_trits()


def _absorbed_rate(trits: Trits) -> Trits:
    sponge = Curl(27)
    sponge.absorb(trits)
    return sponge.rate_trits()


def leaf(seed: Sequence[int], index: int, security: int) -> tuple[Trits, Trits]:
    """``(address, private_key)`` of the leaf at ``index``."""
    sponge = Curl(27)
    sponge.absorb(subseed(seed, index))
    segments = security * SEGMENTS_PER_FRAGMENT
    pre_key = sponge.squeeze_trits(segments * HASH_LENGTH)
    private_key = hash_chains_trits(pre_key, [1] * segments)
    digests = hash_chains_trits(private_key, [_MAX_TRYTE - _MIN_TRYTE] * segments)
    digest = _absorbed_rate(digests)
    return _absorbed_rate(digest), private_key


def _tryte_values(hash_trits: Trits, count: int) -> list[int]:
    values = hash_trits.tolist()
    return [values[3 * i] + 3 * values[3 * i + 1] + 9 * values[3 * i + 2] for i in range(count)]


def signature(hash_trits: Trits, private_key: Trits) -> Trits:
    """Sign a 243-trit hash: key segment i is hashed ``13 - tryte_i`` times."""
    count = len(private_key) // HASH_LENGTH
    steps = [_MAX_TRYTE - v for v in _tryte_values(hash_trits, count)]
    return hash_chains_trits(private_key, steps)


def digest_from_signature(hash_trits: Trits, sig: Trits) -> Trits:
    """Finish the chains of a signature and absorb them: the key's digest."""
    count = len(sig) // HASH_LENGTH
    steps = [v - _MIN_TRYTE for v in _tryte_values(hash_trits, count)]
    return _absorbed_rate(hash_chains_trits(sig, steps))


def address_from_digest(digest: Trits) -> Trits:
    return _absorbed_rate(digest)


def checksum_security(hash_trits: Trits) -> int:
    """Security level signalled by a hash: 1-3, or 0 if no third-prefix sums to 0."""
    values = hash_trits.tolist()
    if sum(values[:81]) == 0:
        return 1
    if sum(values[:162]) == 0:
        return 2
    return 3 if sum(values[:243]) == 0 else 0
