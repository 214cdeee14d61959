"""The command source, running small ``python -c`` programs (drivers/command.py)."""

from __future__ import annotations

import os
import shlex
import sys
import time

import pytest
from iota_publisher.drivers import (
    Reading,
    SensorDataError,
    SensorUnavailableError,
    create_driver,
)
from iota_publisher.drivers.command import CommandSource

from iota_publisher.errors import ConfigError, TransientError

PY = sys.executable
T0 = 1_556_712_000.0  # 2019-05-01T12:00:00Z


def values(readings: dict[str, Reading]) -> dict[str, object]:
    return {name: r.value for name, r in readings.items()}


# -- command ---------------------------------------------------------------------------


def py(code: str) -> list[str]:
    return [PY, "-c", code]


def test_command_prints_json():
    code = (
        "import json, os; print(json.dumps({'temp': 21.5, 'id': 'a7', 'air': {'co2': 612},"
        " 'flag': False, 'at': '2019-05-01T12:00:00Z', 'x': os.environ['X_VALUE'],"
        " 'path': 'PATH' in os.environ}))"
    )
    source = create_driver(
        "command",
        {"command": py(code), "env": {"X_VALUE": "7"}, "time_key": "at", "units": {"temp": "C"}},
    )
    readings = source.read()
    assert values(readings) == {"temp": 21.5, "id": "a7", "air.co2": 612, "x": "7"}
    assert readings["temp"].unit == "C" and readings["temp"].time == T0
    source.close()
    source.close()


def test_command_string_is_split_without_a_shell(tmp_path):
    marker = tmp_path / "pwned"
    hostile = f"$(touch {marker}); touch {marker} | cat > {marker} && echo * `id`"
    code = "import json, sys; print(json.dumps({'arg': sys.argv[1], 'n': len(sys.argv)}))"
    command = f"{shlex.quote(PY)} -c {shlex.quote(code)} {shlex.quote(hostile)}"
    readings = CommandSource(command=command).read()
    assert values(readings) == {"arg": hostile, "n": 2}
    unquoted = f"{shlex.quote(PY)} -c {shlex.quote(code)} ; touch {marker}"
    assert values(CommandSource(command=unquoted).read())["arg"] == ";"
    assert not marker.exists()


def test_command_failure_names_exit_code_and_stderr():
    code = (
        "import sys; print('warming up', file=sys.stderr); "
        "print('no sensor on pin 4', file=sys.stderr); sys.exit(3)"
    )
    with pytest.raises(SensorDataError) as info:
        CommandSource(command=py(code)).read()
    message = str(info.value)
    assert "exited with code 3" in message and message.endswith("no sensor on pin 4")
    assert "warming up" not in message
    with pytest.raises(SensorDataError, match=r"code 1 \(nothing on stderr\)"):
        CommandSource(command=py("raise SystemExit(1)")).read()


@pytest.mark.parametrize(
    "output, match",
    [
        ("not json", "not a JSON object"),
        ("", "it printed: nothing"),
        ("[1, 2]", "expected a JSON object, not an array"),
        ('{"a": 1}\\n{"a": 2}', "not a JSON object"),
        ('{"ok": true}', "no numbers or strings"),
    ],
)
def test_command_bad_output(output, match):
    with pytest.raises(SensorDataError, match=match):
        CommandSource(command=py(f"print('{output}', end='')")).read()


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie no one reaped yet
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_command_timeout_kills_the_program_and_its_children(tmp_path):
    pidfile = tmp_path / "pid"
    code = (
        "import subprocess, sys, time; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); "
        f"open({str(pidfile)!r}, 'w').write(str(p.pid)); print('{{}}', flush=True); "
        "time.sleep(30)"
    )
    source = CommandSource(command=py(code), timeout=0.5)
    started = time.monotonic()
    with pytest.raises(SensorUnavailableError, match="did not finish within 0.5 s") as info:
        source.read()
    assert time.monotonic() - started < 3
    assert isinstance(info.value, TransientError)
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 2
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _gone(child)


@pytest.mark.parametrize(
    "options, field",
    [
        ({}, "command"),
        ({"command": []}, "command"),
        ({"command": "  "}, "command"),
        ({"command": "echo 'unbalanced"}, "command"),
        ({"command": [PY, 3]}, "command"),
        ({"command": "no-such-program-here --json"}, "command"),
        ({"command": [PY], "timeout": -1}, "timeout"),
        ({"command": [PY], "env": {"A": 1}}, "env"),
        ({"command": [PY], "env": "A=1"}, "env"),
        ({"command": [PY], "time_key": "a["}, "time_key"),
        ({"command": [PY], "shell": True}, "options"),
    ],
)
def test_command_bad_options(options, field):
    with pytest.raises(ConfigError) as info:
        create_driver("command", options)
    assert info.value.field == field
