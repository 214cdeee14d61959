"""Small timing helpers shared by ``iota-publish bench`` and benchmarks/."""

from __future__ import annotations

import os
import platform
import random
import statistics
import time
from collections.abc import Callable, Sequence

from . import _backend
from ._version import __version__

__all__ = [
    "PATH_WORDS",
    "cpu_model",
    "describe",
    "estimate_pow",
    "kernel_path",
    "median_time",
    "path_summary",
    "pow_rate",
    "random_transaction",
    "time_mam",
]

#: What each code path of proof of work and hash chains is, for a user.
PATH_WORDS = {
    "avx2": "AVX2: the native C kernel on 256-bit AVX2 vector instructions, "
    "the fastest path on x86-64",
    "sse2": "SSE2: the native C kernel on 128-bit SSE2 vector instructions "
    "(this CPU has no AVX2, or IOTA_PUBLISHER_KERNEL chose SSE2), "
    "several times slower than AVX2",
    "neon": "NEON: the native C kernel on ARM's 128-bit NEON vector instructions, "
    "the fastest path on a Raspberry Pi 2 or later",
    "portable": "portable: the native C kernel without vector instructions "
    "(this CPU has none the kernel uses, as on a Raspberry Pi Zero or Pi 1, or "
    "IOTA_PUBLISHER_KERNEL chose it); several times slower than NEON or SSE2",
    "pure": "pure Python: every hash runs in Python, hundreds of times slower than the "
    "native C kernel (if it was not built: install a C compiler and the Python headers, "
    "e.g. `sudo apt install gcc python3-dev`, then reinstall iota-publisher)",
}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def kernel_path() -> str:
    """The code path proof of work runs on: avx2, sse2, neon, portable or pure."""
    native = _backend.native()
    if native is None:
        return "pure"
    picker = getattr(native, "kernel_path", None)
    return picker() if picker is not None else "native"


def estimate_pow(mwms: Sequence[int], threads: int | None = None) -> tuple[float, dict[int, float]]:
    """``(hashes per second, {mwm: expected seconds per transaction})``, measured quickly.

    A nonce takes 3**mwm candidates on average; the fixed cost of a search
    (the transaction's midstate, starting threads) is measured at mwm 1.
    """
    from .pow import search_nonce
    from .trinary import trytes_to_trits

    rng = random.Random(7)
    pure = _backend.native() is None
    txs = [trytes_to_trits(random_transaction(rng)) for _ in range(1 if pure else 3)]
    fixed = median_time(lambda: search_nonce(txs[0], 1, threads=threads), 1 if pure else 3)
    if pure:  # one search at mwm 1 hashes a whole block of candidates
        tried = search_nonce(txs[0], 1)[1]
        rate = tried / fixed
    else:
        start, tried = time.perf_counter(), 0
        for trits in txs:
            tried += search_nonce(trits, 11, threads=threads)[1]
        rate = tried / (time.perf_counter() - start)
    return rate, {m: fixed + 3**m / rate for m in mwms}


def _seconds(t: float) -> str:
    if t < 1:
        return f"{t * 1000:.0f} ms" if t >= 0.01 else f"{t * 1000:.1f} ms"
    if t < 120:
        return f"{t:.1f} s"
    return f"{t / 60:.0f} min"


def path_summary(mwms: Sequence[int] = (9, 14), threads: int | None = None) -> str:
    """Which proof-of-work path runs, in words, and what it means at these MWMs."""
    path = kernel_path()
    lines = [f"proof-of-work path: {PATH_WORDS.get(path, path)}"]
    if path == "pure" and _backend._pure_forced():
        lines.append("  (IOTA_PUBLISHER_PURE is set: unset it to use the native kernel)")
    native = _backend.native()
    others = [p for p in getattr(native, "kernel_paths", tuple)() if p != path]
    if others:
        lines.append(
            "  other paths this CPU can run (IOTA_PUBLISHER_KERNEL=name): "
            + ", ".join(p.upper() if p != "portable" else p for p in others)
        )
    rate, seconds = estimate_pow(mwms, threads)
    cores = 1 if native is None else (threads or os.cpu_count() or 1)
    lines.append(
        "  a transaction's proof of work here takes about "
        + ", ".join(f"{_seconds(t)} at mwm {m}" for m, t in seconds.items())
        + f" ({rate / 1e6:.2f} million hashes/s on {cores} "
        + ("core" if cores == 1 else "cores")
        + "; a quick measurement, on average: each mwm step triples the work; "
        "a message is 3 or more transactions)"
    )
    return "\n".join(lines)


def describe(mwms: Sequence[int] | None = (9, 14)) -> str:
    """The machine, Python and backend a measurement ran on.

    With ``mwms`` (the default: 9, the default mwm, and 14, the old mainnet
    value) it also says which proof-of-work path runs and, from a quick
    measurement, how long a transaction's proof of work takes at those MWMs.
    """
    native = _backend.native()
    info = getattr(native, "BACKEND_INFO", "") if native is not None else ""
    text = (
        f"machine: {cpu_model()}, {os.cpu_count()} logical cores, {platform.machine()}, "
        f"{platform.system()} {platform.release()}\n"
        f"python {platform.python_version()}, iota-publisher {__version__}, "
        f"backend {_backend.backend_name()}" + (f" ({info})" if info else "")
    )
    if mwms:
        text += "\n" + path_summary(mwms)
    return text


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
