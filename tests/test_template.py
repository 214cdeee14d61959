"""The per-device template zip: what it ships, what it refuses, and its publish.py."""

from __future__ import annotations

import fnmatch
import itertools
import json
import re
import shlex
import stat
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from iota_publisher.cli import main
from iota_publisher.config import Config
from iota_publisher.errors import ExistingFileError, InvalidInputError
from iota_publisher.template import SOURCE_ARCHIVE, build_template

ROOT = Path(__file__).resolve().parent.parent
SECRET = "TOPSECRET-KEY-42"
TEMPLATE_ARGS = [
    "template",
    "--sensor-id",
    "station-7",
    "--provider",
    "http://node:14265",
    "--endpoint",
    "https://market/newData",
]
# a backticked word that names a file or folder: a path with a dot or a slash, no spaces
_FILE_NAME = re.compile(r"`([A-Za-z0-9_][A-Za-z0-9_./-]*[./][A-Za-z0-9_./-]*)`")


def _unzip(path: Path, into: Path) -> tuple[set[str], Path]:
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        zf.extractall(into)
    (folder,) = {name.split("/", 1)[0] for name in names}
    return {name.split("/", 1)[1] for name in names}, into / folder


def _names_in(text: str) -> set[str]:
    return {
        name
        for name in _FILE_NAME.findall(text)
        if "://" not in name and not name.startswith(("-", "."))
    }


def _manifest_files(root: Path) -> set[str]:
    """The files MANIFEST.in adds (its include and recursive-include lines)."""
    found: set[str] = set()
    for line in (root / "MANIFEST.in").read_text().splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[0] == "include":
            for pattern in words[1:]:
                found |= {str(p.relative_to(root)) for p in root.glob(pattern) if p.is_file()}
        elif words[0] == "recursive-include":
            folder, patterns = root / words[1], words[2:]
            for path in folder.rglob("*"):
                if (
                    path.is_file()
                    and "__pycache__" not in path.parts
                    and any(fnmatch.fnmatch(path.name, p) for p in patterns)
                ):
                    found.add(str(path.relative_to(root)))
    return found


# -- what the zip holds ------------------------------------------------------------------


def test_every_file_the_readme_names_is_in_the_zip(tmp_path):
    path = build_template("dev-1", "KEY", "http://n:14265", "http://m/newData", out_dir=tmp_path)
    names, folder = _unzip(path, tmp_path / "out")
    readme = (folder / "README.md").read_text()
    named = _names_in(readme)
    assert {"config.json", "publish.py", "data.json", "requirements.txt"} <= named
    assert {"config.example.json", "systemd/iota-publish.service", SOURCE_ARCHIVE} <= named
    assert named <= names, named - names
    # the unit names only files of the zip, and the folder the README installs it from
    unit = (folder / "systemd" / "iota-publish.service").read_text()
    assert _names_in(unit) <= names | {"README.md"}
    assert "ExecStart=/opt/dev-1-template/.venv/bin/iota-publish run --config" in unit
    assert "ReadWritePaths=/opt/dev-1-template" in unit and "TimeoutStopSec=" in unit


def test_the_source_archive_holds_what_the_sdist_does(tmp_path):
    path = build_template("dev-1", "KEY", "http://n:14265", "http://m/newData", out_dir=tmp_path)
    _names, folder = _unzip(path, tmp_path / "out")
    with tarfile.open(folder / SOURCE_ARCHIVE) as tar:
        members = {name.split("/", 1)[1] for name in tar.getnames()}
    wanted = _manifest_files(ROOT)
    assert {"config.example.json", "systemd/iota-publish.service", "README.md"} <= wanted | {
        "README.md"
    }
    assert wanted <= members, wanted - members
    assert "README.md" in members and "pyproject.toml" in members


def test_a_shipped_wheel_is_named_in_the_readme(tmp_path):
    wheel = tmp_path / "iota_publisher-0.0.0-py3-none-any.whl"
    wheel.write_bytes(b"not really a wheel")
    out = tmp_path / "zip"
    out.mkdir()
    path = build_template("dev-1", "KEY", "http://n", "http://m/newData", out_dir=out, wheel=wheel)
    names, folder = _unzip(path, tmp_path / "out")
    named = _names_in((folder / "README.md").read_text())
    assert wheel.name in named and SOURCE_ARCHIVE not in names
    assert named <= names, named - names


def test_the_example_config_validates_and_holds_no_secret(tmp_path):
    path = build_template(
        "dev-1",
        SECRET,
        "http://n:14265",
        "http://m/newData",
        server_url="http://w/now.json",
        out_dir=tmp_path,
    )
    _names, folder = _unzip(path, tmp_path / "out")
    raw = (folder / "config.example.json").read_text()
    assert SECRET not in raw
    example = Config.from_mapping(json.loads(raw), base_dir=folder)
    assert example.sensor_id == "dev-1" and example.debug and example.sensors
    assert {f.id for f in example.fields.rules} <= {"temperature", "humidity"}


# -- never replacing a file ----------------------------------------------------------------


def test_an_existing_zip_is_left_alone_unless_forced(tmp_path):
    target = tmp_path / "dev-1-template.zip"
    target.write_bytes(b"the owner's zip")
    with pytest.raises(ExistingFileError) as caught:
        build_template("dev-1", "KEY", "http://n", "http://m/newData", out_dir=tmp_path)
    assert caught.value.path == target and isinstance(caught.value, InvalidInputError)
    assert str(target) in str(caught.value) and "KEY" not in str(caught.value)
    assert target.read_bytes() == b"the owner's zip"
    path = build_template(
        "dev-1", "KEY", "http://n", "http://m/newData", out_dir=tmp_path, force=True
    )
    assert path == target and zipfile.is_zipfile(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary file left


def test_cli_template_refuses_an_existing_zip_and_force_replaces_it(tmp_path):
    target = tmp_path / "station-7-template.zip"
    target.write_bytes(b"mine")
    args = [*TEMPLATE_ARGS, "--secret-key", SECRET, "--out", str(tmp_path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert str(target) in result.output and "--force" in result.output
    assert target.read_bytes() == b"mine"
    result = CliRunner().invoke(main, [*args, "--force"])
    assert result.exit_code == 0, result.output
    assert zipfile.is_zipfile(target)


def test_cli_init_refuses_an_existing_file_and_force_replaces_it(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"mine": true}\n')
    args = ["init", "--config", str(path), "--sensor-id", "d", "--provider", "http://n"]
    args += ["--endpoint", "http://m/newData", "--secret-key", "K"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and str(path) in result.output and "--force" in result.output
    assert path.read_text() == '{"mine": true}\n'
    result = CliRunner().invoke(main, [*args, "--force"])
    assert result.exit_code == 0, result.output
    assert json.loads(path.read_text())["sensorId"] == "d"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


def test_cli_init_refuses_a_dangling_symlink(tmp_path):
    path = tmp_path / "config.json"
    path.symlink_to(tmp_path / "elsewhere.json")
    result = CliRunner().invoke(
        main,
        ["init", "--config", str(path), "--sensor-id", "d", "--secret-key", "K"]
        + ["--provider", "http://n", "--endpoint", "http://m/newData"],
    )
    assert result.exit_code == 2 and "--force" in result.output
    assert not (tmp_path / "elsewhere.json").exists()


# -- the secret key: argv, stdin, the environment, a prompt --------------------------------


def _key_in_zip(tmp_path: Path) -> str:
    with zipfile.ZipFile(tmp_path / "station-7-template.zip") as zf:
        return json.loads(zf.read("station-7-template/config.json"))["secretKey"]


@pytest.mark.parametrize(
    ("extra", "env", "stdin"),
    [
        (["--secret-key", "-"], {}, f"{SECRET}\n"),
        ([], {"IOTA_PUBLISH_SECRET_KEY": SECRET}, ""),
        ([], {}, f"{SECRET}\n"),  # stdin is no terminal: a line of it
        (["--secret-key", SECRET], {"IOTA_PUBLISH_SECRET_KEY": "NOT-THIS-ONE"}, ""),
    ],
    ids=["stdin", "environment", "piped", "argv-first"],
)
def test_template_secret_key_sources(tmp_path, monkeypatch, extra, env, stdin):
    monkeypatch.delenv("IOTA_PUBLISH_SECRET_KEY", raising=False)
    result = CliRunner().invoke(
        main, [*TEMPLATE_ARGS, "--out", str(tmp_path), *extra], input=stdin, env=env
    )
    assert result.exit_code == 0, result.output
    assert _key_in_zip(tmp_path) == SECRET
    assert SECRET not in result.output  # never echoed, not even the prompt's answer


def test_template_asks_for_the_secret_key_on_a_terminal_without_echo(tmp_path, monkeypatch):
    from iota_publisher.cli import _template

    monkeypatch.delenv("IOTA_PUBLISH_SECRET_KEY", raising=False)
    monkeypatch.setattr(_template, "_on_terminal", lambda: True)
    result = CliRunner().invoke(main, [*TEMPLATE_ARGS, "--out", str(tmp_path)], input=f"{SECRET}\n")
    assert result.exit_code == 0, result.output
    assert "Secret key:" in result.output and SECRET not in result.output
    assert _key_in_zip(tmp_path) == SECRET


@pytest.mark.parametrize("extra", [[], ["--secret-key", "-"]])
def test_template_without_any_secret_key_is_an_error(tmp_path, monkeypatch, extra):
    monkeypatch.delenv("IOTA_PUBLISH_SECRET_KEY", raising=False)
    result = CliRunner().invoke(main, [*TEMPLATE_ARGS, "--out", str(tmp_path), *extra], input="")
    assert result.exit_code == 2 and "stdin" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "station-7-template.zip").exists()


def test_template_secret_key_from_empty_stdin_is_an_error(tmp_path, monkeypatch):
    monkeypatch.delenv("IOTA_PUBLISH_SECRET_KEY", raising=False)
    result = CliRunner().invoke(
        main, [*TEMPLATE_ARGS, "--out", str(tmp_path), "--secret-key", "-"], input=""
    )
    assert result.exit_code == 2 and "stdin" in result.output
    assert not (tmp_path / "station-7-template.zip").exists()


def test_init_reads_the_secret_key_from_the_environment(tmp_path):
    path = tmp_path / "config.json"
    result = CliRunner().invoke(
        main,
        ["init", "--config", str(path), "--sensor-id", "d"]
        + ["--provider", "http://n", "--endpoint", "http://m/newData"],
        env={"IOTA_PUBLISH_SECRET_KEY": SECRET},
    )
    assert result.exit_code == 0, result.output
    assert json.loads(path.read_text())["secretKey"] == SECRET
    assert SECRET not in result.output


# -- publish.py: one time per reading --------------------------------------------------------


def _template_folder(tmp_path: Path, **config: object) -> Path:
    path = build_template("dev-1", "KEY", "http://n:14265", "http://m/newData", out_dir=tmp_path)
    _names, folder = _unzip(path, tmp_path / "out")
    if config:
        cfg = json.loads((folder / "config.json").read_text())
        cfg.update(config)
        (folder / "config.json").write_text(json.dumps(cfg))
    return folder


def _publish_file(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "publish.py", "file"],
        cwd=folder,
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )


def test_each_reading_gets_its_own_time_spaced_by_the_interval(tmp_path):
    folder = _template_folder(tmp_path, interval=10)
    before = time.time() * 1000
    run = _publish_file(folder)
    after = time.time() * 1000
    assert run.returncode == 0, run.stderr
    packets = [json.loads(line) for line in run.stdout.splitlines()]
    assert [p["data"] for p in packets] == json.loads((folder / "data.json").read_text())
    times = [p["time"] for p in packets]
    assert [b - a for a, b in itertools.pairwise(times)] == [10_000, 10_000]
    assert before - 1 <= times[-1] <= after + 1  # the last one is now


def test_a_reading_with_its_own_time_keeps_it(tmp_path):
    folder = _template_folder(tmp_path)
    data = [
        {"time": "2024-05-01T12:00:02Z", "temperature": 3},
        {"time": 1_714_564_800, "temperature": 1},  # seconds
        {"time": 1_714_564_801_000, "data": {"temperature": 2}},  # a packet as printed
    ]
    (folder / "data.json").write_text(json.dumps(data))
    run = _publish_file(folder)
    assert run.returncode == 0, run.stderr
    packets = [json.loads(line) for line in run.stdout.splitlines()]
    assert packets == [
        {"time": 1_714_564_800_000, "data": {"temperature": 1}},
        {"time": 1_714_564_801_000, "data": {"temperature": 2}},
        {"time": 1_714_564_802_000, "data": {"temperature": 3}},
    ]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{not json", "not valid JSON"),
        ('{"a": 1}', "list of objects"),
        ('[{"time": "yesterday", "a": 1}]', "entry 1: time"),
        ('[{"a": 1}, {"time": NaN, "a": 2}]', "entry 2: time"),
        ('[{"a": 1}, {"time": 1e300, "a": 2}]', "entry 2: time"),
        ('[{"a": 1}, {"a": Infinity}]', "entry 2:"),
    ],
)
def test_a_bad_data_json_is_one_line(tmp_path, content, words):
    folder = _template_folder(tmp_path)
    (folder / "data.json").write_text(content)
    run = _publish_file(folder)
    assert run.returncode == 2 and run.stdout == ""
    assert len(run.stderr.splitlines()) == 1 and words in run.stderr, run.stderr


def test_a_bad_config_is_one_line(tmp_path):
    folder = _template_folder(tmp_path, mwm=99_999)
    run = _publish_file(folder)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.startswith("publish.py: config.json:") and "mwm" in run.stderr
    assert len(run.stderr.splitlines()) == 1, run.stderr
    assert "KEY" not in run.stderr
