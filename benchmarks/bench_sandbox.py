"""How many messages per second the sandbox accepts from one publisher.

    python benchmarks/bench_sandbox.py [--readings 50] [--mwm 9]

Starts ``iota-publish sandbox`` in its own process (fresh data directory,
free ports), then one :class:`~iota_publisher.publisher.Publisher` with
local proof of work publishes ``--readings`` readings through it, one after
another, with the config the sandbox wrote: MAM message (security 2,
restricted), bundle, getTransactionsToApprove, proof of work at ``--mwm``,
storeTransactions + broadcastTransactions (the node checks format, proof of
work and the bundle), newData. Prints the median time per message, the
messages per second over the whole run, each step's share, and the machine.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from iota_publisher._bench import describe
from iota_publisher.config import Config
from iota_publisher.publisher import Publisher

STEPS = {
    "mam": "MAM message + bundle",
    "pow": "tips + proof of work",
    "node": "store + broadcast (node)",
    "marketplace": "newData (marketplace)",
}


def start_sandbox(tmp: Path, mwm: int) -> tuple[subprocess.Popen[str], Path]:
    config = tmp / "sandbox-config.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "iota_publisher",
            "sandbox",
            "--port",
            "0",
            "--mwm",
            str(mwm),
            "--data",
            str(tmp / "data"),
            "--config",
            str(config),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("Ctrl-C"):
            return proc, config
    raise SystemExit(f"the sandbox did not start (exit code {proc.wait()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=50)
    parser.add_argument("--mwm", type=int, default=9)
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as tmp:
        proc, config_path = start_sandbox(Path(tmp), args.mwm)
        try:
            raw = json.loads(config_path.read_text())
            config = Config.from_mapping(raw, base_dir=config_path.parent)
            walls: list[float] = []
            steps: dict[str, list[float]] = {k: [] for k in STEPS}
            with Publisher(config) as pub:
                pub.publish({"warm": 1})  # the first publish builds the channel's first trees
                started = time.perf_counter()
                for i in range(args.readings):
                    t0 = time.perf_counter()
                    result = pub.publish(
                        {"temperature": 20 + i / 10, "humidity": 40, "pressure": 1013.2}
                    )
                    walls.append(time.perf_counter() - t0)
                    for key, values in steps.items():
                        values.append(result.timings.get(key, 0.0))
                total = time.perf_counter() - started
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)
    median = statistics.median(walls)
    print(
        f"sandbox at mwm {args.mwm}, one publisher (local PoW, security 2, restricted), "
        f"{args.readings} messages: median {median * 1000:.1f} ms per message, "
        f"{args.readings / total:.1f} messages/s"
    )
    for key, label in STEPS.items():
        print(
            f"  {label:26} median {statistics.median(steps[key]) * 1000:7.1f} ms, "
            f"{sum(steps[key]) / total * 100:5.1f}% of the time"
        )
    rest = total - sum(sum(v) for v in steps.values())
    print(f"  {'outbox (SQLite) + rest':26} {rest / total * 100:5.1f}% of the time")


if __name__ == "__main__":
    main()
