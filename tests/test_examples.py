"""The shipped example configs validate, and the example scripts run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from iota_publisher.config import load_config

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "examples").glob("*.json")) + [ROOT / "config.example.json"]


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_example_config_validates(path):
    config = load_config(path)
    assert config.debug is True
    assert config.sensors and config.fields is not None


def test_mam_roundtrip_example_runs():
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "mam_roundtrip.py")],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "decoded:" in run.stdout
