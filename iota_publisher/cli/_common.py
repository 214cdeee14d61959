"""What every command shares: exit codes, :class:`CliError`, logging, options, progress."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import click

from .._exitcodes import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK
from ..errors import ConfigError

__all__ = [
    "CONFIG",
    "EXIT_CONFIG",
    "EXIT_FAILURE",
    "EXIT_OK",
    "CliError",
    "Progress",
    "load",
    "setup_logging",
    "verbosity_options",
]


class CliError(click.ClickException):
    """An error shown as ``Error: ...`` with our exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def setup_logging(verbosity: int) -> None:
    """Log to stderr: errors only below 0, warnings at 0, info at 1, debug from 2."""
    if verbosity < 0:
        level = logging.ERROR
    elif verbosity == 0:
        level = logging.WARNING
    else:
        level = logging.INFO if verbosity == 1 else logging.DEBUG
    handler = _StderrHandler()
    # journald adds its own timestamps; keep lines short and greppable
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("iota_publisher")
    root.handlers[:] = [handler]
    root.setLevel(level)


_VERBOSITY = "iota_publisher.verbosity"


def _adjust_verbosity(ctx: click.Context, param: click.Parameter, value: int) -> None:
    # -v and -q count wherever they stand (before or after the command name):
    # the sum lives on the root context, and logging follows every change
    if ctx.resilient_parsing:
        return
    meta = ctx.find_root().meta
    meta[_VERBOSITY] = meta.get(_VERBOSITY, 0) + (value if param.name == "verbose" else -value)
    setup_logging(meta[_VERBOSITY])


def verbosity_options() -> list[click.Parameter]:
    """Fresh ``-v/--verbose`` and ``-q/--quiet`` options, for the group and every command."""
    return [
        click.Option(
            ["-v", "--verbose"],
            count=True,
            expose_value=False,
            callback=_adjust_verbosity,
            help="More log output on stderr (-vv for debug).",
        ),
        click.Option(
            ["-q", "--quiet"],
            count=True,
            expose_value=False,
            callback=_adjust_verbosity,
            help="Less log output on stderr (errors only).",
        ),
    ]


class Progress:
    """One self-overwriting status line on a terminal's stderr; silent otherwise."""

    def __init__(self) -> None:
        self.active = sys.stderr.isatty()
        self.shown = False

    def say(self, text: str) -> None:
        if self.active:
            sys.stderr.write(f"\r\033[K{text}")
            sys.stderr.flush()
            self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def load(config_path: str) -> Any:
    """The config at ``config_path``; a :class:`CliError` (exit 2) when it does not validate."""
    from ..config import load_config

    try:
        return load_config(config_path)
    except ConfigError as exc:
        raise CliError(f"{config_path}: {exc}", EXIT_CONFIG) from exc


CONFIG: Callable[[Callable[..., Any]], Callable[..., Any]] = click.option(
    "--config",
    "-c",
    "config_path",
    default="config.json",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The device's config file.",
)
