"""Read published packets back: from the Tangle by root, or from a purchased stream.

Anyone can attach transactions to any address, so whatever does not decode,
verify against the root, or hold a packet is skipped (and logged), never
trusted.

Registration is at-least-once: when the marketplace stored a packet but its
answer was lost, the publisher registers the same root again. Readers drop a
root they have yielded already, so each message comes out once: a repeated
stream entry is skipped, and a channel whose next root leads back to one seen
ends there.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .errors import MamParseError
from .mam import ParsedMessage, message_address, parse_message
from .trinary import Transaction, trytes_to_ascii

__all__ = ["FetchedPacket", "decode_packet", "fetch_channel", "fetch_message", "fetch_stream"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchedPacket:
    """A verified packet: ``{"time": ms, "data": {...}}`` and where it was found."""

    root: str
    next_root: str
    time: int
    data: Any


def decode_packet(message_trytes: str) -> tuple[int, Any]:
    """``(time, data)`` of a packet's trytes; raises ``ValueError`` if it is not one."""
    packet = json.loads(trytes_to_ascii(message_trytes))
    if (
        not isinstance(packet, dict)
        or not isinstance(packet.get("time"), int)
        or "data" not in packet
    ):
        raise ValueError("not a {time, data} packet")
    return packet["time"], packet["data"]


def _bundles(node: Any, address: str) -> list[str]:
    """Payloads of the bundles at ``address`` (fragments joined in index order)."""
    hashes = node.find_transactions(addresses=[address])
    if not hashes:
        return []
    groups: dict[str, list[Transaction]] = {}
    for trytes in node.get_trytes(hashes):
        try:
            tx = Transaction.from_trytes(trytes)
        except ValueError:
            continue  # unknown hash (all 9s) or garbage
        if tx.address == address:
            groups.setdefault(tx.bundle, []).append(tx)
    payloads = []
    for txs in groups.values():
        by_index = {tx.current_index: tx for tx in txs}
        last = txs[0].last_index
        if set(by_index) != set(range(last + 1)):
            continue  # incomplete bundle
        payloads.append("".join(by_index[i].signature_message_fragment for i in range(last + 1)))
    return payloads


def fetch_message(
    node: Any, root: str, side_key: str | None = None, mode: str = "restricted"
) -> ParsedMessage | None:
    """The first message at ``root`` that verifies, or ``None`` if there is none yet."""
    address = message_address(root, mode)
    for payload in _bundles(node, address):
        try:
            return parse_message(payload, root, side_key)
        except MamParseError as exc:
            log.warning("skipping a bundle at %s that does not verify: %s", address, exc)
    return None


def fetch_channel(
    node: Any,
    root: str,
    side_key: str | None = None,
    mode: str = "restricted",
    *,
    limit: int | None = None,
) -> Iterator[FetchedPacket]:
    """Follow a channel with one side key from ``root``, one packet per message
    (each root once: a next root already seen ends the channel)."""
    count = 0
    seen: set[str] = set()
    while limit is None or count < limit:
        if root in seen:
            log.warning("channel leads back to root %s; stopping there", root)
            return
        seen.add(root)
        parsed = fetch_message(node, root, side_key, mode)
        if parsed is None:
            return
        packet = _packet(root, parsed)
        if packet is not None:
            yield packet
        count += 1
        root = parsed.next_root


def fetch_stream(
    marketplace: Any,
    node: Any,
    device_id: str,
    user_id: str,
    *,
    limit: int | None = None,
    api_key: str | None = None,
) -> Iterator[FetchedPacket]:
    """Packets of a purchased device, newest first: roots and keys from the
    marketplace's stream, messages from the node. ``api_key`` (the buyer's)
    goes to the marketplace with the stream requests. A root the stream lists
    again (registered twice) is yielded once."""
    count = 0
    seen: set[str] = set()
    entries = (
        marketplace.iter_stream(device_id, user_id)
        if api_key is None
        else marketplace.iter_stream(device_id, user_id, api_key=api_key)
    )
    for entry in entries:
        if limit is not None and count >= limit:
            return
        if entry.root in seen:
            log.debug("root %s is listed again (registered twice); skipped", entry.root)
            continue
        seen.add(entry.root)
        parsed = fetch_message(node, entry.root, entry.sidekey, "restricted")
        if parsed is None:
            log.warning("no message found on the Tangle for root %s", entry.root)
            continue
        packet = _packet(entry.root, parsed)
        if packet is not None:
            count += 1
            yield packet


def _packet(root: str, parsed: ParsedMessage) -> FetchedPacket | None:
    try:
        time, data = decode_packet(parsed.message)
    except ValueError as exc:
        log.warning("message at root %s is not a packet: %s", root, exc)
        return None
    return FetchedPacket(root, parsed.next_root, time, data)
