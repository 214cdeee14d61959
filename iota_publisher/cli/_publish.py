"""``publish`` and ``fetch``: one packet out by hand, and packets read back."""

from __future__ import annotations

import csv
import json
import sys

import click

from ..errors import InvalidInputError, PublisherError
from ._common import CONFIG, EXIT_CONFIG, CliError, Progress, load

__all__ = ["fetch", "publish"]


@click.command()
@CONFIG
@click.argument("payload", required=False)
@click.option("--time", "time_ms", type=click.IntRange(0), help="Packet time in ms (default now).")
def publish(config_path: str, payload: str | None, time_ms: int | None) -> None:
    """Publish one JSON object (PAYLOAD, or read from stdin) as a packet's data."""
    from ..publisher import Publisher

    text = payload if payload is not None else sys.stdin.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"the payload is not JSON: {exc}", EXIT_CONFIG) from exc
    config = load(config_path)
    progress = Progress()
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


@click.command()
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
@click.option(
    "--api-key",
    envvar="IOTA_PUBLISH_API_KEY",
    help="The buyer's marketplace API key (with --device; or $IOTA_PUBLISH_API_KEY).",
)
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
    api_key: str | None,
    limit: int | None,
    fmt: str,
) -> None:
    """Read packets back: a channel from --root (and --side-key), or a purchased
    stream with --device, --user and --api. Prints JSON lines or CSV."""
    from ..fetch import fetch_channel, fetch_stream
    from ..marketplace import MarketplaceClient
    from ..node import NodeClient

    if (root is None) == (device is None):
        raise CliError("give either --root or --device", EXIT_CONFIG)
    if device is not None and (user is None or api is None):
        raise CliError("--device needs --user and --api", EXIT_CONFIG)
    writer = None
    try:
        with NodeClient(provider) as node:
            if device is not None:
                market = MarketplaceClient(api)  # type: ignore[arg-type]
                packets = fetch_stream(  # type: ignore[arg-type]
                    market, node, device, user, limit=limit, api_key=api_key
                )
            else:
                packets = fetch_channel(node, root, side_key, mode, limit=limit)  # type: ignore[arg-type]
            progress = Progress()
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
