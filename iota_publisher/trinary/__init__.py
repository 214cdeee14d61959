"""The legacy IOTA trinary core: pure functions, no I/O.

Conversions between trytes, trits, integers and ASCII; the Curl-P and Kerl
sponges; WOTS signing (:mod:`.signing`); Pascal encoding (:mod:`.pascal`);
the transaction codec and zero-value bundles.
"""

from ._codec import (
    TRYTE_ALPHABET,
    ascii_to_trytes,
    int_to_trits,
    is_trytes,
    pad_trytes,
    trits_to_int,
    trits_to_trytes,
    trytes_to_ascii,
    trytes_to_trits,
    validate_trytes,
)
from ._curl import (
    HASH_LENGTH,
    STATE_LENGTH,
    Curl,
    NativeCurl,
    PureCurl,
    curl_hash,
    hash_chains,
    hash_chains_trits,
    transform_sliced,
)
from ._kerl import Kerl, kerl_hash
from ._trits import Trits
from .bundle import BundleError, build_bundle, bundle_hash, validate_bundle
from .transaction import Transaction, transaction_hash

__all__ = [
    "HASH_LENGTH",
    "STATE_LENGTH",
    "TRYTE_ALPHABET",
    "BundleError",
    "Curl",
    "Kerl",
    "NativeCurl",
    "PureCurl",
    "Transaction",
    "Trits",
    "ascii_to_trytes",
    "build_bundle",
    "bundle_hash",
    "curl_hash",
    "hash_chains",
    "hash_chains_trits",
    "int_to_trits",
    "is_trytes",
    "kerl_hash",
    "pad_trytes",
    "transaction_hash",
    "transform_sliced",
    "trits_to_int",
    "trits_to_trytes",
    "trytes_to_ascii",
    "trytes_to_trits",
    "validate_bundle",
    "validate_trytes",
]
