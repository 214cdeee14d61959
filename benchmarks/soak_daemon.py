"""Soak the daemon: many kills and restarts, faults, a long outage; count what got through.

    python benchmarks/soak_daemon.py [--seconds 180] [--outage 30] [--interval 1]

Runs the real ``iota-publish run`` against a sandbox behind the fault
proxies of ``tests/system`` (a ``command`` sensor printing a counter, so
every reading has its own value). For ``--seconds`` it starts the daemon,
lets it run a random 0.3-3 s while a random fault is on (none, the node
dropping or hanging, newData answers lost, 500s), then ends it with
``kill -9`` or SIGTERM (timing how long SIGTERM takes), and starts it again.
Then one outage of ``--outage`` seconds (the node dropping every request)
with the daemon running, and a last run with everything working that sends
what waited. Checked as a buyer reads the stream from the sandbox:

* read: readings the sensor gave (the counter);
* registered: distinct values in the stream; duplicates: values registered
  under two roots (a root registered twice is dropped by readers and not
  counted);
* lost: values read but never registered. A ``kill -9`` between the
  sensor's answer and the outbox's commit loses that one reading (it was
  never accepted), so up to one per kill is the expected figure;
  anything above that is a bug;
* chain breaks: messages whose next root is not the next message;
* stop times after SIGTERM: median and max (the promise is 2 s).
"""

from __future__ import annotations

import argparse
import collections
import itertools
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from system.rig import Rig

from iota_publisher._bench import describe

FAULTS = ("none", "none", "drop", "hang", "lost", "status")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="kill/restart phase")
    parser.add_argument("--outage", type=float, default=30.0, help="one outage, seconds")
    parser.add_argument("--interval", type=float, default=1.0, help="reading interval")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    stops: list[float] = []
    counts = collections.Counter()
    with tempfile.TemporaryDirectory() as tmp, Rig(Path(tmp), interval=args.interval) as rig:
        started = time.monotonic()
        while time.monotonic() - started < args.seconds:
            fault = rng.choice(FAULTS)
            counts[f"fault {fault}"] += 1
            if fault == "drop":
                rig.node_proxy.fault("drop")
            elif fault == "hang":
                rig.node_proxy.fault("hang", command=rng.choice(["storeTransactions", None]))
            elif fault == "lost":
                rig.market_proxy.fault("lost", path="/newData", times=1)
            elif fault == "status":
                rig.node_proxy.fault("status", code=500, body="busy", times=3)
            proc = rig.start()
            time.sleep(rng.uniform(0.3, 3.0))
            if rng.random() < 0.6:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                counts["kill -9"] += 1
            else:
                code, seconds = rig.stop(proc)
                stops.append(seconds)
                counts["SIGTERM"] += 1
                if code != 0:
                    counts[f"SIGTERM exit {code}"] += 1
            rig.node_proxy.clear()
            rig.market_proxy.clear()
        # one long outage with the daemon running
        proc = rig.start()
        time.sleep(1.0)
        rig.node_proxy.fault("drop")
        time.sleep(args.outage)
        rig.node_proxy.clear()
        time.sleep(2.0)
        code, seconds = rig.stop(proc)
        stops.append(seconds)
        counts["SIGTERM"] += 1
        # and what waited goes out
        proc = rig.start("--once")
        final = rig.wait(proc, timeout=600)
        packets = rig.registered()
        read = rig.reads()
        elapsed = time.monotonic() - started

    values = [p.data["n"] for p in packets]
    by_value = collections.Counter(values)
    duplicates = sum(n - 1 for n in by_value.values() if n > 1)
    lost = sorted(set(range(1, read + 1)) - set(values))
    ordered = sorted(packets, key=lambda p: p.time)
    breaks = sum(1 for a, b in itertools.pairwise(ordered) if a.next_root != b.root)
    print(describe())
    print(
        f"ran {elapsed:.0f} s: {counts['kill -9']} kill -9, {counts['SIGTERM']} SIGTERM, "
        f"an outage of {args.outage:.0f} s, interval {args.interval:g} s"
    )
    print(
        "faults: "
        + ", ".join(f"{k[6:]} {v}" for k, v in sorted(counts.items()) if k.startswith("fault "))
    )
    print(f"readings read:       {read}")
    print(f"registered:          {len(by_value)}")
    print(f"duplicates:          {duplicates}")
    print(
        f"lost:                {len(lost)} (at most one per kill -9 expected: {counts['kill -9']})"
    )
    print(f"chain breaks:        {breaks}")
    print(f"stop after SIGTERM:  median {statistics.median(stops):.2f} s, max {max(stops):.2f} s")
    bad = [k for k in counts if k.startswith("SIGTERM exit")]
    print(
        f"last run exit:       {final}; SIGTERM exits other than 0: {sum(counts[k] for k in bad)}"
    )
    ok = (
        duplicates == 0
        and breaks == 0
        and len(lost) <= counts["kill -9"]
        and max(stops) < 2.0
        and final == 0
        and not bad
    )
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
