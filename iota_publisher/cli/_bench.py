"""``bench``: MAM and proof-of-work figures for this machine, and the backend in use."""

from __future__ import annotations

import os

import click

from .. import _backend

__all__ = ["bench"]


@click.command()
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
    from .._bench import describe, pow_rate, time_mam

    click.echo(describe(tuple(sorted({9, 14, mwm}))))  # the default, the old mainnet, theirs
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
