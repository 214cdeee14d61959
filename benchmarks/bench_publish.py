"""One publish end to end at MWM 9 against loopback HTTP stand-ins, and peak memory.

    python benchmarks/bench_publish.py [--runs 20] [--readings 100] [--mwm 9]

Prints the median wall time of ``Publisher.publish`` (MAM message, bundle,
local proof of work, storeTransactions/broadcastTransactions, newData over
HTTP on 127.0.0.1 to stand-ins from iota_publisher.testing running in another
process) with the share of each step, and the peak RSS of a fresh process that
publishes ``--readings`` readings.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from iota_publisher._bench import describe
from iota_publisher.config import Config
from iota_publisher.publisher import Publisher

SERVICES = """
import sys
from iota_publisher.testing import FakeMarketplace, FakeNode, LoopbackServices
with LoopbackServices(FakeNode(mwm=int(sys.argv[1])), FakeMarketplace()) as services:
    print(services.node_url, services.endpoint, flush=True)
    sys.stdin.read()
"""

CHILD = """
import resource, sys
from iota_publisher.config import Config
from iota_publisher.publisher import Publisher
node_url, endpoint, state, count, mwm = sys.argv[1:6]
cfg = Config.from_mapping({"sensorId": "sensor-1", "secretKey": "SECRET", "debug": False,
    "provider": node_url, "endpoint": endpoint, "stateDir": state, "mwm": int(mwm)})
with Publisher(cfg) as pub:
    for i in range(int(count)):
        pub.publish({"temperature": 20 + i / 10, "humidity": 40})
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def config(node_url: str, endpoint: str, state: str, mwm: int) -> Config:
    return Config.from_mapping(
        {
            "sensorId": "sensor-1",
            "secretKey": "SECRET",
            "debug": False,
            "mwm": mwm,
            "provider": node_url,
            "endpoint": endpoint,
            "stateDir": state,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--readings", type=int, default=100)
    parser.add_argument("--mwm", type=int, default=9)
    args = parser.parse_args()
    print(describe())

    # the stand-in node and marketplace run in their own process, as real ones would
    services = subprocess.Popen(
        [sys.executable, "-c", SERVICES, str(args.mwm)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert services.stdout is not None and services.stdin is not None
    node_url, endpoint = services.stdout.readline().split()
    try:
        run(args, node_url, endpoint)
    finally:
        services.stdin.close()
        services.wait(timeout=30)


def run(args: argparse.Namespace, node_url: str, endpoint: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with Publisher(config(node_url, endpoint, str(Path(tmp) / "a"), args.mwm)) as pub:
            pub.publish({"warm": 1})  # first publish builds the channel's first two trees
            walls, steps = [], {"mam": [], "pow": [], "node": [], "marketplace": []}
            for i in range(args.runs):
                start = time.perf_counter()
                result = pub.publish({"temperature": 20 + i / 10, "humidity": 40})
                walls.append(time.perf_counter() - start)
                for key in steps:
                    steps[key].append(result.timings.get(key, 0.0))
        median = statistics.median(walls)
        total = sum(walls)
        print(
            f"publish at mwm {args.mwm} (security 2, local PoW, loopback HTTP): "
            f"median {median * 1000:.1f} ms over {args.runs} publishes"
        )
        labels = {
            "mam": "MAM message + bundle",
            "pow": "tips + proof of work",
            "node": "store/broadcast (HTTP)",
            "marketplace": "newData (HTTP)",
        }
        for key, label in labels.items():
            print(
                f"  {label:24} median {statistics.median(steps[key]) * 1000:7.1f} ms, "
                f"{sum(steps[key]) / total * 100:5.1f}% of the time"
            )
        rest = total - sum(sum(v) for v in steps.values())
        print(f"  {'outbox (SQLite) + rest':24} {rest / total * 100:5.1f}% of the time")

        out = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                node_url,
                endpoint,
                str(Path(tmp) / "b"),
                str(args.readings),
                str(args.mwm),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        print(
            f"peak RSS of a process publishing {args.readings} readings: "
            f"{int(out.split()[-1]) / 1024:.1f} MB"
        )


if __name__ == "__main__":
    main()
