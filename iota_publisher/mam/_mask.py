"""MAM's stream cipher: trits are added to the sponge's rate, 243 at a time.

Masking absorbs each plaintext chunk; the chunk is added (trit-wise, mod 3
in balanced form) to the rate read *before* that absorb. Unmasking subtracts
and absorbs the recovered plaintext, so both sides walk the same sponge.
The work is done by :meth:`Curl.mask` / :meth:`Curl.unmask` (native when built).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..trinary._curl import Curl


def mask(plain: Sequence[int], sponge: Curl) -> list[int]:
    return sponge.mask(plain)


def unmask(cipher: Sequence[int], sponge: Curl) -> list[int]:
    return sponge.unmask(cipher)


def mask_hash(trits: Sequence[int] | bytes) -> Any:
    """Curl-P-81 hash of the root: the address of private and restricted messages
    (in the backend's trit container)."""
    sponge = Curl(81)
    sponge.absorb(trits)
    return sponge.squeeze(raw=True)
