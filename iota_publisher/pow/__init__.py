"""Proof of work: the local equivalent of IRI's ``attachToTangle``.

>>> from iota_publisher.pow import attach_to_tangle
>>> attached = attach_to_tangle(trunk, branch, 9, bundle_trytes)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from .. import _backend
from ..errors import InvalidInputError
from ..trinary import int_to_trits, trits_to_trytes, trytes_to_trits, validate_trytes
from ..trinary.transaction import MAX_TIMESTAMP_VALUE, OFFSETS, TRANSACTION_LENGTH
from ._search import LANES, PowTimeoutError, check_mwm, nonce_for, search_nonce, search_nonce_hash

__all__ = [
    "LANES",
    "PowTimeoutError",
    "attach_to_tangle",
    "backend_name",
    "check_mwm",
    "nonce_for",
    "search_nonce",
]

backend_name = _backend.backend_name


def _set(trits: list[int], field: str, value: list[int]) -> None:
    start, length = OFFSETS[field]
    trits[3 * start : 3 * (start + length)] = value


def _get(trits: list[int], field: str) -> list[int]:
    start, length = OFFSETS[field]
    return trits[3 * start : 3 * (start + length)]


def _int_trits(value: int, field: str) -> list[int]:
    return int_to_trits(value, 3 * OFFSETS[field][1])


def attach_to_tangle(
    trunk: str,
    branch: str,
    mwm: int,
    trytes: Sequence[str],
    *,
    threads: int | None = None,
    timeout: float | None = None,
    now: Callable[[], int] | None = None,
) -> list[str]:
    """Do IRI's ``attachToTangle`` locally.

    ``trytes`` come in the order ``prepareTransfers`` (and
    :func:`iota_publisher.trinary.build_bundle`) return them, highest index
    first. Each is chained in turn: the first gets ``trunk`` and ``branch``,
    every later one the previous transaction's hash as trunk and ``trunk`` as
    branch. An empty tag is filled from the obsolete tag; the attachment
    timestamp is the current time in milliseconds (``now()``, if given), its
    bounds 0 and 3^27-1/2. The result is in reverse order, as IRI returns it.
    ``timeout`` (seconds) applies to each transaction's search.
    """
    validate_trytes(trunk, "trunkTransaction", length=81)
    validate_trytes(branch, "branchTransaction", length=81)
    check_mwm(mwm)
    if isinstance(trytes, str) or not trytes:
        raise InvalidInputError(
            "trytes must be a non-empty list of transaction trytes", field="trytes"
        )
    for i, t in enumerate(trytes):
        validate_trytes(t, f"trytes[{i}]", length=TRANSACTION_LENGTH)
    clock = now or (lambda: int(time.time() * 1000))
    out: list[str] = []
    previous: str | None = None
    for t in trytes:
        trits = trytes_to_trits(t)
        _set(trits, "trunk_transaction", trytes_to_trits(previous or trunk))
        _set(trits, "branch_transaction", trytes_to_trits(trunk if previous else branch))
        if not any(_get(trits, "tag")):
            _set(trits, "tag", _get(trits, "obsolete_tag"))
        _set(trits, "attachment_timestamp", _int_trits(clock(), "attachment_timestamp"))
        _set(
            trits,
            "attachment_timestamp_lower_bound",
            _int_trits(0, "attachment_timestamp_lower_bound"),
        )
        _set(
            trits,
            "attachment_timestamp_upper_bound",
            _int_trits(MAX_TIMESTAMP_VALUE, "attachment_timestamp_upper_bound"),
        )
        nonce, _tried, digest = search_nonce_hash(trits, mwm, threads=threads, timeout=timeout)
        _set(trits, "nonce", nonce)
        out.append(trits_to_trytes(trits))
        previous = trits_to_trytes(digest)  # transaction_hash() of it, from the search's state
    out.reverse()
    return out
