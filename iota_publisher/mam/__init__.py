"""MAM v0 (Masked Authenticated Messaging) channels, byte-compatible with mam.js.

>>> from iota_publisher.mam import Channel, parse_message
>>> ch = Channel("A" * 81, security=1, mode="restricted", side_key="KEY")
>>> msg = ch.create_message("HELLO9WORLD")
>>> parse_message(msg.payload, msg.root, side_key="KEY").message
'HELLO9WORLD'
"""

from ..errors import InvalidInputError as _InvalidInputError
from ..trinary import Trits as _Trits
from ..trinary import validate_trytes as _validate_trytes
from ._channel import MODES, Channel, Message
from ._mask import mask_hash as _mask_hash
from ._parser import ParsedMessage, parse_message

__all__ = ["MODES", "Channel", "Message", "ParsedMessage", "message_address", "parse_message"]


def message_address(root: str, mode: str) -> str:
    """The address a message with ``root`` is attached to in ``mode``.

    Public channels use the root itself; private and restricted channels use
    the Curl-P-81 hash of the root, so the address does not reveal the root.
    """
    _validate_trytes(root, "root", length=81)
    if mode not in MODES:
        raise _InvalidInputError(f"mode must be one of {MODES}, not {mode!r}", field="mode")
    return root if mode == "public" else _mask_hash(_Trits.from_trytes(root)).trytes()
