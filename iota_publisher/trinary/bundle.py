"""Zero-value bundles that carry a message, as ``prepareTransfers`` builds them.

A bundle of ``n`` transactions shares one bundle hash: the Kerl hash of every
transaction's essence. The hash is *finalised* as the reference does: while
its normalized form contains 13 (which would reveal a whole key segment if
the bundle were ever signed), the first transaction's obsolete tag is
incremented and the hash recomputed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from Crypto.Hash import keccak

from .. import _backend
from ..errors import BundleError
from ._codec import (
    int_to_trits,
    pad_trytes,
    trits_to_int,
    trits_to_trytes,
    trytes_to_trits,
    validate_trytes,
)
from ._kerl import Kerl, kerl_chunk_bytes, kerl_digest
from .checksum import strip_checksum
from .signing import add_index, normalized_hash
from .transaction import MESSAGE_LENGTH, Transaction, transaction_hash

__all__ = ["BundleError", "build_bundle", "bundle_hash", "validate_bundle"]

NULL_HASH = "9" * 81
NULL_TAG = "9" * 27
NULL_NONCE = "9" * 27


def bundle_hash(transactions: Sequence[Transaction]) -> str:
    """Kerl hash of the transactions' essences, in index order."""
    kerl = Kerl()
    for tx in transactions:
        kerl.absorb(tx.essence)
    return trits_to_trytes(kerl.squeeze())


_P81 = 3**81  # one step of the obsolete tag, which starts at trit 81 of its chunk
_HALF81 = (_P81 - 1) // 2
_MOD_3 = 3**242
_HALF_3 = (_MOD_3 - 1) // 2
_HALF27 = (27**81 - 1) // 2  # 81 balanced base-27 digits <-> digits 0..26 (offset 13)
_P27 = 27**27
_P9 = 27**9
_MOD_2 = 1 << 384
_TRYTE_OF_DIGIT = "NOPQRSTUVWXYZ9ABCDEFGHIJKLM"  # digit d (0..26) is tryte value d - 13


def _digest_value(digest: bytes) -> int:
    """A Kerl digest as 81 base-27 digits 0..26 (tryte value + 13; trit 242 is 0)."""
    value = int.from_bytes(digest, "big", signed=True)
    return (value + _HALF_3) % _MOD_3 - _HALF_3 + _HALF27


def _digits(part: int, n: int) -> list[int]:
    """The ``n`` lowest base-27 digits of ``part``, least significant first."""
    digits: list[int] = []
    while n > 0:  # nine digits at a time keep the divisions on small integers
        part, low = divmod(part, _P9)
        for _ in range(min(n, 9)):
            low, d = divmod(low, 27)
            digits.append(d)
        n -= 9
    return digits


def _third_has_13(part: list[int]) -> bool:
    """Whether the normalized form of 27 digits (tryte value + 13) holds a 13."""
    total = sum(part) - 13 * 27
    if total == 0:
        return 26 in part
    j = 0
    if total > 0:  # lowered from the front; a tryte lowered at all is below 13
        while total > 0:
            total -= part[j]
            j += 1
        return 26 in part[j:]
    while total < 0:  # raised from the front; a tryte raised in full becomes 13
        total += 26 - part[j]
        j += 1
    # every tryte before the last one raised ends at 13, and so does the last
    # one unless it was raised only part of the way (total > 0 now)
    return j > 1 or total == 0 or 26 in part[1:]


def _normalized_has_13(value: int) -> bool:
    """Whether :func:`normalized_hash` of the digest digits in ``value`` holds a 13."""
    for _ in range(3):  # the first third alone rules most tries out
        value, part = divmod(value, _P27)
        if _third_has_13(_digits(part, 27)):
            return True
    return False


def _finalize(transactions: list[Transaction]) -> list[Transaction]:
    # Only the first transaction's obsolete tag changes between tries. It is
    # trits 81..161 of the second Kerl chunk of that essence, so one step adds
    # 3**81 to that chunk's integer; every other chunk is converted once. The
    # normalized hash is checked on the digest's base-27 digits.
    essences = [tx.essence for tx in transactions]
    chunks = [kerl_chunk_bytes(e[i : i + 243]) for e in essences for i in (0, 243)]
    first = essences[0]
    tag = trits_to_int(first[324:405])
    rest = trits_to_int(first[243:485]) - tag * _P81
    head, tail = chunks[0], b"".join(chunks[2:])
    finalize = getattr(_backend.native(), "bundle_finalize", None)
    digest = None
    if finalize is not None:  # the same search in C, up to where the tag would wrap
        steps, digest = finalize(b"".join(chunks), 48, min(_HALF81 - tag, 1 << 62))
        tag += steps
    if digest is not None:
        value = _digest_value(digest)
    else:
        while True:
            chunk = ((rest + tag * _P81) % _MOD_2).to_bytes(48, "big")
            value = _digest_value(keccak.new(data=head + chunk + tail, digest_bits=384).digest())
            if not _normalized_has_13(value):
                break
            tag = (tag + 1 + _HALF81) % _P81 - _HALF81  # add_index(obsolete, 1): wraps
    bundle = "".join(_TRYTE_OF_DIGIT[d] for d in _digits(value, 81))
    transactions[0] = transactions[0].replace(obsolete_tag=trits_to_trytes(int_to_trits(tag, 81)))
    return [tx.replace(bundle=bundle) for tx in transactions]


def _finalize_trits(transactions: list[Transaction]) -> list[Transaction]:
    """The finalisation on trits and trytes, as the reference spells it (for tests)."""
    essences = [tx.essence for tx in transactions]
    chunks = [kerl_chunk_bytes(e[i : i + 243]) for e in essences for i in (0, 243)]
    first = essences[0]
    obsolete = first[324:405]
    while True:
        digest = trits_to_trytes(kerl_digest(chunks))
        if 13 not in normalized_hash(digest):
            break
        obsolete = add_index(obsolete, 1)
        chunks[1] = kerl_chunk_bytes(first[243:324] + obsolete + first[405:486])
    transactions[0] = transactions[0].replace(obsolete_tag=trits_to_trytes(obsolete))
    return [tx.replace(bundle=digest) for tx in transactions]


def build_bundle(
    address: str,
    message: str,
    tag: str = "SENSORDATA",
    timestamp: int | None = None,
) -> list[str]:
    """Transaction trytes of a zero-value bundle carrying ``message`` to ``address``.

    ``address`` is 81 trytes, or 90 with a checksum (which is checked).
    The message is split over 2187-tryte fragments (padded with ``9``; like
    the reference, a message filling its last fragment exactly gets one more,
    empty, fragment). ``timestamp`` is in seconds (now, if ``None``). Trunk,
    branch, nonce and attachment fields are left empty for
    :func:`iota_publisher.pow.attach_to_tangle`. Returned highest index first,
    the order ``prepareTransfers`` returns and ``attachToTangle`` expects.
    """
    address = strip_checksum(address)
    validate_trytes(message, "message")
    validate_trytes(tag, "tag", max_length=27)
    if timestamp is None:
        timestamp = int(time.time())
    fragments = 1 + len(message) // MESSAGE_LENGTH
    padded_tag = pad_trytes(tag, 27)
    transactions = [
        Transaction(
            signature_message_fragment=pad_trytes(
                message[i * MESSAGE_LENGTH : (i + 1) * MESSAGE_LENGTH], MESSAGE_LENGTH
            ),
            address=address,
            value=0,
            obsolete_tag=padded_tag,
            timestamp=timestamp,
            current_index=i,
            last_index=fragments - 1,
            bundle=NULL_HASH,
            trunk_transaction=NULL_HASH,
            branch_transaction=NULL_HASH,
            tag=padded_tag,
            attachment_timestamp=0,
            attachment_timestamp_lower_bound=0,
            attachment_timestamp_upper_bound=0,
            nonce=NULL_NONCE,
        )
        for i in range(fragments)
    ]
    return [tx.as_trytes() for tx in reversed(_finalize(transactions))]


def validate_bundle(trytes: Sequence[str], *, mwm: int | None = None) -> list[Transaction]:
    """Check that transaction trytes form one attached, consistent bundle.

    Accepts any order; checks indexes 0..n-1 with a common last index, the
    bundle hash, the chaining ``attachToTangle`` makes (each transaction's trunk
    is the next index's hash, its branch the head's trunk) and, with ``mwm``,
    every hash's trailing zero trits. Returns the
    transactions in index order; raises :class:`BundleError` naming the problem.
    Zero-value bundles only carry messages, so signatures are not checked
    (and values must be zero).
    """
    if not trytes:
        raise BundleError("a bundle has at least one transaction", field="bundle")
    txs = sorted((Transaction.from_trytes(t) for t in trytes), key=lambda t: t.current_index)
    last = len(txs) - 1
    for i, tx in enumerate(txs):
        if tx.current_index != i or tx.last_index != last:
            raise BundleError(
                f"transaction indexes must run 0..{last} with lastIndex {last}; found "
                f"currentIndex {tx.current_index} lastIndex {tx.last_index}",
                field="currentIndex",
            )
        if tx.value != 0:
            raise BundleError("only zero-value bundles are supported", field="value")
        if tx.bundle != txs[0].bundle:
            raise BundleError("transactions disagree on the bundle hash", field="bundle")
    if bundle_hash(txs) != txs[0].bundle:
        raise BundleError("the bundle hash does not match the transactions", field="bundle")
    hashes = [transaction_hash(tx.as_trytes()) for tx in txs]
    for i in range(last):
        if txs[i].trunk_transaction != hashes[i + 1]:
            raise BundleError(
                f"transaction {i}'s trunk is not transaction {i + 1}", field="trunkTransaction"
            )
        if txs[i].branch_transaction != txs[last].trunk_transaction:
            raise BundleError(
                f"transaction {i}'s branch is not the bundle's trunk", field="branchTransaction"
            )
    if mwm is not None:
        for i, h in enumerate(hashes):
            if trailing_zeros(h) < mwm:
                raise BundleError(
                    f"transaction {i} has too little proof of work for weight {mwm}",
                    field="nonce",
                )
    return txs


def trailing_zeros(hash_trytes: str) -> int:
    """Number of zero trits at the end of a hash."""
    trits = trytes_to_trits(hash_trytes)
    n = 0
    for t in reversed(trits):
        if t:
            break
        n += 1
    return n
