"""The address of private and restricted MAM messages: a hash of the root.

MAM's stream cipher itself (the rate added to each 243-trit chunk, the plain
chunk absorbed) is :meth:`Curl.mask` / :meth:`Curl.unmask`, native when built.
"""

from __future__ import annotations

from ..trinary import Curl, Trits


def mask_hash(trits: Trits) -> Trits:
    """Curl-P-81 hash of the root: the address of private and restricted messages."""
    sponge = Curl(81)
    sponge.absorb(trits)
    return sponge.squeeze_trits()
