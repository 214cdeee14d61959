"""The ``iota-publish`` command line (a thin click layer over the library).

One module per command group: ``_run`` (run, check, read), ``_publish``
(publish, fetch), ``_template`` (init, template), ``_bench`` (bench),
``_sandbox`` (sandbox), ``_status`` (status, retry, drop); ``_common`` holds
what they share.

``-v`` (more log output) and ``-q`` (less) go before or after the command
name: ``iota-publish -v run`` and ``iota-publish run -v`` are the same.

Exit codes (:mod:`iota_publisher._exitcodes`, shared with the daemon): 0
success; 1 a runtime failure (node or marketplace refused or unreachable
after retries, a sensor failed); 2 a usage or configuration error (click's
own code for bad options, and ours for a config that does not validate).
Ctrl-C stops ``run`` and ``sandbox`` cleanly; elsewhere it aborts (exit 1).
"""

from __future__ import annotations

import click

from .. import _backend
from .._version import __version__
from ._bench import bench
from ._common import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, CliError, verbosity_options
from ._publish import fetch, publish
from ._run import check, read, run
from ._sandbox import sandbox
from ._status import drop, retry, status
from ._template import init, template

__all__ = ["EXIT_CONFIG", "EXIT_FAILURE", "EXIT_OK", "CliError", "main"]


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


main.params.extend(verbosity_options())
for _command in (run, check, read, publish, fetch, bench, template, init, sandbox):
    _command.params.extend(verbosity_options())
    main.add_command(_command)
for _command in (status, retry, drop):  # the outbox: look in, act on parked readings
    _command.params.extend(verbosity_options())
    main.add_command(_command)
