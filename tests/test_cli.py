"""The iota-publish command line."""

from __future__ import annotations

import re

from click.testing import CliRunner

from iota_publisher import __version__
from iota_publisher.cli import main


def test_version_names_the_backend():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert re.fullmatch(
        rf"iota-publish {re.escape(__version__)} \(Curl backend: (native|pure)\)\n", result.output
    )


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


def _write_config(tmp_path, **values):
    import json as _json

    base = {
        "sensorId": "sensor-1",
        "secretKey": "SECRET",
        "debug": False,
        "mwm": 3,
        "security": 1,
        "stateDir": str(tmp_path / "state"),
    }
    path = tmp_path / "config.json"
    path.write_text(_json.dumps({**base, **values}))
    return str(path)


STATION = {
    "sensors": [{"name": "station", "driver": "simulated"}],
    "fields": [{"id": "t", "reading": "temperature"}],
}


def test_check_ok_and_bad(tmp_path):
    runner = CliRunner()
    good = _write_config(tmp_path, debug=True, **STATION)
    result = runner.invoke(main, ["check", "--config", good])
    assert result.exit_code == 0 and "OK" in result.output
    bad = _write_config(tmp_path, debug=True, mwm=99999)
    result = runner.invoke(main, ["check", "--config", bad])
    assert result.exit_code == 2
    assert "'mwm'" in result.output


def test_check_missing_file(tmp_path):
    result = CliRunner().invoke(main, ["check", "--config", str(tmp_path / "nope.json")])
    assert result.exit_code == 2 and "cannot read" in result.output


def test_publish_and_fetch_over_loopback(tmp_path):
    import json as _json

    from iota_publisher.testing import FakeMarketplace, FakeNode, LoopbackServices

    runner = CliRunner()
    with LoopbackServices(FakeNode(mwm=3), FakeMarketplace()) as services:
        config = _write_config(
            tmp_path, provider=services.node_url, endpoint=services.endpoint, sideKey="fixed"
        )
        first = runner.invoke(main, ["publish", "--config", config, '{"t": 1}', "--time", "1000"])
        assert first.exit_code == 0, first.output
        root = _json.loads(first.output)["root"]
        second = runner.invoke(
            main, ["publish", "--config", config, "--time", "2000"], input='{"t": 2}'
        )
        assert second.exit_code == 0, second.output
        side_key = services.marketplace.registered[0]["packet"]["sidekey"]
        out = runner.invoke(
            main, ["fetch", "--provider", services.node_url, "--root", root, "--side-key", side_key]
        )
        assert out.exit_code == 0, out.output
        lines = [_json.loads(line) for line in out.output.splitlines()]
        assert [(p["time"], p["data"]) for p in lines] == [(1000, {"t": 1}), (2000, {"t": 2})]
        csv_out = runner.invoke(
            main,
            [
                "fetch",
                "--provider",
                services.node_url,
                "--device",
                "sensor-1",
                "--user",
                "u",
                "--api",
                services.api_url,
                "--format",
                "csv",
            ],
        )
        assert csv_out.exit_code == 0, csv_out.output
        assert csv_out.output.splitlines()[0] == "time,root,t"
        assert len(csv_out.output.splitlines()) == 3


def test_publish_errors(tmp_path):
    runner = CliRunner()
    config = _write_config(
        tmp_path, provider="http://127.0.0.1:9", endpoint="http://127.0.0.1:9/newData"
    )
    result = runner.invoke(main, ["publish", "--config", config, "not json"])
    assert result.exit_code == 2 and "not JSON" in result.output
    result = runner.invoke(main, ["publish", "--config", config, "[1, 2]"])
    assert result.exit_code == 2 and "mapping" in result.output


def test_publish_debug_prints_the_packet(tmp_path):
    config = _write_config(tmp_path, debug=True)
    result = CliRunner().invoke(main, ["publish", "--config", config, '{"a": 1}', "--time", "5"])
    assert result.exit_code == 0
    assert result.output.strip() == '{"time": 5, "data": {"a": 1}}'


def test_fetch_needs_root_or_device():
    result = CliRunner().invoke(main, ["fetch", "--provider", "http://127.0.0.1:9"])
    assert result.exit_code == 2 and "--root or --device" in result.output


def test_template_zip_is_ready_to_use(tmp_path):
    import json as _json
    import stat
    import subprocess
    import sys
    import zipfile

    from iota_publisher.config import load_config

    result = CliRunner().invoke(
        main,
        [
            "template",
            "--sensor-id",
            "station-7",
            "--secret-key",
            "TOPSECRET",
            "--provider",
            "http://node:14265",
            "--endpoint",
            "https://market/newData",
            "--server-url",
            "http://weather/now.json",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    path = tmp_path / "station-7-template.zip"
    assert result.output.strip() == str(path)
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "unzipped")
        mode = zf.getinfo("station-7-template/config.json").external_attr >> 16
    folder = tmp_path / "unzipped" / "station-7-template"
    assert names == {
        f"station-7-template/{n}"
        for n in (
            "config.json",
            "README.md",
            "publish.py",
            "data.json",
            "requirements.txt",
            "iota-publisher-src.tar.gz",
            "config.example.json",
            "systemd/iota-publish.service",
        )
    }
    assert stat.S_IMODE(mode) == 0o600
    cfg = load_config(folder / "config.json")
    assert (cfg.sensor_id, cfg.debug, cfg.server_url) == (
        "station-7",
        True,
        "http://weather/now.json",
    )
    assert (folder / "requirements.txt").read_text().splitlines()[
        0
    ] == "./iota-publisher-src.tar.gz"
    import tarfile

    with tarfile.open(folder / "iota-publisher-src.tar.gz") as tar:
        members = set(tar.getnames())
    assert {
        "iota-publisher/pyproject.toml",
        "iota-publisher/native/curlkernel.c",
        "iota-publisher/iota_publisher/publisher.py",
        "iota-publisher/drivers/bme280.py",
    } <= members
    # the README's debug-mode command works as written
    run = subprocess.run(
        [sys.executable, "publish.py", "file"],
        cwd=folder,
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    packets = [_json.loads(line) for line in run.stdout.splitlines()]
    assert [p["data"] for p in packets] == _json.loads((folder / "data.json").read_text())
    assert "TOPSECRET" not in run.stdout + run.stderr


def test_template_rejects_bad_sensor_id(tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "template",
            "--sensor-id",
            "1bad",
            "--secret-key",
            "K",
            "--provider",
            "http://n",
            "--endpoint",
            "http://m/newData",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 2 and "sensor id" in result.output


def test_init_writes_a_private_debug_config(tmp_path):
    import stat

    from iota_publisher.config import load_config

    path = tmp_path / "config.json"
    result = CliRunner().invoke(
        main,
        [
            "init",
            "--config",
            str(path),
            "--provider",
            "http://n:14265",
            "--endpoint",
            "http://m/newData",
        ],
        input="dev-1\nKEY\n",
    )
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cfg = load_config(path)
    assert cfg.debug and cfg.sensor_id == "dev-1" and cfg.sensors[0].driver == "simulated"
    again = CliRunner().invoke(main, ["init", "--config", str(path)])
    assert again.exit_code == 2 and "--force" in again.output


def test_read_prints_the_mapped_payload(tmp_path):
    import json as _json

    from iota_publisher.cli import main as cli_main

    path = tmp_path / "config.json"
    CliRunner().invoke(
        cli_main,
        [
            "init",
            "--config",
            str(path),
            "--sensor-id",
            "d",
            "--secret-key",
            "K",
            "--provider",
            "http://n",
            "--endpoint",
            "http://m/newData",
        ],
    )
    result = CliRunner().invoke(cli_main, ["read", "--config", str(path)])
    assert result.exit_code == 0, result.output
    payload = _json.loads(result.stdout.strip().splitlines()[-1])
    assert set(payload) == {"temperature", "humidity", "pressure"}


def test_progress_shows_on_a_terminal_only(monkeypatch):
    import io

    from iota_publisher.cli._common import Progress as _Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    monkeypatch.setattr("sys.stderr", tty)
    p = _Progress()
    p.say("3 packet(s) read")
    p.done()
    assert "3 packet(s) read" in tty.getvalue() and tty.getvalue().endswith("\r\x1b[K")
    pipe = io.StringIO()
    monkeypatch.setattr("sys.stderr", pipe)
    quiet = _Progress()
    quiet.say("x")
    quiet.done()
    assert pipe.getvalue() == ""


def test_verbosity_goes_before_or_after_the_command(tmp_path):
    import logging

    config = _write_config(tmp_path, debug=True, **STATION)
    logger = logging.getLogger("iota_publisher")
    saved = logger.level, logger.handlers[:]
    expected = {
        (): logging.WARNING,
        ("-v",): logging.INFO,
        ("-vv",): logging.DEBUG,
        ("-v", "-v"): logging.DEBUG,
        ("--verbose",): logging.INFO,
        ("-q",): logging.ERROR,
        ("--quiet",): logging.ERROR,
        ("-v", "-q"): logging.WARNING,
    }
    try:
        for args, level in expected.items():
            for argv in (
                [*args, "check", "--config", config],
                ["check", *args, "--config", config],
                ["check", "--config", config, *args],
            ):
                result = CliRunner().invoke(main, argv)
                assert result.exit_code == 0, (argv, result.output)
                assert logger.level == level, argv
        # both places add up
        assert CliRunner().invoke(main, ["-v", "check", "-v", "-c", config]).exit_code == 0
        assert logger.level == logging.DEBUG
        assert CliRunner().invoke(main, ["check", "--help"]).output.count("--verbose") == 1
    finally:
        logger.setLevel(saved[0])
        logger.handlers[:] = saved[1]


def test_every_command_takes_verbosity():
    for name, command in main.commands.items():
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        assert {"-v", "--verbose", "-q", "--quiet"} <= options, name


def test_exit_codes_are_defined_once():
    from iota_publisher import _exitcodes, agent, cli

    assert (cli.EXIT_OK, cli.EXIT_FAILURE, cli.EXIT_CONFIG) == (0, 1, 2)
    assert agent.EXIT_FAILURE is _exitcodes.EXIT_FAILURE is cli.EXIT_FAILURE
    assert cli.CliError("x").exit_code == cli.EXIT_FAILURE


def test_module_entry_points(tmp_path):
    import subprocess
    import sys

    config = _write_config(tmp_path, debug=True, **STATION)
    for module in ("iota_publisher", "iota_publisher.cli"):
        run = subprocess.run(
            [sys.executable, "-m", module, "check", "-q", "--config", config],
            capture_output=True,
            check=False,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        assert "OK" in run.stdout
