"""A MAM v0 channel: the reader's side (``parseMessage``)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import MamParseError, MamSignatureError
from ..trinary import HASH_LENGTH, Curl, Trits, pad_trytes, validate_trytes
from ..trinary.pascal import PascalDecodeError, pascal_decode
from ._iss import FRAGMENT_LENGTH, address_from_digest, checksum_security, digest_from_signature
from ._merkle import root_from_siblings

__all__ = ["ParsedMessage", "parse_message"]

_NONCE_LENGTH = 81
# Pascal integers in MAM headers are a few trytes; a window this wide holds any
# that can describe a real payload (3^100 trits), longer ones are malformed.
_HEADER_WINDOW = 400


@dataclass(frozen=True)
class ParsedMessage:
    """A verified message: its trytes and the root of the channel's next tree."""

    message: str
    next_root: str


def _decode(trits: list[int], offset: int, what: str) -> tuple[int, int]:
    try:
        value, end = pascal_decode(trits, offset)
    except PascalDecodeError:
        raise MamParseError(f"MAM payload is truncated or malformed: no {what}") from None
    if value < 0:
        raise MamParseError(f"MAM payload is malformed: negative {what}")
    return value, end


def parse_message(payload: str, root: str, side_key: str | None = None) -> ParsedMessage:
    """Decrypt and verify one payload of the channel tree with ``root``.

    ``side_key`` is needed for restricted channels (shorter keys are padded
    with ``9``, as the writer pads them). Raises :class:`MamParseError` when
    the payload is truncated or malformed and :class:`MamSignatureError` when
    it does not verify against ``root`` (wrong side key, wrong root, or
    tampered payload).
    """
    validate_trytes(payload, "payload")
    validate_trytes(root, "root", length=81)
    if side_key is None:
        key = "9" * 81
    else:
        key = pad_trytes(validate_trytes(side_key, "side_key", max_length=81, secret=True), 81)

    trits = Trits.from_trytes(payload)
    # the plain header: two short Pascal integers at the start
    header = trits[: 2 * _HEADER_WINDOW].tolist()
    index, header_end = _decode(header, 0, "channel index")
    length, next_root_start = _decode(header, header_end, "message length")
    if length % 3:
        raise MamParseError(
            f"MAM payload is malformed: message length {length} is not whole trytes"
        )
    message_start = next_root_start + HASH_LENGTH
    message_end = message_start + length
    if message_end + _NONCE_LENGTH > len(trits):
        raise MamParseError(
            f"MAM payload is truncated: it announces a {length // 3}-tryte message, "
            f"but has only {len(payload)} trytes"
        )

    sponge = Curl(27)
    sponge.absorb(Trits.from_trytes(key))
    sponge.absorb(Trits.from_trytes(root))
    sponge.absorb(trits[:next_root_start])
    next_root = sponge.unmask_trits(trits[next_root_start:message_start])
    message = sponge.unmask_trits(trits[message_start:message_end])
    sponge.unmask_trits(trits[message_end : message_end + _NONCE_LENGTH])
    hmac = sponge.rate_trits()

    security = checksum_security(hmac)
    if security == 0:
        raise MamSignatureError(
            "MAM payload does not verify (no valid security level): "
            "wrong side key, wrong root, or tampered payload"
        )
    rest = sponge.unmask_trits(trits[message_end + _NONCE_LENGTH :])
    signature_length = security * FRAGMENT_LENGTH
    if len(rest) < signature_length:
        raise MamParseError("MAM payload is truncated: the signature is cut off")
    count_window = rest[signature_length : signature_length + _HEADER_WINDOW].tolist()
    siblings_count, count_end = _decode(count_window, 0, "sibling count")
    siblings_start = signature_length + count_end
    siblings_end = siblings_start + siblings_count * HASH_LENGTH
    if siblings_end > len(rest):
        raise MamParseError("MAM payload is truncated: the Merkle siblings are cut off")

    digest = digest_from_signature(hmac, rest[:signature_length])
    computed = address_from_digest(digest)
    if siblings_count:
        computed = root_from_siblings(computed, rest[siblings_start:siblings_end], index)
    if computed.trytes() != root:
        raise MamSignatureError(
            "MAM payload does not verify: its signature does not lead to the root "
            "(wrong side key, wrong root, or tampered payload)"
        )
    return ParsedMessage(message.trytes(), next_root.trytes())
