"""Describe the machine a benchmark ran on (printed with every result)."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable


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
    from iota_publisher import __version__, _backend

    return (
        f"machine: {cpu_model()}, {os.cpu_count()} logical cores, {platform.machine()}, "
        f"{platform.system()} {platform.release()}\n"
        f"python {platform.python_version()}, iota-publisher {__version__}, "
        f"backend {_backend.backend_name()}"
    )


def median_time(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
