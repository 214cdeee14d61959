"""What every command shares: exit codes, :class:`CliError`, logging, options, progress."""

from __future__ import annotations

import logging
import os
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
    "daemon_logging",
    "load",
    "setup_logging",
    "under_journald",
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


def under_journald(stream: Any = None) -> bool:
    """Whether ``stream`` (default stderr) is connected to the journal: systemd sets
    ``$JOURNAL_STREAM`` to its ``device:inode``."""
    value = os.environ.get("JOURNAL_STREAM", "")
    dev, _, ino = value.partition(":")
    if not (dev.isdigit() and ino.isdigit()):
        return False
    try:
        st = os.fstat((stream or sys.stderr).fileno())
    except (OSError, ValueError, AttributeError):
        return True  # no file descriptor to compare: trust the variable
    return (st.st_dev, st.st_ino) == (int(dev), int(ino))


# loggers the daemon shows one level lower: its own lines say it once per outage / reading
_DEMOTED = frozenset(
    {
        "iota_publisher._http.retries",  # one line per retry; the agent sums them up
        "iota_publisher.publisher.readings",  # the agent's line has time and elapsed
    }
)


class _Demote(logging.Filter):
    """Shows the records named in :data:`_DEMOTED` at DEBUG (only with ``-v``)."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name not in _DEMOTED:
            return True
        if record.levelno > logging.DEBUG:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return self.level <= logging.DEBUG


_LEVELS = (logging.ERROR, logging.WARNING, logging.INFO, logging.DEBUG)


def setup_logging(verbosity: int, *, daemon: bool = False) -> None:
    """Log to stderr: errors only below 0, warnings at 0, info at 1, debug from 2.

    ``daemon`` (``run``) is one step more talkative (info by default: one line
    per published reading; ``-q`` warnings, ``-qq`` errors), shows retries
    once per outage instead of once per retry, and stamps lines with the time
    unless journald, which adds its own, is listening.
    """
    step = verbosity + (2 if daemon else 1)
    level = _LEVELS[max(0, min(step, len(_LEVELS) - 1))]
    handler = _StderrHandler()
    if daemon and not under_journald():
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
        handler.setFormatter(logging.Formatter(fmt, datefmt="%Y-%m-%dT%H:%M:%S%z"))
    else:
        # journald adds its own timestamps; keep lines short and greppable
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    if daemon:
        handler.addFilter(_Demote(level))
    root = logging.getLogger("iota_publisher")
    root.handlers[:] = [handler]
    root.setLevel(level)


def daemon_logging() -> None:
    """Switch the current command's logging to the daemon's (see :func:`setup_logging`)."""
    meta = click.get_current_context().find_root().meta
    meta[_DAEMON] = True
    setup_logging(meta.get(_VERBOSITY, 0), daemon=True)


_VERBOSITY = "iota_publisher.verbosity"
_DAEMON = "iota_publisher.daemon"


def _adjust_verbosity(ctx: click.Context, param: click.Parameter, value: int) -> None:
    # -v and -q count wherever they stand (before or after the command name):
    # the sum lives on the root context, and logging follows every change
    if ctx.resilient_parsing:
        return
    meta = ctx.find_root().meta
    meta[_VERBOSITY] = meta.get(_VERBOSITY, 0) + (value if param.name == "verbose" else -value)
    setup_logging(meta[_VERBOSITY], daemon=meta.get(_DAEMON, False))


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
