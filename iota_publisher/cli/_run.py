"""``run``, ``check`` and ``read``: the daemon, and the checks to make before starting it."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import click

from ..errors import ConfigError, PublisherError
from ._common import CONFIG, EXIT_CONFIG, EXIT_FAILURE, CliError, daemon_logging, load

__all__ = ["check", "read", "run"]


@click.command()
@CONFIG
@click.option("--once", is_flag=True, help="Take one reading, send it, and exit.")
@click.option(
    "--count",
    type=click.IntRange(1),
    help="Read this many windows, send what they yielded, and exit.",
)
def run(config_path: str, once: bool, count: int | None) -> None:
    """Read the sensors on their interval and publish (the daemon).

    Readings go into the outbox as they are taken and are sent one at a time;
    during an outage they wait there. One log line per published reading.
    In debug mode each packet is printed as one JSON line and nothing is sent.

    SIGTERM/SIGINT stop within 2 seconds (a second one exits at once),
    SIGHUP reloads the config. Exit status: 0 when stopped by a signal, or
    (--once/--count) when every reading taken was registered; 1 on a fatal
    error, or (--once/--count) when readings stay unsent or none could be
    read; 2 on a config error. One summary line goes to stderr at exit.
    """
    from ..agent import Agent, exit_now

    daemon_logging()
    try:
        agent = Agent(config_path)
    except ConfigError as exc:
        raise CliError(f"{config_path}: {exc}", EXIT_CONFIG) from exc
    agent.install_signal_handlers()
    code = agent.run(once=once, count=count)
    if agent.abandoned:
        exit_now(code)  # a send or a sensor is still blocked in a call: do not wait for it
    if code:
        sys.exit(code)


@click.command()
@CONFIG
@click.option(
    "--online",
    is_flag=True,
    help="Also ask the node (getNodeInfo, its MWM) and the marketplace (is the device "
    "known?). Publishes nothing.",
)
def check(config_path: str, online: bool) -> None:
    """Validate a config file and say exactly which key is wrong.

    Checks what `run` would find only later: every key (typos get a
    suggestion), each sensor's driver options, each field's reading and unit,
    numeric ranges, that the endpoint is a newData URL and the state folder
    is writable. Prints one problem per line and exits 2 when there is any,
    else prints a one-line summary and exits 0. With --online, a node or
    marketplace that cannot be reached exits 1.
    """
    from ..config import find_problems

    config, problems = find_problems(config_path)
    for problem in problems:
        click.echo(f"{config_path}: {problem}", err=True)
    if problems:
        sys.exit(EXIT_CONFIG)
    assert config is not None
    summary = (
        f"{'debug mode' if config.debug else 'live'}; {len(config.sensors)} sensor(s), "
        f"{len(config.fields.rules) if config.fields else 0} field(s)"
    )
    if online:
        found, unreachable, notes = _online(config)
        for line in notes:
            click.echo(f"{config_path}: {line}")
        for problem in found + unreachable:
            click.echo(f"{config_path}: {problem}", err=True)
        if found:
            sys.exit(EXIT_CONFIG)
        if unreachable:
            sys.exit(EXIT_FAILURE)
        summary += "; node and marketplace answer, device known"
    click.echo(f"{config_path}: OK ({summary})")


def _online(config: Any) -> tuple[list[str], list[str], list[str]]:
    """Ask the node and the marketplace what `run` will need, publishing nothing.

    Returns (config problems, services that could not be reached, notes).
    """
    from ..marketplace import MarketplaceClient
    from ..node import NodeClient

    problems: list[str] = []
    unreachable: list[str] = []
    notes: list[str] = []
    timeout = min(config.timeout, 10.0)
    if not config.provider:
        problems.append("provider: --online needs the node's URL in 'provider'")
    else:
        node = NodeClient(config.provider, timeout=timeout)
        try:
            info = node.get_node_info()
        except PublisherError as exc:
            unreachable.append(f"provider: the node does not answer getNodeInfo: {exc}")
        else:
            problems += _node_problems(config, info, notes)
        finally:
            node.close()
    if not config.endpoint:
        problems.append("endpoint: --online needs the marketplace's newData URL in 'endpoint'")
    else:
        market = MarketplaceClient.from_endpoint(config.endpoint, timeout=timeout)
        try:
            devices = market.devices()
        except PublisherError as exc:
            unreachable.append(f"endpoint: the marketplace does not answer (GET devices): {exc}")
        else:
            ids = {str(d.get("sensorId", d.get("id"))) for d in devices}
            if config.sensor_id not in ids:
                problems.append(
                    f"sensorId: the marketplace at {_host(config.endpoint)} knows no device "
                    f"{config.sensor_id!r} (create it there, or copy its id)"
                )
            else:
                notes.append(f"the marketplace knows device {config.sensor_id!r}")
        finally:
            market.close()
    return problems, unreachable, notes


def _host(url: str) -> str:
    """The host (and port) of a URL, without credentials, for a message."""
    return urlsplit(url).netloc.rpartition("@")[2]


def _node_problems(config: Any, info: dict[str, Any], notes: list[str]) -> list[str]:
    """What a getNodeInfo answer says against the config (mwm, remote PoW)."""
    problems = []
    app = f"{info.get('appName', 'a node')} {info.get('appVersion', '')}".strip()
    notes.append(f"the node answers: {app}, milestone {info.get('latestMilestoneIndex', '?')}")
    node_mwm = next(
        (info[k] for k in ("minWeightMagnitude", "mwm") if isinstance(info.get(k), int)), None
    )
    if node_mwm is None:
        notes.append(f"the node does not report its minWeightMagnitude; mwm {config.mwm} is used")
    elif config.mwm < node_mwm:
        problems.append(
            f"mwm: the node asks for minWeightMagnitude {node_mwm}, the config says "
            f"{config.mwm}: it would refuse every transaction"
        )
    elif config.mwm > node_mwm:
        notes.append(
            f"mwm {config.mwm} is above the node's {node_mwm}: proof of work takes longer "
            "than needed"
        )
    features = info.get("features")
    if config.pow == "remote" and isinstance(features, list) and "RemotePOW" not in features:
        problems.append("pow: 'remote' but the node does not offer attachToTangle (RemotePOW)")
    return problems


@click.command()
@CONFIG
def read(config_path: str) -> None:
    """Read every sensor once and print the mapped payload (sends nothing).

    Exits 1 when a sensor failed or no field could be filled.
    """
    from ..drivers import create_driver

    config = load(config_path)
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
            when = ""
            if reading.time is not None:
                stamp = datetime.fromtimestamp(reading.time, timezone.utc)
                when = f" (at {stamp.isoformat(timespec='seconds')})"
            click.echo(f"{name}.{reading.name} = {reading.value}{unit}{when}", err=True)
    if config.fields is not None:
        mapped = config.fields.apply(readings)
        for field_id, problem in mapped.problems.items():
            click.echo(f"field {field_id!r} left out: {problem}", err=True)
        click.echo(json.dumps(mapped.data))
        if not mapped.data:
            click.echo("no field could be filled", err=True)
            failed = True
    if failed:
        sys.exit(EXIT_FAILURE)
