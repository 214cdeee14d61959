"""Shared fixtures: reference vectors and the two hashing backends."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from iota_publisher import _backend

VECTORS = Path(__file__).parent / "vectors"

try:
    from iota_publisher import _native as NATIVE  # type: ignore[attr-defined]
except ImportError:  # the optional extension was not built
    NATIVE = None


@cache
def load_vectors(name: str) -> Any:
    """Load a reference-vector fixture (made by tests/vectors/generate.js)."""
    with open(VECTORS / name, encoding="utf-8") as f:
        return json.load(f)


def pytest_addoption(parser: pytest.Parser) -> None:
    # registered here (the root conftest) so `pytest --hardware=...` works from the top
    parser.addoption(
        "--hardware",
        action="store",
        default="",
        metavar="NAMES",
        help="comma-separated devices wired to this machine whose real-hardware tests "
        "(tests/hardware) should run, e.g. bme280,ds18b20",
    )
    parser.addoption(
        "--backend",
        choices=("both", "native", "pure"),
        default="both",
        help="which Curl backends the backend-parametrised tests run on",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        choice = metafunc.config.getoption("--backend")
        names = ["native", "pure"] if choice == "both" else [choice]
        metafunc.parametrize("backend", names, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest):
    """Run the test on one backend ("native" or "pure"), restoring the previous one."""
    if request.param == "native":
        if NATIVE is None:
            pytest.skip("the native kernel is not built")
        module = NATIVE
    else:
        module = None
    previous = _backend.set_native(module)
    try:
        yield request.param
    finally:
        _backend.set_native(previous)


@pytest.fixture(autouse=True)
def _restore_package_logger():
    """The CLI configures the package logger; give every test a clean one."""
    import logging

    logger = logging.getLogger("iota_publisher")
    handlers, level, propagate = logger.handlers[:], logger.level, logger.propagate
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logger.propagate = propagate
