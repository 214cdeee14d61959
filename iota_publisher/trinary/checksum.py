"""Address checksums: 9 trytes appended to an 81-tryte address.

The checksum is the last 9 trytes of the Kerl hash of the address, so a
mistyped address is caught before anything is sent to it.
"""

from __future__ import annotations

from ..errors import InvalidTrytesError
from ._codec import trits_to_trytes, trytes_to_trits, validate_trytes
from ._kerl import kerl_hash

__all__ = ["add_checksum", "address_checksum", "strip_checksum"]


def address_checksum(address: str) -> str:
    """The 9-tryte checksum of an 81-tryte address."""
    validate_trytes(address, "address", length=81)
    return trits_to_trytes(kerl_hash(trytes_to_trits(address)))[-9:]


def add_checksum(address: str) -> str:
    return address + address_checksum(address)


def strip_checksum(address: str, field: str = "address") -> str:
    """Return the 81-tryte address from 81 trytes, or from 90 with a valid checksum."""
    validate_trytes(address, field)
    if len(address) == 81:
        return address
    if len(address) != 90:
        raise InvalidTrytesError(
            f"{field} must be 81 trytes, or 90 with its checksum, not {len(address)}", field=field
        )
    if address_checksum(address[:81]) != address[81:]:
        raise InvalidTrytesError(f"{field} has a wrong checksum (mistyped?)", field=field)
    return address[:81]
