"""The package installs and works without a C compiler (pure-Python fallback)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

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


def test_template_installs_from_its_own_archive(tmp_path):
    """Unzipped on a fresh machine, the template's requirements install the SDK it carries."""
    import zipfile

    from iota_publisher.template import build_template

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
    run = subprocess.run(
        [sys.executable, "-S", "publish.py", "file"],
        cwd=folder,
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)},
    )
    assert run.returncode == 0, run.stderr
    assert len(run.stdout.splitlines()) == 3  # one packet per object of data.json
