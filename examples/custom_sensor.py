"""Publish readings from your own sensor code with the library (no agent).

Run in debug mode first (the config's "debug": true prints the packets):

    python examples/custom_sensor.py config.json
"""

import sys
import time

from iota_publisher import Publisher, TransientError


def read_my_sensor() -> dict:
    """Replace with your own code: return {field id: value} for the device's fields."""
    return {"temperature": 21.5, "humidity": 48}


def main(config_path: str) -> None:
    with Publisher.from_config(config_path) as pub:
        while True:
            try:
                result = pub.publish(read_my_sensor())
                if not result.debug:
                    print("published", result.packet, "root", result.root)
            except TransientError as exc:
                # the reading is kept in the outbox and goes out with the next publish
                print("network trouble, will retry:", exc, file=sys.stderr)
            time.sleep(60)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "config.json")
