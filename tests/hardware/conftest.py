"""Opt-in tests against real devices (run them on the Raspberry Pi).

Every test in this folder is skipped unless ``--hardware`` names its device::

    pytest tests/hardware --hardware=bme280,bh1750,ds18b20

Give this folder (or a file in it) on the command line: pytest only learns
options from conftest files under the paths it starts from, so a bare
``pytest --hardware=...`` from the repository root reports an unknown option.

Mark a test with ``@pytest.mark.hardware("bme280")``; with several names the
test needs all of them. Several helpers may add tests here: the option and the
marker are registered once, whoever registers them first.
"""

from __future__ import annotations

from typing import Any

import pytest

OPTION = "--hardware"


def _option_registered(parser: pytest.Parser, name: str) -> bool:
    # pytest only checks for duplicates within one option group
    groups = getattr(parser, "_groups", None) or [getattr(parser, "_anonymous", None)]
    for group in groups:
        for option in getattr(group, "options", ()):
            if name in option.names():
                return True
    return False


def pytest_addoption(parser: pytest.Parser) -> None:
    if _option_registered(parser, OPTION):
        return
    try:
        parser.addoption(
            OPTION,
            action="store",
            default="",
            metavar="NAMES",
            help="comma-separated devices wired to this machine whose real-hardware tests "
            "should run, e.g. bme280,ds18b20 (tests/hardware)",
        )
    except ValueError:  # registered in the meantime by another conftest or plugin
        pass


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
