"""``init`` and ``template``: a first config, or a template zip for a device owner.

Neither replaces a file that is already there unless told to (``--force``);
what they write appears whole (written aside, then renamed) and ``0600``.
The secret key comes from ``--secret-key KEY``, ``--secret-key -`` (a line on
stdin), ``$IOTA_PUBLISH_SECRET_KEY``, or else a prompt that does not echo it;
it is never printed. On a shared machine prefer the last three: a command
line is visible to every user (``ps``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from .._files import write_private
from ..errors import ConfigError, ExistingFileError, InvalidInputError
from ._common import CONFIG, EXIT_CONFIG, CliError

__all__ = ["SECRET_KEY_ENV", "init", "refuse", "secret_key_from", "template"]

SECRET_KEY_ENV = "IOTA_PUBLISH_SECRET_KEY"

_SECRET_HELP = (
    "The device's secret key (from the marketplace); '-' reads it from stdin. "
    f"Default: ${SECRET_KEY_ENV}, else a prompt (hidden input)."
)


def secret_key_from(value: str | None) -> str:
    """The secret key from ``--secret-key`` (``-``: stdin), the environment, or a prompt."""
    if value and value != "-":
        return value
    if value is None:
        key = os.environ.get(SECRET_KEY_ENV, "").strip()
        if key:
            return key
    if _on_terminal():  # typed: hidden, also for '-'
        key = click.prompt("Secret key", hide_input=True).strip()
    else:  # piped: a line of stdin (no prompt, nothing to echo)
        key = sys.stdin.readline().strip()
    if not key:
        raise CliError(
            f"no secret key: give --secret-key - (a line on stdin), set ${SECRET_KEY_ENV}, "
            "or run on a terminal to be asked",
            EXIT_CONFIG,
        )
    return key


def _on_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):  # no stdin, or a closed one
        return False


def refuse(path: object, reason: str = "exists") -> CliError:
    """The error for a file in the way: named, left alone, and how to replace it."""
    return CliError(f"{path} {reason}; it is left as it is (--force replaces it)", EXIT_CONFIG)


FORCE = click.option("--force", is_flag=True, help="Replace the file if it exists.")


@click.command()
@click.option("--sensor-id", required=True, help="The device id on the marketplace.")
@click.option("--secret-key", help=_SECRET_HELP)
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
@FORCE
def template(
    sensor_id: str,
    secret_key: str | None,
    provider: str,
    endpoint: str,
    server_url: str | None,
    out_dir: str,
    wheel: str | None,
    force: bool,
) -> None:
    """Build <sensor-id>-template.zip: config, README, publish.py examples, data.json."""
    from ..device import is_id
    from ..template import build_template

    if not is_id(sensor_id):  # before asking for the key
        raise CliError(
            "sensor id must start with a letter, then letters, digits, '-' or '_' (at most 40)",
            EXIT_CONFIG,
        )
    target = Path(out_dir) / f"{sensor_id}-template.zip"
    if not force and target.exists():
        raise refuse(target)
    key = secret_key_from(secret_key)
    try:
        path = build_template(
            sensor_id,
            key,
            provider,
            endpoint,
            server_url=server_url,
            out_dir=out_dir,
            wheel=wheel,
            force=force,
        )
    except ExistingFileError as exc:
        raise refuse(exc.path, exc.reason) from None
    except InvalidInputError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from exc
    click.echo(str(path))


@click.command()
@CONFIG
@click.option("--sensor-id", help="The device id on the marketplace.")
@click.option("--secret-key", help=_SECRET_HELP)
@click.option("--provider", help="IRI node URL.")
@click.option("--endpoint", help="The marketplace's newData URL.")
@FORCE
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
    if not force and os.path.lexists(path):
        raise refuse(path)
    sensor_id = sensor_id or click.prompt("Device id (sensorId)")
    secret_key = secret_key_from(secret_key)
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
    try:
        write_private(path, json.dumps(config, indent=2) + "\n", replace=force)
    except FileExistsError:
        raise refuse(path) from None  # appeared while we asked
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}", EXIT_CONFIG) from exc
    click.echo(
        f"wrote {path} (debug mode, simulated sensor); try: iota-publish run --config {path} --once"
    )
