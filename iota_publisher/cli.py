"""The ``iota-publish`` command line (a thin click layer over the library).

Exit codes: 0 success; 1 a runtime failure (node or marketplace refused or
unreachable after retries, a sensor failed); 2 a usage or configuration error
(click's own code for bad options, and ours for a config that does not
validate); 130 interrupted.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from . import _backend
from ._version import __version__
from .errors import ConfigError, InvalidInputError, PublisherError

EXIT_FAILURE = 1
EXIT_CONFIG = 2


class CliError(click.ClickException):
    """An error shown as ``Error: ...`` with our exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = _StderrHandler()
    # journald adds its own timestamps; keep lines short and greppable
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("iota_publisher")
    root.handlers[:] = [handler]
    root.setLevel(level)


class _Progress:
    """One self-overwriting status line on a terminal's stderr; silent otherwise."""

    def __init__(self) -> None:
        self.active = sys.stderr.isatty()
        self.shown = False

    def say(self, text: str) -> None:
        if self.active:
            sys.stderr.write(f"\r\033[K{text}")
            sys.stderr.flush()
            self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _load(config_path: str) -> Any:
    from .config import load_config

    try:
        return load_config(config_path)
    except ConfigError as exc:
        raise CliError(f"{config_path}: {exc}", EXIT_CONFIG) from exc


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"iota-publish {__version__} (Curl backend: {_backend.backend_name()})")
    ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    "-V",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and the active Curl backend, then exit.",
)
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def main(verbose: int) -> None:
    """Publish sensor readings as MAM v0 messages on the IOTA Tangle and
    register them with the IOTA Data Marketplace."""
    _setup_logging(verbose)


CONFIG = click.option(
    "--config",
    "-c",
    "config_path",
    default="config.json",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The device's config file.",
)


@main.command()
@CONFIG
@click.option("--once", is_flag=True, help="Take one reading, publish it, and exit.")
@click.option("--count", type=click.IntRange(1), help="Exit after this many readings.")
def run(config_path: str, once: bool, count: int | None) -> None:
    """Read the sensors on their interval and publish (the daemon).

    SIGTERM/SIGINT stop after the current step, SIGHUP reloads the config.
    In debug mode each payload is printed as one JSON line and nothing is sent.
    """
    from .agent import Agent

    try:
        agent = Agent(config_path)
    except ConfigError as exc:
        raise CliError(f"{config_path}: {exc}", EXIT_CONFIG) from exc
    agent.install_signal_handlers()
    code = agent.run(once=once, count=count)
    if code:
        sys.exit(code)


@main.command()
@CONFIG
def check(config_path: str) -> None:
    """Validate a config file and say exactly which key is wrong."""
    config = _load(config_path)
    click.echo(
        f"{config_path}: OK ({'debug mode' if config.debug else 'live'}; "
        f"{len(config.sensors)} sensor(s), "
        f"{len(config.fields.rules) if config.fields else 0} field(s))"
    )


@main.command()
@CONFIG
def read(config_path: str) -> None:
    """Read every sensor once and print the mapped payload (sends nothing)."""
    from .drivers import create_driver

    config = _load(config_path)
    readings: dict[str, Any] = {}
    failed = False
    for sensor in config.sensors:
        try:
            with create_driver(sensor.driver, sensor.options) as driver:
                readings[sensor.name] = driver.read()
        except ConfigError as exc:
            raise CliError(f"sensor {sensor.name!r}: {exc}", EXIT_CONFIG) from exc
        except PublisherError as exc:
            click.echo(f"sensor {sensor.name!r} failed: {exc}", err=True)
            failed = True
    for name, values in readings.items():
        for reading in values.values():
            unit = f" {reading.unit}" if reading.unit else ""
            click.echo(f"{name}.{reading.name} = {reading.value}{unit}", err=True)
    if config.fields is not None:
        mapped = config.fields.apply(readings)
        for field_id, problem in mapped.problems.items():
            click.echo(f"field {field_id!r} left out: {problem}", err=True)
        click.echo(json.dumps(mapped.data))
    if failed:
        sys.exit(EXIT_FAILURE)


@main.command()
@CONFIG
@click.argument("payload", required=False)
@click.option("--time", "time_ms", type=click.IntRange(0), help="Packet time in ms (default now).")
def publish(config_path: str, payload: str | None, time_ms: int | None) -> None:
    """Publish one JSON object (PAYLOAD, or read from stdin) as a packet's data."""
    from .publisher import Publisher

    text = payload if payload is not None else sys.stdin.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"the payload is not JSON: {exc}", EXIT_CONFIG) from exc
    config = _load(config_path)
    progress = _Progress()
    if not config.debug:
        progress.say(f"publishing (proof of work at weight {config.mwm}, {config.pow})...")
    try:
        with Publisher(config) as pub:
            result = pub.publish(data, time=time_ms)
        progress.done()
    except InvalidInputError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from exc
    except PublisherError as exc:
        raise CliError(str(exc)) from exc
    if not result.debug:
        click.echo(
            json.dumps(
                {
                    "root": result.root,
                    "address": result.address,
                    "tail": result.tail,
                    "time": result.packet["time"],
                    "timings": {k: round(v, 4) for k, v in result.timings.items()},
                }
            )
        )


@main.command()
@click.option("--provider", "-p", required=True, help="IRI node URL.")
@click.option("--root", help="Root of the first message to read.")
@click.option("--side-key", help="Side key (restricted channels).")
@click.option(
    "--mode",
    type=click.Choice(["public", "private", "restricted"]),
    default="restricted",
    show_default=True,
)
@click.option("--device", help="Device id: read its purchased stream through the marketplace.")
@click.option("--user", help="Marketplace user id (with --device).")
@click.option("--api", help="Marketplace API base URL (with --device).")
@click.option("--limit", type=click.IntRange(1), help="Stop after this many packets.")
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
def fetch(
    provider: str,
    root: str | None,
    side_key: str | None,
    mode: str,
    device: str | None,
    user: str | None,
    api: str | None,
    limit: int | None,
    fmt: str,
) -> None:
    """Read packets back: a channel from --root (and --side-key), or a purchased
    stream with --device, --user and --api. Prints JSON lines or CSV."""
    from .fetch import fetch_channel, fetch_stream
    from .marketplace import MarketplaceClient
    from .node import NodeClient

    if (root is None) == (device is None):
        raise CliError("give either --root or --device", EXIT_CONFIG)
    if device is not None and (user is None or api is None):
        raise CliError("--device needs --user and --api", EXIT_CONFIG)
    writer = None
    try:
        with NodeClient(provider) as node:
            if device is not None:
                market = MarketplaceClient(api)  # type: ignore[arg-type]
                packets = fetch_stream(market, node, device, user, limit=limit)  # type: ignore[arg-type]
            else:
                packets = fetch_channel(node, root, side_key, mode, limit=limit)  # type: ignore[arg-type]
            progress = _Progress()
            for count, packet in enumerate(packets, 1):
                progress.say(f"{count} packet(s) read")
                if fmt == "jsonl":
                    click.echo(
                        json.dumps({"time": packet.time, "data": packet.data, "root": packet.root})
                    )
                    continue
                row = {"time": packet.time, "root": packet.root}
                if isinstance(packet.data, dict):
                    row.update(packet.data)
                if writer is None:
                    writer = csv.DictWriter(sys.stdout, fieldnames=list(row), extrasaction="ignore")
                    writer.writeheader()
                writer.writerow(row)
            progress.done()
    except InvalidInputError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from exc
    except PublisherError as exc:
        raise CliError(str(exc)) from exc


@main.command()
@click.option(
    "--mwm",
    type=click.IntRange(1, 243),
    default=9,
    show_default=True,
    help="minWeightMagnitude for the proof-of-work figures.",
)
@click.option(
    "--runs",
    type=click.IntRange(1),
    default=5,
    show_default=True,
    help="Nonce searches per figure.",
)
@click.option(
    "--threads", type=click.IntRange(0), default=0, help="Proof-of-work threads (0 = every core)."
)
def bench(mwm: int, runs: int, threads: int) -> None:
    """Time MAM messages and proof of work on this machine, and name the backend.

    The figures are medians; benchmarks/ in the source tree has the fuller
    comparisons with the reference implementations.
    """
    from ._bench import describe, pow_rate, time_mam

    click.echo(describe())
    pure = _backend.native() is None
    repeat = 3 if pure else 15
    for security in (1, 2, 3):
        create, parse = time_mam(security, repeat)
        click.echo(
            f"MAM security {security}: create_message {create * 1000:.1f} ms, "
            f"parse_message {parse * 1000:.1f} ms (median of {repeat})"
        )
    thread_counts = [1] if pure else sorted({1, threads or (os.cpu_count() or 1)})
    for n in thread_counts:
        median, rate, count = pow_rate(mwm, runs, n)
        label = "1 thread" if n == 1 else f"{n} threads"
        click.echo(
            f"proof of work, mwm {mwm}, {label}: median {median:.3f} s to a nonce, "
            f"{rate / 1e6:.2f} million hashes/s (over {count} searches)"
        )


@main.command()
@click.option("--sensor-id", required=True, help="The device id on the marketplace.")
@click.option("--secret-key", required=True, help="The device's secret key (from the marketplace).")
@click.option("--provider", required=True, help="IRI node URL.")
@click.option("--endpoint", required=True, help="The marketplace's newData URL.")
@click.option("--server-url", help="A JSON source for the polling example.")
@click.option(
    "--out",
    "out_dir",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, exists=True),
    help="Where to write the zip.",
)
@click.option(
    "--wheel",
    type=click.Path(dir_okay=False, exists=True),
    help="An iota-publisher wheel to include (for offline installs).",
)
def template(
    sensor_id: str,
    secret_key: str,
    provider: str,
    endpoint: str,
    server_url: str | None,
    out_dir: str,
    wheel: str | None,
) -> None:
    """Build <sensor-id>-template.zip: config, README, publish.py examples, data.json."""
    from .template import build_template

    try:
        path = build_template(
            sensor_id,
            secret_key,
            provider,
            endpoint,
            server_url=server_url,
            out_dir=out_dir,
            wheel=wheel,
        )
    except InvalidInputError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from exc
    click.echo(str(path))


@main.command()
@CONFIG
@click.option("--sensor-id", help="The device id on the marketplace.")
@click.option("--secret-key", help="The device's secret key.")
@click.option("--provider", help="IRI node URL.")
@click.option("--endpoint", help="The marketplace's newData URL.")
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
def init(
    config_path: str,
    sensor_id: str | None,
    secret_key: str | None,
    provider: str | None,
    endpoint: str | None,
    force: bool,
) -> None:
    """Write a config in debug mode with a simulated sensor (prompts for what is missing)."""
    from .config import Config

    path = Path(config_path)
    if path.exists() and not force:
        raise CliError(f"{path} exists; use --force to overwrite it", EXIT_CONFIG)
    sensor_id = sensor_id or click.prompt("Device id (sensorId)")
    secret_key = secret_key or click.prompt("Secret key", hide_input=True)
    provider = provider or click.prompt("IRI node URL", default="http://localhost:14265")
    endpoint = endpoint or click.prompt("newData URL", default="http://localhost:5001/newData")
    config = {
        "sensorId": sensor_id,
        "secretKey": secret_key,
        "debug": True,
        "provider": provider,
        "endpoint": endpoint,
        "interval": 60,
        "sensors": [{"name": "station", "driver": "simulated"}],
        "fields": [
            {"id": "temperature", "sensor": "station", "reading": "temperature", "round": 1},
            {"id": "humidity", "sensor": "station", "reading": "humidity", "round": 0},
            {"id": "pressure", "sensor": "station", "reading": "pressure", "round": 1},
        ],
    }
    try:
        Config.from_mapping(config, base_dir=path.resolve().parent)
    except ConfigError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from exc
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    click.echo(
        f"wrote {path} (debug mode, simulated sensor); try: iota-publish run --config {path} --once"
    )


from .sandbox.cli import sandbox as _sandbox  # noqa: E402

main.add_command(_sandbox)


if __name__ == "__main__":  # pragma: no cover
    main()
