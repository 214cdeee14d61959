"""The sandbox's config file: written once, kept up to date, the user's edits and files kept."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from iota_publisher.cli import main
from iota_publisher.errors import ConfigError, ExistingFileError
from iota_publisher.sandbox import DEMO_DEVICE, Sandbox

MWM = 3
REAL_CONFIG = {
    "sensorId": "my-real-station",
    "secretKey": "THE-REAL-SECRET-KEY",
    "debug": False,
    "provider": "https://node.example:14265",
    "endpoint": "https://market.example/newData",
}


def _edit(path: Path, **changes: object) -> dict[str, object]:
    config = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    path.write_text(json.dumps(config, indent=4))
    return config


def test_a_fresh_config_is_private_whole_and_recorded(tmp_path):
    data = tmp_path / "data"
    with Sandbox(data, mwm=MWM) as sb:
        path = sb.write_config(tmp_path / "cfg.json")
        config = json.loads(path.read_text())
        assert config["sensorId"] == DEMO_DEVICE["sensorId"] and config["mwm"] == MWM
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.json", "data"]  # no temp file
    record = json.loads((data / "configs.json").read_text())
    assert list(record) == [os.path.abspath(path)]
    assert stat.S_IMODE((data / "configs.json").stat().st_mode) == 0o600


def test_a_restart_keeps_the_users_edits_and_updates_what_the_sandbox_owns(tmp_path):
    data, path = tmp_path / "data", tmp_path / "cfg.json"
    with Sandbox(data, mwm=MWM) as sb:
        sb.write_config(path)
    fields = [{"id": "temperature", "sensor": "station", "reading": "temperature", "round": 2}]
    _edit(path, interval=30, debug=True, fields=fields, provider="http://127.0.0.1:1")
    with Sandbox(data, mwm=MWM) as sb:  # ports 0: new ones
        sb.write_config(path)
        config = json.loads(path.read_text())
        assert config["provider"] == sb.node_url and config["endpoint"] == sb.endpoint
        device_id, secret_key = sb.create_demo_device()
    assert (config["sensorId"], config["secretKey"]) == (device_id, secret_key)
    assert config["interval"] == 30 and config["debug"] is True and config["fields"] == fields
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # the result is a config every command takes
    result = CliRunner().invoke(main, ["check", "--config", str(path)])
    assert result.exit_code == 0, result.output


def test_state_dir_is_added_when_absent_and_kept_when_set(tmp_path):
    data, path = tmp_path / "data", tmp_path / "cfg.json"
    with Sandbox(data, mwm=MWM) as sb:
        sb.write_config(path)
        _edit(path, stateDir=None)
        sb.write_config(path)
        assert json.loads(path.read_text())["stateDir"] == str(sb.state_dir.resolve())
        _edit(path, stateDir="my-state")
        sb.write_config(path)
        assert json.loads(path.read_text())["stateDir"] == "my-state"


def test_mwm_follows_the_node_only_when_below_it(tmp_path):
    data, path = tmp_path / "data", tmp_path / "cfg.json"
    with Sandbox(data, mwm=MWM) as sb:
        sb.write_config(path)
        _edit(path, mwm=MWM + 2)
        sb.write_config(path)
        assert json.loads(path.read_text())["mwm"] == MWM + 2
        _edit(path, mwm=1)
        sb.write_config(path)
        assert json.loads(path.read_text())["mwm"] == MWM


def test_a_file_the_sandbox_did_not_write_is_left_alone_unless_forced(tmp_path):
    path = tmp_path / "mine.json"
    original = json.dumps(REAL_CONFIG, indent=2)
    path.write_text(original)
    with Sandbox(tmp_path / "data", mwm=MWM) as sb:
        with pytest.raises(ExistingFileError) as caught:
            sb.write_config(path)
        assert caught.value.path == path and str(path) in str(caught.value)
        assert "THE-REAL-SECRET-KEY" not in str(caught.value)
        assert path.read_text() == original
        sb.write_config(path, force=True)
        assert json.loads(path.read_text())["sensorId"] == DEMO_DEVICE["sensorId"]
        _edit(path, interval=12)  # from now on it is the sandbox's: edits are kept
        sb.write_config(path)
        assert json.loads(path.read_text())["interval"] == 12


def test_a_config_put_in_place_of_the_sandboxs_is_left_alone(tmp_path):
    path = tmp_path / "cfg.json"
    with Sandbox(tmp_path / "data", mwm=MWM) as sb:
        sb.write_config(path)
        path.write_text(json.dumps(REAL_CONFIG))  # another device's config, same name
        with pytest.raises(ExistingFileError, match="not written by this sandbox"):
            sb.write_config(path)
        assert json.loads(path.read_text()) == REAL_CONFIG
        path.write_text("{broken")
        with pytest.raises(ExistingFileError, match="no JSON object"):
            sb.write_config(path)
        assert path.read_text() == "{broken"


def test_the_config_survives_a_reset_of_the_data_directory(tmp_path):
    data, path = tmp_path / "data", tmp_path / "cfg.json"
    with Sandbox(data, mwm=MWM) as sb:
        sb.write_config(path)
        old_key = sb.create_demo_device()[1]
    _edit(path, interval=42)
    shutil.rmtree(data)  # the documented reset: new random keys
    with Sandbox(data, mwm=MWM) as sb:
        sb.write_config(path)
        new_key = sb.create_demo_device()[1]
    config = json.loads(path.read_text())
    assert new_key != old_key and config["secretKey"] == new_key and config["interval"] == 42


def test_an_edit_that_does_not_validate_is_reported_and_the_file_kept(tmp_path):
    path = tmp_path / "cfg.json"
    with Sandbox(tmp_path / "data", mwm=MWM) as sb:
        sb.write_config(path)
        _edit(path, interval=0)
        before = path.read_text()
        with pytest.raises(ConfigError, match="interval") as caught:
            sb.write_config(path)
        assert str(path) in str(caught.value)
        assert path.read_text() == before


# -- the command -------------------------------------------------------------------------


def test_cli_sandbox_refuses_to_overwrite_a_real_config(tmp_path):
    path = tmp_path / "mine.json"
    original = json.dumps(REAL_CONFIG, indent=2)
    path.write_text(original)
    data = tmp_path / "data"
    result = CliRunner().invoke(
        main, ["sandbox", "--port", "0", "--data", str(data), "--config", str(path)]
    )
    assert result.exit_code == 2, result.output
    assert str(path) in result.output and "--force" in result.output
    assert "THE-REAL-SECRET-KEY" not in result.output
    assert path.read_text() == original
    with Sandbox(data):  # the refused sandbox stopped and let go of its data directory
        pass


def _start(tmp_path: Path, *extra: str) -> str:
    """Run ``iota-publish sandbox`` until it serves, stop it, return what it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "iota_publisher", "sandbox", "--port", "0", "--mwm", str(MWM)]
        + ["--data", str(tmp_path / "data"), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    killer = threading.Timer(30, proc.kill)
    killer.start()
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        killer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    return "".join(lines) + out


def test_cli_sandbox_keeps_edits_across_starts_and_force_replaces(tmp_path):
    path = tmp_path / "sandbox-config.json"
    first = _start(tmp_path)
    assert f"wrote {path.name}" in first
    _edit(path, interval=17)
    second = _start(tmp_path)
    assert f"updated {path.name}" in second and "settings kept" in second
    config = json.loads(path.read_text())
    assert config["interval"] == 17 and config["provider"] in second
    forced = _start(tmp_path, "--force")
    assert f"wrote {path.name}" in forced
    assert json.loads(path.read_text())["interval"] == 5  # a fresh one


def test_cli_sandbox_serves_when_its_config_no_longer_validates(tmp_path):
    path = tmp_path / "sandbox-config.json"
    _start(tmp_path)
    _edit(path, interval=0)
    before = path.read_text()
    out = _start(tmp_path)
    assert f"did NOT update {path.name}" in out and "interval" in out and "--force" in out
    assert path.read_text() == before
