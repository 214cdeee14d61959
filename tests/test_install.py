"""The package installs and works without a C compiler (pure-Python fallback)."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHECK = """
import warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    import iota_publisher
    from iota_publisher import _backend
    from iota_publisher.mam import Channel, parse_message
print(iota_publisher.__file__)
print(_backend.backend_name())
print(any("not built" in str(w.message) for w in caught))
msg = Channel("A" * 81, 1, "public").create_message("HELLO")
print(parse_message(msg.payload, msg.root).message)
"""


# what an install or a test run may leave in a working tree; none of it is source
_NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv*",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "*.so",
    "node_modules",
    "state",
    "sandbox-data",
    ".pytest_cache",
)


def test_install_without_a_compiler_falls_back_to_pure_python(tmp_path):
    """Installed from a clean copy of the sources: a ``build/`` folder or a compiled
    ``_native*.so`` left in the working tree by an earlier ``pip install .`` must
    neither reach this install nor be needed by it."""
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)
    target = tmp_path / "site"
    env = {**os.environ, "CC": "/bin/false", "LDSHARED": "/bin/false"}
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(source),
        ],
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    assert not list(target.glob("iota_publisher/_native*"))
    # every package is in the install, and the command line's entry point with it
    for module in ("cli/__init__.py", "cli/_common.py", "cli/_sandbox.py", "drivers/_base.py"):
        assert (target / "iota_publisher" / module).is_file(), module
    assert (target / "bin" / "iota-publish").is_file()
    # -S: no site hooks, so an editable install of the source tree cannot shadow
    # the copy under test; the dependencies come from this environment's site-packages
    paths = [str(target), sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]
    run = subprocess.run(
        [sys.executable, "-S", "-c", CHECK],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)},
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    path, backend, warned, message = run.stdout.split()
    assert path.startswith(str(target))
    assert (backend, warned, message) == ("pure", "True", "HELLO")


@pytest.fixture(scope="module")
def installed_template(tmp_path_factory):
    """The template of device ``dev-1``, unzipped, its requirements installed as on a fresh
    machine: ``(folder, environment that runs its publish.py on that install)``."""
    import zipfile

    from iota_publisher.template import build_template

    tmp_path = tmp_path_factory.mktemp("template")
    path = build_template(
        "dev-1", "KEY", "http://node:14265", "http://market/newData", out_dir=tmp_path
    )
    with zipfile.ZipFile(path) as zf:
        zf.extractall(tmp_path)
    folder = tmp_path / "dev-1-template"
    target = tmp_path / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            "-r",
            "requirements.txt",
        ],
        cwd=folder,
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    paths = [str(target), sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]
    return folder, {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _publish_file(folder, env):
    # -S: no site hooks, so the editable install of the source tree cannot shadow the copy
    # the template installed
    return subprocess.run(
        [sys.executable, "-S", "publish.py", "file"],
        cwd=folder,
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
        env=env,
    )


def test_template_installs_from_its_own_archive(installed_template):
    """Unzipped on a fresh machine, the template's requirements install the SDK it carries."""
    folder, env = installed_template
    run = _publish_file(folder, env)
    assert run.returncode == 0, run.stderr
    assert len(run.stdout.splitlines()) == 3  # one packet per object of data.json


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_template_live_with_the_node_down_keeps_the_readings(installed_template, tmp_path):
    """README step 3 with the node down: one clear line, exit 1, the readings kept; once the
    node is back the next run sends each of them once, with the time it got the first time."""
    from iota_publisher.fetch import fetch_stream
    from iota_publisher.marketplace import MarketplaceClient
    from iota_publisher.node import NodeClient
    from iota_publisher.sandbox import Sandbox

    folder = tmp_path / "dev-1-template"
    shutil.copytree(installed_template[0], folder)
    env = installed_template[1]
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    port = _closed_port()
    config.update(
        debug=False,
        provider=f"http://127.0.0.1:{port}",
        endpoint=f"http://127.0.0.1:{port}/newData",
        mwm=3,
    )
    config_path.write_text(json.dumps(config))
    before = time.time() * 1000
    down = _publish_file(folder, env)
    after = time.time() * 1000
    assert down.returncode == 1 and down.stdout == "", down.stderr
    (line,) = down.stderr.splitlines()
    assert line.startswith("publish.py: not sent now:") and "Traceback" not in down.stderr
    assert f"127.0.0.1:{port}" in line and "wait in state/" in line and '"provider"' in line
    assert "KEY" not in line

    data = json.loads((folder / "data.json").read_text())
    with Sandbox(tmp_path / "sandbox", mwm=3) as sb:
        device_id, secret_key = sb.create_demo_device()
        assert sb.market is not None
        sb.market.purchase(sb.user_id, device_id)
        config.update(
            sensorId=device_id, secretKey=secret_key, provider=sb.node_url, endpoint=sb.endpoint
        )
        config_path.write_text(json.dumps(config))
        back = _publish_file(folder, env)
        assert back.returncode == 0, back.stderr
        assert len(back.stdout.splitlines()) == len(data)
        assert all(line.startswith("published ") for line in back.stdout.splitlines())
        again = _publish_file(folder, env)  # the same data.json: nothing queued twice
        assert again.returncode == 0 and again.stdout == "", again.stderr
        with MarketplaceClient(sb.api_url) as market, NodeClient(sb.node_url) as node:
            fetched = list(fetch_stream(market, node, device_id, sb.user_id, api_key=sb.api_key))
    packets = list(reversed(fetched))
    assert [p.data for p in packets] == data
    times = [p.time for p in packets]
    assert [b - a for a, b in itertools.pairwise(times)] == [60_000, 60_000]  # the interval
    assert before - 1 <= times[-1] <= after + 1  # the last one: the first run's "now"
