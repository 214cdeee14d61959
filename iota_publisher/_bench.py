"""Small timing helpers shared by ``iota-publish bench`` and benchmarks/."""

from __future__ import annotations

import os
import platform
import random
import statistics
import time
from collections.abc import Callable

from . import _backend
from ._version import __version__

__all__ = ["cpu_model", "describe", "median_time", "pow_rate", "random_transaction", "time_mam"]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def describe() -> str:
    """The machine, Python and backend a measurement ran on."""
    native = _backend.native()
    info = getattr(native, "BACKEND_INFO", "") if native is not None else ""
    return (
        f"machine: {cpu_model()}, {os.cpu_count()} logical cores, {platform.machine()}, "
        f"{platform.system()} {platform.release()}\n"
        f"python {platform.python_version()}, iota-publisher {__version__}, "
        f"backend {_backend.backend_name()}" + (f" ({info})" if info else "")
    )


def median_time(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_mam(security: int, repeat: int, length: int = 500) -> tuple[float, float]:
    """Median seconds of ``create_message`` and ``parse_message`` (restricted mode)."""
    from .mam import Channel, parse_message

    message = ("SENSORDATA9" * (length // 11 + 1))[:length]
    ch = Channel("ABCDEFGHIJKLMNOPQRSTUVWXYZ9" * 3, security, "restricted", "SIDEKEY")
    ch.create_message(message)  # a running channel has its next tree already
    create = median_time(lambda: ch.create_message(message), repeat)
    sample = ch.create_message(message)
    parse = median_time(lambda: parse_message(sample.payload, sample.root, "SIDEKEY"), repeat)
    return create, parse


def random_transaction(rng: random.Random) -> str:
    """Random transaction trytes (with an empty nonce) for proof-of-work timing."""
    from .trinary import TRYTE_ALPHABET

    return "".join(rng.choice(TRYTE_ALPHABET) for _ in range(2646)) + "9" * 27


def pow_rate(mwm: int, runs: int, threads: int | None, seed: int = 1) -> tuple[float, float, int]:
    """``(median seconds to a nonce, hashes per second, runs)`` for random transactions."""
    from .pow import search_nonce
    from .trinary import trytes_to_trits

    rng = random.Random(seed)
    times, hashes = [], 0
    for _ in range(runs):
        trits = trytes_to_trits(random_transaction(rng))
        start = time.perf_counter()
        _nonce, tried = search_nonce(trits, mwm, threads=threads)
        times.append(time.perf_counter() - start)
        hashes += tried
    return statistics.median(times), hashes / sum(times), runs
