"""Write a sensor packet as a restricted MAM message and read it back.

Runs offline: nothing is sent. Usage: python examples/mam_roundtrip.py
"""

import json
import secrets
import time

from iota_publisher.mam import Channel, parse_message
from iota_publisher.trinary import TRYTE_ALPHABET, ascii_to_trytes, trytes_to_ascii


def random_trytes(n: int) -> str:
    return "".join(secrets.choice(TRYTE_ALPHABET) for _ in range(n))


def main() -> None:
    seed = random_trytes(81)
    side_key = random_trytes(81)
    channel = Channel(seed, security=2, mode="restricted", side_key=side_key)

    packet = {"time": int(time.time() * 1000), "data": {"temperature": 21.5, "humidity": 48}}
    started = time.perf_counter()
    message = channel.create_message(ascii_to_trytes(json.dumps(packet)))
    elapsed = time.perf_counter() - started
    print(f"created a {len(message.payload)}-tryte payload in {elapsed * 1000:.0f} ms")
    print(f"root:    {message.root}")
    print(f"address: {message.address}")

    parsed = parse_message(message.payload, message.root, side_key=side_key)
    print("decoded:", json.loads(trytes_to_ascii(parsed.message)))
    assert parsed.next_root == message.next_root


if __name__ == "__main__":
    main()
