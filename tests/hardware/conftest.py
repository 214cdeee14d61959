"""Opt-in tests against real devices (run them on the Raspberry Pi).

Every test in this folder is skipped unless ``--hardware`` (registered in
``tests/conftest.py``) names its device::

    pytest tests/hardware --hardware=bme280,bh1750,ds18b20

Mark a test with ``@pytest.mark.hardware("bme280")``; with several names the
test needs all of them.
"""

from __future__ import annotations

from typing import Any

import pytest

OPTION = "--hardware"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "hardware(*names): needs the real devices `names`; skipped unless --hardware names them",
    )


def requested_hardware(config: pytest.Config) -> set[str]:
    """The device names given with ``--hardware`` (lower-case)."""
    value: Any = config.getoption(OPTION, default="") or ""
    if isinstance(value, (list, tuple)):  # another registration may use action="append"
        value = ",".join(value)
    return {name.strip().lower() for name in str(value).split(",") if name.strip()}


def pytest_runtest_setup(item: pytest.Item) -> None:
    wanted = requested_hardware(item.config)
    for mark in item.iter_markers(name="hardware"):
        missing = [name for name in mark.args if name.lower() not in wanted]
        if missing:
            pytest.skip(f"real hardware test: run with {OPTION}={','.join(missing)}")
