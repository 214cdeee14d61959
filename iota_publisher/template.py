"""The per-device zip a marketplace hands to a device owner.

``build_template(sensor_id, secret_key, provider, endpoint)`` writes
``<sensorId>-template.zip``: a ``config.json`` in debug mode, a README (install,
the debug-first workflow, going live, running as a service), ``publish.py``
with the original template's two examples (publish the objects of
``data.json``; poll a URL and publish chosen fields) on top of this SDK, a
sample ``data.json``, a ``requirements.txt``, a ``config.example.json`` for
``iota-publish run`` and a systemd unit for it. A marketplace backend can call
it directly; the CLI's ``iota-publish template`` does the same.

An existing zip is never replaced unless ``force=True``
(:class:`~iota_publisher.errors.ExistingFileError` says which).
"""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

from ._files import write_private
from ._version import __version__
from .config import Config
from .device import is_id
from .errors import ConfigError, ExistingFileError

__all__ = ["ExistingFileError", "build_template"]

PUBLISH_PY = '''"""Publish this device's data on the IOTA Data Marketplace.

    python publish.py file            # example 1: publish each object of data.json
    python publish.py poll [FIELD..]  # example 2: poll serverUrl every 60 s, publish FIELDs
    python publish.py -v file         # -v: the SDK's log lines too (retries, steps)

config.json starts in debug mode: payloads are printed, nothing is sent.
Set "debug": false there to go live. When the node or the marketplace cannot
be reached, the readings wait in the state folder and go out first on the
next run; publish.py says so in one line and exits with status 1.
"""

import datetime
import hashlib
import json
import logging
import math
import sys
import time
from pathlib import Path

import requests

from iota_publisher import ConfigError, Publisher, PublisherError, TransientError
from iota_publisher.errors import MarketplaceError, NodeError

# in the state folder: the digest of the data.json last queued, so that a run after an
# outage sends what waits instead of queueing the same readings again
QUEUED = "data.json.queued"
SECONDS_BELOW = 10**11  # a "time" below this is in seconds (10**11 ms is 1973)


class Stop(Exception):
    """One line for the user, and the exit status."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


def time_ms(value, where):
    """A reading's own "time": ms (or s) since 1970, or ISO 8601 text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        if abs(value) < SECONDS_BELOW:
            value *= 1000
        if abs(value) < 10**15:  # before the year 33000
            return round(value)
    elif isinstance(value, str):
        text = value.strip()
        text = text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
        try:
            return round(datetime.datetime.fromisoformat(text).timestamp() * 1000)
        except ValueError:
            pass
    raise Stop(f"{where}: time must be ms since 1970 or ISO 8601 text, not {value!r}", 2)


def read_data(path, interval):
    """data.json as (digest, [(time in ms, data), ...]), oldest first.

    An object's own "time" is its reading's time; the others are spaced one
    interval apart, the last one now.
    """
    try:
        raw = Path(path).read_bytes()
        entries = json.loads(raw)
    except OSError as exc:
        raise Stop(f"cannot read {path}: {exc.strerror or exc}", 2) from None
    except ValueError as exc:
        raise Stop(f"{path} is not valid JSON: {exc}", 2) from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise Stop(f"{path} must be a list of objects, one per reading", 2)
    now = time.time() * 1000
    readings = []
    for index, entry in enumerate(entries):
        data = dict(entry)
        stamp = data.pop("time", None)
        if set(data) == {"data"} and isinstance(data["data"], dict):
            data = data["data"]  # {"time": ..., "data": {...}}: a packet as publish.py prints it
        where = f"{path} entry {index + 1}"
        if stamp is None:
            ms = round(now - (len(entries) - 1 - index) * interval * 1000)
        else:
            ms = time_ms(stamp, where)
        try:  # every entry is checked before any is queued: a run queues all or nothing
            json.dumps(data, allow_nan=False)
        except ValueError as exc:
            raise Stop(f"{where}: {exc}", 2) from None
        readings.append((ms, data))
    readings.sort(key=lambda reading: reading[0])  # stable: equal times keep their order
    return hashlib.sha256(raw).hexdigest(), readings


def shown(path):
    path = Path(path)
    try:
        return f"{path.resolve().relative_to(Path.cwd().resolve())}/"
    except ValueError:
        return f"{path}/"


def check_hint(exc):
    if isinstance(exc, NodeError):
        return 'check that the node ("provider" in config.json) is up and reachable'
    if isinstance(exc, MarketplaceError):
        return 'check that the marketplace ("endpoint" in config.json) is up and reachable'
    return "check the network"


def report(result):
    print("published", json.dumps(result.packet), "root", result.root, flush=True)


def send_waiting(pub):
    """Drain the outbox, one line per reading published."""
    try:
        while True:
            done = pub.drain(limit=1)
            if not done:
                return
            report(done[0])
    except TransientError as exc:
        raise Stop(
            f"not sent now: {exc}. The readings wait in {shown(pub.config.state_dir)} "
            f"and go out on the next run; {check_hint(exc)}."
        ) from None
    except PublisherError as exc:
        raise Stop(
            f"refused: {exc}. The reading waits in {shown(pub.config.state_dir)}; "
            'check "sensorId" and "secretKey" in config.json.'
        ) from None


def publish_file(pub):
    """Example 1: each object of data.json becomes one packet, with its own time."""
    digest, readings = read_data("data.json", pub.config.interval)
    if pub.config.debug:
        for ms, data in readings:
            pub.publish(data, time=ms)
        return
    marker = Path(pub.config.state_dir) / QUEUED
    try:
        queued = marker.read_text(encoding="ascii").strip() == digest
    except (OSError, ValueError):
        queued = False
    if queued:
        print("data.json was queued by an earlier run: sending what still waits", file=sys.stderr)
    else:
        for ms, data in readings:
            pub.enqueue(data, time=ms)
        try:
            marker.write_text(digest + "\\n", encoding="ascii")
        except OSError as exc:
            raise Stop(f"cannot write {marker}: {exc.strerror or exc}") from None
    send_waiting(pub)


def poll_server(pub, fields):
    """Example 2: read serverUrl every 60 s and publish the chosen fields."""
    url = pub.config.server_url
    if not url:
        raise Stop("config.json has no serverUrl", 2)
    while True:
        try:
            answer = requests.get(url, timeout=30).json()
            data = {k: answer[k] for k in (fields or answer) if k in answer}
            result = pub.publish(data)
            if not result.debug:
                report(result)
        except (requests.RequestException, ValueError) as exc:
            print("reading", url, "failed:", exc, file=sys.stderr)
        except TransientError as exc:
            print(
                f"kept for later: {exc}; {check_hint(exc)}",
                file=sys.stderr,
            )
        time.sleep(60)


def main(argv):
    verbose = "-v" in argv
    args = [a for a in argv if a != "-v"]
    logging.basicConfig(
        level=logging.INFO if verbose else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
    )
    mode = args[0] if args else "file"
    if mode not in ("file", "poll"):
        raise Stop(__doc__, 2)
    try:
        pub = Publisher.from_config("config.json")
    except ConfigError as exc:
        raise Stop(f"config.json: {exc}", 2) from None
    except OSError as exc:
        raise Stop(f"cannot read config.json: {exc.strerror or exc}", 2) from None
    with pub:
        if mode == "file":
            publish_file(pub)
        else:
            poll_server(pub, args[1:])


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except Stop as stop:
        print(f"publish.py: {stop}", file=sys.stderr)
        sys.exit(stop.status)
    except PublisherError as exc:
        print(f"publish.py: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("publish.py: stopped", file=sys.stderr)
        sys.exit(130)
'''

README = """# {sensor_id}: publisher for the IOTA Data Marketplace

This folder publishes the data of device `{sensor_id}` to the IOTA Data Marketplace:

- `config.json`: the device's id and secret key, the IOTA node (`provider`) and the marketplace
  (`endpoint`). Keep it private (`chmod 600 config.json` if your unzip tool did not).
- `publish.py`: two examples, publishing the readings of `data.json` or polling a web source.
- `data.json`: sample readings.
- `requirements.txt`: what `pip` installs{shipped}.
- `config.example.json`: a config for `iota-publish run`, which reads sensors on a schedule.
- `systemd/iota-publish.service`: runs `iota-publish run` as a service.

## 1. Install (Raspberry Pi OS or any Linux with Python 3.10+)

```sh
python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt
```

## 2. Try it in debug mode (nothing is sent)

```sh
python publish.py file
```

prints one JSON packet per object of `data.json`, oldest first. Put your own readings in
`data.json`: a list of objects, one per reading, with field ids as keys
(`{{"temperature": 21.5, "humidity": 48}}`). Each reading gets its own time:

- an object's own `"time"`, if it has one: milliseconds since 1970, as in the packets (a number
  below 100000000000 is taken as seconds), or ISO 8601 text such as `"2024-05-01T12:00:00Z"`
  (local time when it names no zone). It is the reading's time, not a field. The packets
  `publish.py` prints (`{{"time": ..., "data": {{...}}}}`) can be put back as they are.
- otherwise the last object is now and each one before it one `interval` earlier (`interval` in
  `config.json`, in seconds; 60 when it is not set).

Or poll a web source with `python publish.py poll temperature humidity` (reads `serverUrl` from
`config.json` every 60 s).

## 3. Go live

Set `"debug": false` in `config.json` and run the same command. Each packet is written to the
Tangle as an encrypted MAM message (proof of work may take a while on small hardware) and
registered with the marketplace, where buyers of your stream can read it; `publish.py` prints one
line per published reading.

When the node or the marketplace cannot be reached, `publish.py` says so in one line (what failed,
what to check) and exits with status 1: the readings wait in the `state` folder and go out, first,
on the next run. A run queues `data.json` once: running again with the same `data.json` only sends
what still waits; put new readings in `data.json` to publish them. `python publish.py -v file`
shows the SDK's log lines too.

## 4. Run it as a service

`iota-publish run --config config.json` reads sensors on a schedule and publishes them. Copy the
`"sensors"` and `"fields"` sections of `config.example.json` into `config.json` (the example reads
a simulated weather station; the iota-publisher README lists the real sensor drivers), check the
result with `iota-publish check --config config.json`, try it with
`iota-publish run --config config.json --once`, then install the unit
`systemd/iota-publish.service` as its first lines say. It keeps its outbox and channel in the same
`state` folder as `publish.py`, so one device keeps one channel.
"""

SAMPLE_DATA = [
    {"temperature": 21.5, "humidity": 48},
    {"temperature": 21.7, "humidity": 47},
    {"temperature": 21.6, "humidity": 47},
]

SERVICE = """# systemd unit for device {sensor_id}: `iota-publish run` on this folder's config.json
# (with "sensors" and "fields": README.md, step 4).
#
# Install, as root, with this folder at /opt/{folder} and its .venv made as README.md says
# (elsewhere: change the paths below):
#   useradd --system --no-create-home --groups i2c,dialout iota-publisher
#   chown -R iota-publisher: /opt/{folder}
#   cp /opt/{folder}/systemd/iota-publish.service /etc/systemd/system/
#   systemctl daemon-reload && systemctl enable --now iota-publish
#   journalctl -u iota-publish -f
[Unit]
Description=iota-publisher for device {sensor_id}
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
# the agent pings between steps; a publish with retries can take minutes
WatchdogSec=600
TimeoutStopSec=10
User=iota-publisher
# sensor access: I2C, serial ports, Bluetooth (drop the groups your system does not have)
SupplementaryGroups=i2c dialout bluetooth
WorkingDirectory=/opt/{folder}
ExecStart=/opt/{folder}/.venv/bin/iota-publish run --config /opt/{folder}/config.json
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=10
UMask=0077
NoNewPrivileges=true
ProtectSystem=strict
# the state folder (outbox, channel) is in this folder, shared with publish.py
ReadWritePaths=/opt/{folder}
ProtectHome=true
PrivateTmp=true

[Install]
WantedBy=multi-user.target
"""

SOURCE_ARCHIVE = "iota-publisher-src.tar.gz"
_SOURCE_FILES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md")
# what MANIFEST.in adds to a source distribution, so that the project README's files are there
_SOURCE_EXTRAS = ("config.example.json",)
_SOURCE_TREES = (
    ("iota_publisher", "*.py"),
    ("drivers", "*.py"),
    ("native", "*.c"),
    ("systemd", "*"),
    ("examples", "*.py"),
    ("examples", "*.json"),
    ("examples", "*.md"),
)


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
        paths += [root / name for name in _SOURCE_EXTRAS if (root / name).is_file()]
        seen = set(paths)
        for folder, pattern in _SOURCE_TREES:
            for path in sorted((root / folder).rglob(pattern)):
                if path.is_file() and "__pycache__" not in path.parts and path not in seen:
                    seen.add(path)
                    paths.append(path)
        for path in paths:
            info = tar.gettarinfo(str(path), arcname=f"iota-publisher/{path.relative_to(root)}")
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 1_546_300_800  # reproducible archives
            with open(path, "rb") as f:
                tar.addfile(info, f)
    return buffer.getvalue()


def example_config(
    sensor_id: str, provider: str, endpoint: str, server_url: str | None = None
) -> dict[str, object]:
    """A config for ``iota-publish run`` (a simulated station), with no secret in it."""
    config: dict[str, object] = {
        "sensorId": sensor_id,
        "secretKey": "the secretKey of config.json",
        "debug": True,
        "provider": provider,
        "endpoint": endpoint,
    }
    if server_url:
        config["serverUrl"] = server_url
    config["interval"] = 60
    config["sensors"] = [
        {
            "name": "station",
            "driver": "simulated",
            "options": {"seed": 1, "readings": ["temperature", "humidity"]},
        }
    ]
    config["fields"] = [
        {
            "id": "temperature",
            "sensor": "station",
            "reading": "temperature",
            "unit": "C",
            "round": 1,
        },
        {"id": "humidity", "sensor": "station", "reading": "humidity", "round": 0},
    ]
    return config


def build_template(
    sensor_id: str,
    secret_key: str,
    provider: str,
    endpoint: str,
    *,
    server_url: str | None = None,
    out_dir: str | Path = ".",
    wheel: str | Path | None = None,
    force: bool = False,
) -> Path:
    """Write ``<sensor_id>-template.zip`` in ``out_dir`` and return its path.

    The zip carries iota-publisher itself so that ``pip install -r
    requirements.txt`` works on a fresh machine: ``wheel`` (a built wheel, for
    one platform) if given, else a source archive when running from the source
    tree (the C kernel compiles on the device), else a plain requirement on
    the package index.

    An existing zip is left as it is (:class:`ExistingFileError`) unless
    ``force``; the new one appears whole (written aside, then renamed), ``0600``.
    """
    if not is_id(sensor_id):
        raise ConfigError(
            "sensor id must start with a letter, then letters, digits, '-' or '_' (at most 40)",
            field="sensorId",
        )
    target = Path(out_dir) / f"{sensor_id}-template.zip"
    if not force and target.exists():
        raise ExistingFileError(target)
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
    example = example_config(sensor_id, provider, endpoint, server_url)
    Config.from_mapping(example)
    requirement = f"iota-publisher>={__version__.split('.dev')[0]}"
    shipped = " (iota-publisher itself, from the package index)"
    folder = f"{sensor_id}-template"
    files: dict[str, str | bytes] = {
        "config.json": json.dumps(config, indent=2) + "\n",
        "README.md": "",
        "publish.py": PUBLISH_PY,
        "data.json": json.dumps(SAMPLE_DATA, indent=2) + "\n",
        "config.example.json": json.dumps(example, indent=2) + "\n",
        "systemd/iota-publish.service": SERVICE.format(sensor_id=sensor_id, folder=folder),
    }
    root = source_tree()
    if wheel is not None:
        wheel_path = Path(wheel)
        files[wheel_path.name] = wheel_path.read_bytes()
        requirement = f"./{wheel_path.name}"
        shipped = f" (iota-publisher itself, from `{wheel_path.name}`)"
    elif root is not None:
        files[SOURCE_ARCHIVE] = source_archive(root)
        requirement = f"./{SOURCE_ARCHIVE}"
        shipped = f" (iota-publisher itself, from its source archive `{SOURCE_ARCHIVE}`)"
    files["README.md"] = README.format(sensor_id=sensor_id, shipped=shipped)
    files["requirements.txt"] = f"{requirement}\nrequests>=2.25\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=(2019, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            # config.json holds the secret key: owner-only permissions when unzipped
            mode = 0o600 if name == "config.json" else 0o644
            info.external_attr = (0o100000 | mode) << 16
            zf.writestr(info, content)
    try:
        write_private(target, buffer.getvalue(), replace=force)
    except FileExistsError:
        raise ExistingFileError(target) from None
    return target
