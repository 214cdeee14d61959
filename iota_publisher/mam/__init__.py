"""MAM v0 (Masked Authenticated Messaging) channels, byte-compatible with mam.js.

>>> from iota_publisher.mam import Channel, parse_message
>>> ch = Channel("A" * 81, security=1, mode="restricted", side_key="KEY")
>>> msg = ch.create_message("HELLO9WORLD")
>>> parse_message(msg.payload, msg.root, side_key="KEY").message
'HELLO9WORLD'
"""

from ._channel import MODES, Channel, Message
from ._mask import mask_hash as _mask_hash
from ._parser import ParsedMessage, parse_message
from ..trinary._codec import trits_to_trytes as _t2t, trytes_to_trits as _tt2t, validate_trytes as _vt

__all__ = ["MODES", "Channel", "Message", "ParsedMessage", "message_address", "parse_message"]


def message_address(root: str, mode: str) -> str:
    """The address a message with ``root`` is attached to in ``mode``.

    Public channels use the root itself; private and restricted channels use
    the Curl-P-81 hash of the root, so the address does not reveal the root.
    """
    _vt(root, "root", length=81)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    return root if mode == "public" else _t2t(_mask_hash(_tt2t(root)))
