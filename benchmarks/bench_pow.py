"""Proof-of-work throughput and time to nonce, against the C ccurl that PyOTA used.

    python benchmarks/bench_pow.py [--mwm 9 14] [--runs N] [--ccurl PATH | --fetch-ccurl]

Prints medians of time to a nonce per MWM, and hashes per second on one core
and on all cores. ``--fetch-ccurl`` downloads PyPI ``pyota-pow`` (its
prebuilt libccurl.so; the package itself is not installed) and times
``ccurl_pow`` in the same run. ccurl does not report how many hashes it
tried, so its rate is estimated as runs x 3^MWM / total time (the expected
number of candidates); ours is given both ways. ccurl sometimes returns a
wrong nonce, so every nonce it returns is checked.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from iota_publisher import _backend
from iota_publisher._bench import describe, random_transaction
from iota_publisher.pow import search_nonce
from iota_publisher.trinary import trytes_to_trits
from iota_publisher.trinary.bundle import trailing_zeros
from iota_publisher.trinary.transaction import transaction_hash


def random_transactions(count: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [random_transaction(rng) for _ in range(count)]


def report(name: str, mwm: int, times: list[float], hashes: int | None) -> float:
    total = sum(times)
    expected_rate = len(times) * 3**mwm / total
    median = statistics.median(times)
    line = f"{name:28} mwm {mwm:2}: median {median:7.3f} s to nonce ({len(times)} runs)"
    if hashes is not None:
        line += f", {hashes / total / 1e6:6.2f} MH/s measured"
    line += f", {expected_rate / 1e6:6.2f} MH/s expected-count"
    print(line)
    return hashes / total if hashes is not None else expected_rate


def bench_ours(name: str, module, mwm: int, runs: int, threads: int | None) -> float:
    previous = _backend.set_native(module)
    try:
        times, hashes = [], 0
        for trytes in random_transactions(runs, seed=mwm):
            start = time.perf_counter()
            _nonce, tried = search_nonce(trytes_to_trits(trytes), mwm, threads=threads)
            times.append(time.perf_counter() - start)
            hashes += tried
        return report(name, mwm, times, hashes)
    finally:
        _backend.set_native(previous)


def fetch_ccurl() -> Path:
    target = Path(tempfile.mkdtemp(prefix="ccurl-"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "-q",
            "-d",
            str(target),
            "pyota-pow",
        ],
        check=True,
    )
    wheel = next(target.glob("*.whl"))
    with zipfile.ZipFile(wheel) as z:
        z.extract("pow/libccurl.so", target)
    return target / "pow" / "libccurl.so"


def bench_ccurl(lib_path: Path, mwm: int, runs: int, cores: set[int]) -> float:
    lib = ctypes.CDLL(str(lib_path))
    lib.ccurl_pow.restype = ctypes.c_char_p
    lib.ccurl_pow.argtypes = [ctypes.c_char_p, ctypes.c_int]
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)  # ccurl's threads inherit the calling thread's CPUs
    try:
        times, wrong = [], 0
        for trytes in random_transactions(runs, seed=100 + mwm):
            start = time.perf_counter()
            out = lib.ccurl_pow(trytes.encode(), mwm).decode()
            times.append(time.perf_counter() - start)
            if trailing_zeros(transaction_hash(out)) < mwm:
                wrong += 1
    finally:
        os.sched_setaffinity(0, old)
    rate = report(f"ccurl ({len(cores)} core{'s' * (len(cores) > 1)})", mwm, times, None)
    if wrong:
        print(f"  ccurl returned {wrong} invalid nonce(s) out of {runs}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mwm", type=int, nargs="+", default=[9, 14])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--pure-runs", type=int, default=3, help="runs for the pure-Python fallback (mwm 9 only)"
    )
    parser.add_argument("--ccurl", type=Path, help="path to a libccurl.so")
    parser.add_argument(
        "--fetch-ccurl", action="store_true", help="download pyota-pow's libccurl.so"
    )
    args = parser.parse_args()
    print(describe())
    cores = os.sched_getaffinity(0)

    try:
        from iota_publisher import _native  # type: ignore[attr-defined]
    except ImportError:
        _native = None

    ccurl = args.ccurl or (fetch_ccurl() if args.fetch_ccurl else None)
    for mwm in args.mwm:
        ours1 = oursn = None
        if _native is not None:
            ours1 = bench_ours("native (1 thread)", _native, mwm, args.runs, 1)
            oursn = bench_ours(f"native ({len(cores)} threads)", _native, mwm, args.runs, None)
        if mwm <= 9:
            bench_ours("pure Python (1 thread)", None, mwm, args.pure_runs, None)
        if ccurl:
            c1 = bench_ccurl(ccurl, mwm, args.runs, {min(cores)})
            cn = bench_ccurl(ccurl, mwm, args.runs, cores)
            if ours1 and oursn:
                print(
                    f"  speed-up over ccurl: {ours1 / c1:.1f}x on one core, "
                    f"{oursn / cn:.1f}x on all cores"
                )


if __name__ == "__main__":
    main()
