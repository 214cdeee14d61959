"""A MAM v0 channel: the writer's side.

Byte-compatible with ``@iota/mam.js`` 1.0.0-beta.10 (``createChannel`` /
``createMessage``) and ``@iota/mam`` 0.7.3: for the same seed, security,
mode, side key, state and message, the payload, root, address and next root
are identical.

Payload layout (trits)::

    pascal(index) pascal(length) | mask(next_root + message) | mask(nonce)
    | mask(signature + pascal(sibling count) + siblings) | 0-2 zero trits

The sponge (Curl-P-27) first absorbs the side key (81 ``9`` for public and
private channels) and the tree's root, then the plain header.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInputError
from ..trinary import STATE_LENGTH, Curl, Trits, pad_trytes, trytes_to_trits, validate_trytes
from ..trinary.pascal import pascal_encode
from ..trinary.signing import check_security
from ._hamming import hamming_search
from ._iss import signature
from ._mask import mask_hash
from ._merkle import MerkleTree

__all__ = ["MODES", "Channel", "Message"]

MODES = ("public", "private", "restricted")
_NO_KEY = "9" * 81
_TREE_CACHE_SIZE = 3


@dataclass(frozen=True)
class Message:
    """One created message.

    ``payload`` goes into the transactions' message fragments, at ``address``;
    readers need ``root`` (and the side key in restricted mode).
    ``next_root`` is the root of the channel's next tree.
    """

    payload: str
    root: str
    address: str
    next_root: str


def _check_mode(mode: object) -> str:
    if mode not in MODES:
        raise InvalidInputError(
            f"mode must be 'public', 'private' or 'restricted', not {mode!r}", field="mode"
        )
    return mode  # type: ignore[return-value]


def _check_side_key(mode: str, side_key: object) -> str | None:
    """Validate a side key for ``mode``; return it padded to 81 trytes (or None)."""
    if mode == "restricted":
        if not side_key:
            raise InvalidInputError("restricted mode needs a side key", field="side_key")
        validate_trytes(side_key, "side_key", max_length=81, secret=True)
        return pad_trytes(side_key, 81)  # type: ignore[arg-type]
    if side_key:
        raise InvalidInputError(
            f"a side key is only used in restricted mode, not in {mode} mode", field="side_key"
        )
    return None


def _check_count(value: object, field: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidInputError(f"{field} must be an int >= {minimum}, not {value!r}", field=field)
    return value


class Channel:
    """The writer's side of a MAM v0 channel.

    >>> ch = Channel("A" * 81, security=1, mode="public")
    >>> msg = ch.create_message("HELLO")
    >>> msg.address == msg.root
    True

    ``create_message`` advances the channel; persist :meth:`to_dict` before
    the message leaves the process, or a restart signs the same key again.
    """

    def __init__(
        self,
        seed: str,
        security: int = 2,
        mode: str = "restricted",
        side_key: str | None = None,
    ) -> None:
        self._seed = validate_trytes(seed, "seed", length=81, secret=True)
        self._seed_trits = trytes_to_trits(seed)
        self._security = check_security(security)
        self._mode = _check_mode(mode)
        self._side_key = _check_side_key(self._mode, side_key)
        self._start = 0
        self._count = 1
        self._next_count = 1
        self._index = 0
        self._next_root: str | None = None
        self._trees: OrderedDict[tuple[int, int], MerkleTree] = OrderedDict()

    # -- state -------------------------------------------------------------

    @property
    def seed(self) -> str:
        return self._seed

    @property
    def security(self) -> int:
        return self._security

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def side_key(self) -> str | None:
        """The side key, padded to 81 trytes (restricted mode), else ``None``."""
        return self._side_key

    @property
    def start(self) -> int:
        """Subseed index of the current tree's first leaf."""
        return self._start

    @property
    def count(self) -> int:
        """Leaves per tree."""
        return self._count

    @property
    def next_count(self) -> int:
        return self._next_count

    @property
    def index(self) -> int:
        """Leaf of the current tree that signs the next message."""
        return self._index

    @property
    def next_root(self) -> str | None:
        """Next root of the last message created (``None`` before the first)."""
        return self._next_root

    def change_mode(self, mode: str, side_key: str | None = None) -> None:
        """Switch mode and side key (restricted mode needs one), as mam.js's changeMode."""
        mode = _check_mode(mode)
        self._side_key = _check_side_key(mode, side_key)
        self._mode = mode

    @property
    def root(self) -> str:
        """Root of the tree that signs the next message."""
        return self._tree(self._start, self._count).root.address.trytes()

    def _tree(self, start: int, count: int) -> MerkleTree:
        key = (start, count)
        tree = self._trees.get(key)
        if tree is None:
            tree = MerkleTree(self._seed_trits, start, count, self._security)
            self._trees[key] = tree
            while len(self._trees) > _TREE_CACHE_SIZE:
                self._trees.popitem(last=False)
        else:
            self._trees.move_to_end(key)
        return tree

    # -- writing -----------------------------------------------------------

    def create_message(self, message: str) -> Message:
        """Create the next message of the channel from ``message`` trytes and advance."""
        validate_trytes(message, "message")
        tree = self._tree(self._start, self._count)
        next_tree = self._tree(self._start + self._count, self._next_count)
        root = tree.root.address
        next_root = next_tree.root.address
        message_trits = Trits.from_trytes(message)
        header = Trits(pascal_encode(self._index) + pascal_encode(len(message_trits)))
        private_key, siblings = tree.subtree(self._index)

        sponge = Curl(27)
        sponge.absorb(Trits.from_trytes(self._side_key or _NO_KEY))
        sponge.absorb(root)
        sponge.absorb(header)
        payload = header + sponge.mask_trits(next_root + message_trits)
        nonce = hamming_search(sponge.rate_trits(STATE_LENGTH), self._security)
        payload += sponge.mask_trits(nonce)
        sig = signature(sponge.rate_trits(), private_key)
        tail = Trits(pascal_encode(len(siblings))) + Trits.concat(siblings)
        payload += sponge.mask_trits(sig + tail)
        payload += Trits.zeros(-len(payload) % 3)

        root_trytes = root.trytes()
        address = root_trytes if self._mode == "public" else mask_hash(root).trytes()

        if self._index == self._count - 1:
            self._start += self._next_count
            self._index = 0
        else:
            self._index += 1
        self._next_root = next_root.trytes()
        return Message(payload.trytes(), root_trytes, address, self._next_root)

    # -- persistence -------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The state with mam.js's field names (secret: it holds the seed)."""
        state: dict[str, Any] = {"seed": self._seed, "mode": self._mode}
        if self._side_key is not None:
            state["sideKey"] = self._side_key
        state.update(
            security=self._security,
            start=self._start,
            count=self._count,
            nextCount=self._next_count,
            index=self._index,
        )
        if self._next_root is not None:
            state["nextRoot"] = self._next_root
        return state

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> Channel:
        """Rebuild a channel from :meth:`to_dict`, a mam.js state, or an @iota/mam state.

        ``@iota/mam`` 0.7.3's ``{"seed", "channel": {...snake_case...}}`` is
        accepted too, so a channel can move over from either library.
        """
        if not isinstance(state, Mapping):
            raise InvalidInputError("channel state must be a mapping", field="state")
        flat: dict[str, Any] = dict(state)
        if isinstance(state.get("channel"), Mapping):
            flat = {**state["channel"], "seed": state.get("seed")}
        aliases = {"side_key": "sideKey", "next_count": "nextCount", "next_root": "nextRoot"}
        for old, new in aliases.items():
            if old in flat and new not in flat:
                flat[new] = flat.pop(old)
        for required in ("seed", "mode", "security", "start", "count", "nextCount", "index"):
            if flat.get(required) is None:
                raise InvalidInputError(f"channel state lacks {required!r}", field=required)
        mode = _check_mode(flat["mode"])
        side_key = flat.get("sideKey") or None
        channel = cls(
            flat["seed"], flat["security"], mode, side_key if mode == "restricted" else None
        )
        if side_key and mode != "restricted":
            raise InvalidInputError(
                f"channel state has a sideKey but mode {mode!r}; side keys are for restricted mode",
                field="sideKey",
            )
        channel._start = _check_count(flat["start"], "start", 0)
        channel._count = _check_count(flat["count"], "count", 1)
        channel._next_count = _check_count(flat["nextCount"], "nextCount", 1)
        channel._index = _check_count(flat["index"], "index", 0)
        if channel._index >= channel._count:
            raise InvalidInputError(
                f"index {channel._index} is outside a tree of {channel._count} leaves",
                field="index",
            )
        next_root = flat.get("nextRoot")
        if next_root is not None:
            channel._next_root = validate_trytes(next_root, "nextRoot", length=81)
        return channel

    def __repr__(self) -> str:
        return (
            f"Channel(mode={self._mode!r}, security={self._security}, start={self._start}, "
            f"count={self._count}, index={self._index})"
        )
