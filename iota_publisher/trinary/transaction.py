"""The legacy transaction format: 2673 trytes (8019 trits), and its hash.

Layout, in trytes::

    signatureMessageFragment 2187 | address 81 | value 27 | obsoleteTag 27
    | timestamp 9 | currentIndex 9 | lastIndex 9 | bundle 81 | trunkTransaction 81
    | branchTransaction 81 | tag 27 | attachmentTimestamp 9
    | attachmentTimestampLowerBound 9 | attachmentTimestampUpperBound 9 | nonce 27

A transaction's hash is the Curl-P-81 hash of its trits. Integers are
balanced ternary, least significant trit first; ``value`` may use only its
first 33 trits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from ..errors import InvalidInputError
from ._codec import int_to_trits, trits_to_int, trits_to_trytes, trytes_to_trits, validate_trytes
from ._curl import curl_hash

__all__ = [
    "MAX_TIMESTAMP_VALUE",
    "TRANSACTION_LENGTH",
    "Transaction",
    "transaction_hash",
]

TRANSACTION_LENGTH = 2673  # trytes
MESSAGE_LENGTH = 2187  # trytes per signature/message fragment
VALUE_SIGNIFICANT_TRITS = 33
MAX_TIMESTAMP_VALUE = (3**27 - 1) // 2  # the largest value of a 27-trit field

# (python name, reference name, length in trytes, is an integer field)
_LAYOUT: tuple[tuple[str, str, int, bool], ...] = (
    ("signature_message_fragment", "signatureMessageFragment", 2187, False),
    ("address", "address", 81, False),
    ("value", "value", 27, True),
    ("obsolete_tag", "obsoleteTag", 27, False),
    ("timestamp", "timestamp", 9, True),
    ("current_index", "currentIndex", 9, True),
    ("last_index", "lastIndex", 9, True),
    ("bundle", "bundle", 81, False),
    ("trunk_transaction", "trunkTransaction", 81, False),
    ("branch_transaction", "branchTransaction", 81, False),
    ("tag", "tag", 27, False),
    ("attachment_timestamp", "attachmentTimestamp", 9, True),
    ("attachment_timestamp_lower_bound", "attachmentTimestampLowerBound", 9, True),
    ("attachment_timestamp_upper_bound", "attachmentTimestampUpperBound", 9, True),
    ("nonce", "nonce", 27, False),
)

OFFSETS: dict[str, tuple[int, int]] = {}  # python name -> (tryte offset, tryte length)
_pos = 0
for _name, _ref, _length, _ in _LAYOUT:
    OFFSETS[_name] = (_pos, _length)
    _pos += _length
assert _pos == TRANSACTION_LENGTH
del _pos, _name, _ref, _length


def _int_field(value: Any, name: str, length: int, significant: int | None = None) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInputError(f"{name} must be an int, not {type(value).__name__}", field=name)
    limit = significant if significant is not None else 3 * length
    if abs(value) > (3**limit - 1) // 2:
        raise InvalidInputError(f"{name} {value} does not fit in {limit} trits", field=name)
    return trits_to_trytes(int_to_trits(value, 3 * length))


@dataclass(frozen=True)
class Transaction:
    """One legacy transaction. Build with :meth:`from_trytes`; write with :meth:`as_trytes`."""

    signature_message_fragment: str
    address: str
    value: int
    obsolete_tag: str
    timestamp: int
    current_index: int
    last_index: int
    bundle: str
    trunk_transaction: str
    branch_transaction: str
    tag: str
    attachment_timestamp: int
    attachment_timestamp_lower_bound: int
    attachment_timestamp_upper_bound: int
    nonce: str

    def __post_init__(self) -> None:
        for name, ref, length, is_int in _LAYOUT:
            value = getattr(self, name)
            if is_int:
                sig = VALUE_SIGNIFICANT_TRITS if name == "value" else None
                _int_field(value, ref, length, sig)
            else:
                validate_trytes(value, ref, length=length)

    @classmethod
    def from_trytes(cls, trytes: str) -> Transaction:
        """Decode 2673 trytes (raises naming the bad field)."""
        validate_trytes(trytes, "transaction trytes", length=TRANSACTION_LENGTH)
        value_start = OFFSETS["value"][0] + VALUE_SIGNIFICANT_TRITS // 3
        if trytes[value_start : OFFSETS["obsolete_tag"][0]].strip("9"):
            raise InvalidInputError(
                "transaction value uses trits beyond the first 33", field="value"
            )
        kwargs: dict[str, Any] = {}
        for name, _ref, _length, is_int in _LAYOUT:
            start, length = OFFSETS[name]
            part = trytes[start : start + length]
            kwargs[name] = trits_to_int(trytes_to_trits(part)) if is_int else part
        return cls(**kwargs)

    def as_trytes(self) -> str:
        parts = []
        for name, _ref, length, is_int in _LAYOUT:
            value = getattr(self, name)
            parts.append(trits_to_trytes(int_to_trits(value, 3 * length)) if is_int else value)
        return "".join(parts)

    @property
    def hash(self) -> str:
        return transaction_hash(self.as_trytes())

    @property
    def essence(self) -> list[int]:
        """The 486 trits the bundle hash covers (address .. lastIndex)."""
        start = OFFSETS["address"][0]
        end = OFFSETS["bundle"][0]
        return trytes_to_trits(self.as_trytes()[start:end])

    def replace(self, **changes: Any) -> Transaction:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The reference's transaction object (camelCase, with ``hash``)."""
        data = asdict(self)
        out: dict[str, Any] = {"hash": self.hash}
        for name, ref, _length, _ in _LAYOUT:
            out[ref] = data[name]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transaction:
        """Build from a reference-style (camelCase) or snake_case mapping."""
        kwargs = {}
        for name, ref, _length, _ in _LAYOUT:
            if ref in data:
                kwargs[name] = data[ref]
            elif name in data:
                kwargs[name] = data[name]
            else:
                raise InvalidInputError(f"transaction lacks {ref!r}", field=ref)
        return cls(**kwargs)


def transaction_hash(trytes: str) -> str:
    """Curl-P-81 hash of 2673 transaction trytes."""
    validate_trytes(trytes, "transaction trytes", length=TRANSACTION_LENGTH)
    return trits_to_trytes(curl_hash(trytes_to_trits(trytes), rounds=81))
