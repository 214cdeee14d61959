"""The per-device zip a marketplace hands to a device owner.

``build_template(sensor_id, secret_key, provider, endpoint)`` writes
``<sensorId>-template.zip``: a ``config.json`` in debug mode, a README (install,
the debug-first workflow, going live), ``publish.py`` with the original
template's two examples (publish the objects of ``data.json``; poll a URL and
publish chosen fields) on top of this SDK, a sample ``data.json`` and a
``requirements.txt``. A marketplace backend can call it directly; the CLI's
``iota-publish template`` does the same.
"""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

from ._version import __version__
from .config import Config
from .device import is_id
from .errors import ConfigError

__all__ = ["build_template"]

PUBLISH_PY = '''"""Publish this device's data on the IOTA Data Marketplace.

    python publish.py file            # example 1: publish each object of data.json
    python publish.py poll [FIELD..]  # example 2: poll serverUrl every 60 s, publish FIELDs

config.json starts in debug mode: payloads are printed, nothing is sent.
Set "debug": false there to go live.
"""

import json
import sys
import time

import requests

from iota_publisher import Publisher, TransientError


def publish_file(pub):
    """Example 1: each object of data.json becomes one packet."""
    with open("data.json", encoding="utf-8") as f:
        entries = json.load(f)
    for entry in entries:
        result = pub.publish(entry)
        if not result.debug:
            print("published", result.packet, "root", result.root)


def poll_server(pub, fields):
    """Example 2: read serverUrl every 60 s and publish the chosen fields."""
    url = pub.config.server_url
    if not url:
        sys.exit("config.json has no serverUrl")
    while True:
        try:
            answer = requests.get(url, timeout=30).json()
            data = {k: answer[k] for k in (fields or answer) if k in answer}
            result = pub.publish(data)
            if not result.debug:
                print("published", result.packet, "root", result.root)
        except (requests.RequestException, ValueError) as exc:
            print("reading", url, "failed:", exc, file=sys.stderr)
        except TransientError as exc:
            print("kept for later (network):", exc, file=sys.stderr)
        time.sleep(60)


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "file"
    with Publisher.from_config("config.json") as pub:
        if mode == "file":
            publish_file(pub)
        elif mode == "poll":
            poll_server(pub, sys.argv[2:])
        else:
            sys.exit(__doc__)


if __name__ == "__main__":
    main()
'''

README = """# {sensor_id}: publisher for the IOTA Data Marketplace

This folder publishes the data of device `{sensor_id}` to the IOTA Data Marketplace. `config.json`
holds the device's id and secret key: keep it private.

## 1. Install (Raspberry Pi OS or any Linux with Python 3.10+)

```sh
python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt
```

## 2. Try it in debug mode (nothing is sent)

```sh
python publish.py file
```

prints one JSON packet per object of `data.json`. Put your own readings in `data.json` (one object
per packet: field ids as keys), or poll a web source with `python publish.py poll temperature
humidity` (reads `serverUrl` from `config.json` every 60 s).

## 3. Go live

Set `"debug": false` in `config.json` and run the same command. Each packet is written to the
Tangle as an encrypted MAM message (proof of work may take a while on small hardware) and
registered with the marketplace, where buyers of your stream can read it. Packets that cannot be
sent because the network is down are kept in `state/` and sent on the next run.

## 4. Run it as a service

`iota-publish run --config config.json` reads sensors on a schedule and publishes; add a
`"sensors"` and a `"fields"` section to `config.json` (see the iota-publisher README), check it
with `iota-publish check --config config.json`, then install the systemd unit that comes with
iota-publisher (`systemd/iota-publish.service`).
"""

SAMPLE_DATA = [
    {"temperature": 21.5, "humidity": 48},
    {"temperature": 21.7, "humidity": 47},
    {"temperature": 21.6, "humidity": 47},
]


SOURCE_ARCHIVE = "iota-publisher-src.tar.gz"
_SOURCE_FILES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md")
_SOURCE_TREES = (("iota_publisher", "*.py"), ("drivers", "*.py"), ("native", "*.c"))


def source_tree() -> Path | None:
    """The project's source folder when running from one (else ``None``)."""
    root = Path(__file__).resolve().parent.parent
    if all((root / name).is_file() for name in _SOURCE_FILES) and (root / "native").is_dir():
        return root
    return None


def source_archive(root: Path) -> bytes:
    """A pip-installable archive of the source tree (the kernel compiles on install)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        paths = [root / name for name in _SOURCE_FILES]
        for folder, pattern in _SOURCE_TREES:
            paths += sorted(
                p for p in (root / folder).rglob(pattern) if "__pycache__" not in p.parts
            )
        for path in paths:
            info = tar.gettarinfo(str(path), arcname=f"iota-publisher/{path.relative_to(root)}")
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 1_546_300_800  # reproducible archives
            with open(path, "rb") as f:
                tar.addfile(info, f)
    return buffer.getvalue()


def build_template(
    sensor_id: str,
    secret_key: str,
    provider: str,
    endpoint: str,
    *,
    server_url: str | None = None,
    out_dir: str | Path = ".",
    wheel: str | Path | None = None,
) -> Path:
    """Write ``<sensor_id>-template.zip`` in ``out_dir`` and return its path.

    The zip carries iota-publisher itself so that ``pip install -r
    requirements.txt`` works on a fresh machine: ``wheel`` (a built wheel, for
    one platform) if given, else a source archive when running from the source
    tree (the C kernel compiles on the device), else a plain requirement on
    the package index.
    """
    if not is_id(sensor_id):
        raise ConfigError(
            "sensor id must start with a letter, then letters, digits, '-' or '_' (at most 40)",
            field="sensorId",
        )
    config = {
        "sensorId": sensor_id,
        "secretKey": secret_key,
        "debug": True,
        "provider": provider,
        "endpoint": endpoint,
    }
    if server_url:
        config["serverUrl"] = server_url
    Config.from_mapping(config)  # the same validation as at run time
    requirement = f"iota-publisher>={__version__.split('.dev')[0]}"
    files: dict[str, str | bytes] = {
        "config.json": json.dumps(config, indent=2) + "\n",
        "README.md": README.format(sensor_id=sensor_id),
        "publish.py": PUBLISH_PY,
        "data.json": json.dumps(SAMPLE_DATA, indent=2) + "\n",
    }
    root = source_tree()
    if wheel is not None:
        wheel_path = Path(wheel)
        files[wheel_path.name] = wheel_path.read_bytes()
        requirement = f"./{wheel_path.name}"
    elif root is not None:
        files[SOURCE_ARCHIVE] = source_archive(root)
        requirement = f"./{SOURCE_ARCHIVE}"
    files["requirements.txt"] = f"{requirement}\nrequests>=2.25\n"
    target = Path(out_dir) / f"{sensor_id}-template.zip"
    folder = f"{sensor_id}-template"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=(2019, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            # config.json holds the secret key: owner-only permissions when unzipped
            mode = 0o600 if name == "config.json" else 0o644
            info.external_attr = (0o100000 | mode) << 16
            zf.writestr(info, content)
    target.chmod(0o600)
    return target
