"""The ``iota-publish`` command line (a thin click layer over the library)."""

from __future__ import annotations

import click

from . import _backend
from ._version import __version__


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
def main() -> None:
    """Publish sensor readings as MAM v0 messages on the IOTA Tangle and
    register them with the IOTA Data Marketplace."""


if __name__ == "__main__":  # pragma: no cover
    main()
