"""``init`` and ``template``: a first config, or a template zip for a device owner."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from ..errors import ConfigError, InvalidInputError
from ._common import CONFIG, EXIT_CONFIG, CliError

__all__ = ["init", "template"]


@click.command()
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
    from ..template import build_template

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


@click.command()
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
    from ..config import Config

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
