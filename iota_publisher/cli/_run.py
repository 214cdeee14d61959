"""``run``, ``check`` and ``read``: the daemon, and the checks to make before starting it."""

from __future__ import annotations

import json
import sys
from typing import Any

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
def check(config_path: str) -> None:
    """Validate a config file and say exactly which key is wrong."""
    config = load(config_path)
    click.echo(
        f"{config_path}: OK ({'debug mode' if config.debug else 'live'}; "
        f"{len(config.sensors)} sensor(s), "
        f"{len(config.fields.rules) if config.fields else 0} field(s))"
    )


@click.command()
@CONFIG
def read(config_path: str) -> None:
    """Read every sensor once and print the mapped payload (sends nothing)."""
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
            click.echo(f"{name}.{reading.name} = {reading.value}{unit}", err=True)
    if config.fields is not None:
        mapped = config.fields.apply(readings)
        for field_id, problem in mapped.problems.items():
            click.echo(f"field {field_id!r} left out: {problem}", err=True)
        click.echo(json.dumps(mapped.data))
    if failed:
        sys.exit(EXIT_FAILURE)
