"""The iota-publish command line."""

from __future__ import annotations

import re

from click.testing import CliRunner

from iota_publisher import __version__
from iota_publisher.cli import main


def test_version_names_the_backend():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert re.fullmatch(rf"iota-publish {re.escape(__version__)} \(Curl backend: (native|pure)\)\n", result.output)


def test_help_lists_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "bench" in result.output and "--version" in result.output


def test_bench_reports_backend_and_figures():
    result = CliRunner().invoke(main, ["bench", "--mwm", "3", "--runs", "1"])
    assert result.exit_code == 0, result.output
    assert "backend" in result.output
    assert len(re.findall(r"MAM security [123]: create_message [\d.]+ ms", result.output)) == 3
    assert re.search(r"proof of work, mwm 3, 1 thread: median [\d.]+ s", result.output)


def test_bench_rejects_bad_mwm():
    result = CliRunner().invoke(main, ["bench", "--mwm", "0"])
    assert result.exit_code == 2
    assert "--mwm" in result.output
