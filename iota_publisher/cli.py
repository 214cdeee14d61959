"""The ``iota-publish`` command line (a thin click layer over the library)."""

from __future__ import annotations

import os

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


@main.command()
@click.option("--mwm", type=click.IntRange(1, 243), default=9, show_default=True,
              help="minWeightMagnitude for the proof-of-work figures.")
@click.option("--runs", type=click.IntRange(1), default=5, show_default=True,
              help="Nonce searches per figure.")
@click.option("--threads", type=click.IntRange(0), default=0,
              help="Proof-of-work threads (0 = every core).")
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
