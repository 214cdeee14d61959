"""The Merkle tree of a MAM channel: ``count`` WOTS leaves from ``start``.

Leaves are paired left to right, a parent being Curl27(left + right); an odd
node out is carried up unchanged. The root's address is the channel root.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..trinary import HASH_LENGTH, Curl, Trits
from ._iss import leaf


@dataclass(eq=False)
class Node:
    address: Trits
    left: Node | None = None
    right: Node | None = None
    private_key: Trits | None = None
    size: int = 1


def _parent(left: Node, right: Node | None) -> Node:
    if right is None:
        return Node(left.address, left, None, size=left.size)
    sponge = Curl(27)
    sponge.absorb(left.address)
    sponge.absorb(right.address)
    return Node(sponge.rate_trits(), left, right, size=left.size + right.size)


class MerkleTree:
    """A tree of ``count`` leaves at subseed indexes ``start .. start+count-1``."""

    __slots__ = ("count", "root", "security", "start")

    def __init__(self, seed: Sequence[int], start: int, count: int, security: int) -> None:
        self.start = start
        self.count = count
        self.security = security
        nodes = []
        for i in range(count):
            address, key = leaf(seed, start + i, security)
            nodes.append(Node(address, private_key=key))
        # The reference wraps even a single leaf in a parent node.
        while True:
            nodes = [
                _parent(nodes[i], nodes[i + 1] if i + 1 < len(nodes) else None)
                for i in range(0, len(nodes), 2)
            ]
            if len(nodes) == 1:
                break
        self.root = nodes[0]

    def subtree(self, index: int) -> tuple[Trits, list[Trits]]:
        """``(private_key, siblings)`` for the leaf at ``index`` (siblings leaf-first).

        Follows the reference, including its treatment of an unpaired node:
        the node itself stands in as its own sibling.
        """
        root = self.root
        if root.size == 1:
            assert root.left is not None and root.left.private_key is not None
            return root.left.private_key, []
        siblings: list[Trits] = []
        node: Node | None = root
        size = root.size
        key = Trits()
        if index < size:
            while node is not None:
                if node.left is None:
                    key = node.private_key or Trits()
                    break
                size = node.left.size
                if index < size:
                    siblings.append((node.right or node.left).address)
                    node = node.left
                else:
                    siblings.append(node.left.address)
                    node = node.right
                    index -= size
        siblings.reverse()
        return key, siblings


def root_from_siblings(address: Trits, siblings: Trits, index: int) -> Trits:
    """Recompute a root from a leaf address, its siblings and its index.

    A sibling equal to the node itself marks a node without a partner, which
    the tree carries up unhashed (writers put the node in as its own sibling,
    see :meth:`MerkleTree.subtree`). The reference reader hashes it anyway and
    so rejects the last message of trees whose size is not a power of two;
    this reader accepts them. Two distinct leaves never share an address, so
    no honest path is changed by this.
    """
    rate = address
    bit = 1
    for c in range(0, len(siblings), HASH_LENGTH):
        chunk = siblings[c : c + HASH_LENGTH]
        if chunk == rate:
            bit <<= 1
            continue
        sponge = Curl(27)
        if bit & index:
            sponge.absorb(chunk)
            sponge.absorb(rate)
        else:
            sponge.absorb(rate)
            sponge.absorb(chunk)
        rate = sponge.rate_trits()
        bit <<= 1
    return rate
