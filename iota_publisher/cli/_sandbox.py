"""``iota-publish sandbox``: run the local node and marketplace until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import click

__all__ = ["sandbox"]


@click.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65534),
    default=14265,
    show_default=True,
    help="The node's port; the marketplace takes the next one (0: any free ports).",
)
@click.option(
    "--mwm",
    type=click.IntRange(1, 20),
    default=9,
    show_default=True,
    help="The node's minWeightMagnitude (proof of work it requires).",
)
@click.option(
    "--data",
    "data_dir",
    default="sandbox-data",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the state lives (delete it to reset).",
)
@click.option(
    "--config",
    "config_path",
    default="sandbox-config.json",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write a ready config for the demo device (kept up to date, edits kept).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace the --config file with a fresh one, even if the sandbox did not write it.",
)
def sandbox(port: int, mwm: int, data_dir: str, config_path: str, force: bool) -> None:
    """Run a local legacy IOTA node and Data Marketplace on 127.0.0.1.

    Prints both URLs, the demo user (id, API key) and the demo device (id,
    secret key), writes a live config for that device, and serves until
    Ctrl-C or SIGTERM. Then `iota-publish run --config sandbox-config.json`
    publishes for real, and `iota-publish fetch` reads it back.

    At the next start the config keeps your edits (interval, sensors, fields,
    debug...): only the device, its key and the URLs are brought up to date.
    A file the sandbox did not write is never replaced without --force.
    """
    import os

    from ..errors import ConfigError, ExistingFileError
    from ..sandbox import Sandbox, SandboxError
    from ..sandbox.market import MarketError
    from ._common import EXIT_CONFIG, EXIT_FAILURE, CliError

    stop = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        market_port = port + 1 if port else 0
        try:
            sb = Sandbox(data_dir, node_port=port, market_port=market_port, mwm=mwm)
            sb.start()
        except SandboxError as exc:
            raise CliError(str(exc), EXIT_FAILURE) from exc
        try:
            try:
                device_id, secret_key = sb.create_demo_device()
                assert sb.market is not None
                # the demo user reads back its own device's stream: bought up front so that
                # `iota-publish fetch --device` just works
                sb.market.purchase(sb.user_id, device_id)
            except (MarketError, OSError) as exc:
                raise CliError(
                    f"the sandbox could not set up its demo device: {exc}", EXIT_FAILURE
                ) from exc
            existed = os.path.lexists(config_path)
            written = problem = None
            try:
                written = sb.write_config(config_path, force=force)
            except ExistingFileError as exc:
                raise CliError(
                    f"{exc.path} {exc.reason}; it is left as it is "
                    "(--force replaces it, --config writes another file)",
                    EXIT_CONFIG,
                ) from None
            except ConfigError as exc:
                problem = exc.__cause__ or exc  # the user's edits do not validate
            except OSError as exc:
                raise CliError(
                    f"the sandbox could not write {config_path}: {exc.strerror or exc}",
                    EXIT_FAILURE,
                ) from exc
            echo = click.echo
            echo(f"iota-publisher sandbox (state in {data_dir}; delete it to reset)")
            echo(f"  node (legacy IRI API):  {sb.node_url}   minWeightMagnitude {mwm}")
            echo(f"  marketplace API:        {sb.api_url}   (newData: {sb.endpoint})")
            echo(f"  demo user:              userId {sb.user_id}   apiKey {sb.api_key}")
            echo(f"  demo device:            sensorId {device_id}   secretKey {secret_key}")
            if written is None:
                echo(
                    f"  did NOT update {config_path}: {problem}; fix it "
                    f"(iota-publish check --config {config_path}), or start with --force "
                    "for a fresh one"
                )
            elif existed and not force:
                echo(f"  updated {written} (device, key and URLs; your other settings kept)")
            else:
                echo(f"  wrote {written} (live, simulated weather station)")
            echo("try:")
            echo(f"  iota-publish run --config {config_path} --count 3")
            echo(
                f"  iota-publish fetch --provider {sb.node_url} --device {device_id} "
                f"--user {sb.user_id} --api-key {sb.api_key} --api {sb.api_url}"
            )
            echo("Ctrl-C stops.", nl=True)
            sys.stdout.flush()
            while not stop.wait(0.5):
                pass
        finally:
            sb.close()
        click.echo("sandbox stopped")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
