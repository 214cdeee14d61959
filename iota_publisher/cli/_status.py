"""``status``, ``retry`` and ``drop``: look into the outbox, and act on parked readings.

``status`` opens the state database read-only and takes no lock, so it works
beside the running daemon. ``retry`` and ``drop`` of a parked reading write
without the daemon's lock too: they change only parked rows, which the
daemon never touches, each in one transaction that checks the row is still
parked. Dropping a reading that still waits needs the lock, so the daemon
must be stopped first (the command says so when it runs).

Nothing secret is shown: not the channel's seed, not a side key, not the
secret key.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from ..errors import StoreError, StoreLockedError
from ._common import CONFIG, EXIT_FAILURE, CliError, load

__all__ = ["drop", "retry", "status"]


def _when(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _age(ms: int, now_ms: int) -> str:
    seconds = max(0, (now_ms - ms) // 1000)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _daemon_running(state_dir: Path) -> bool:
    """Whether a publisher holds the state directory's lock (asked without blocking it:
    a shared lock, released at once)."""
    from ..store import LOCK_NAME

    try:
        fd = os.open(state_dir / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _open_readonly(config: Any) -> Any:
    from ..store import DB_NAME, Store

    if not (Path(config.state_dir) / DB_NAME).is_file():
        return None
    try:
        return Store(config.state_dir, readonly=True)
    except StoreError as exc:
        raise CliError(str(exc)) from exc


def _row_summary(row: Any, now_ms: int) -> dict[str, Any]:
    out = {
        "id": row.id,
        "time_ms": row.time_ms,
        "time": _when(row.time_ms),
        "age": _age(row.time_ms, now_ms),
        "stage": row.stage.value,
        "attempts": row.attempts,
        "last_error": row.last_error,
    }
    if row.parked_from is not None:
        out["parked_from"] = row.parked_from.value
    return out


def _channel_summary(state: Any) -> dict[str, Any] | None:
    """The channel's public facts (never its seed or side key)."""
    if not isinstance(state, dict):
        return None
    return {
        "mode": state.get("mode"),
        "security": state.get("security"),
        "index": state.get("start"),
        "next_root": state.get("nextRoot"),
    }


def _status(config: Any, store: Any, now_ms: int) -> dict[str, Any]:
    from .. import _backend
    from ..store import WAITING_STAGES

    stats = store.stats()
    waiting = store.waiting()
    parked = store.parked()
    last = store.get_meta("last_published")
    if isinstance(last, dict):
        last = {
            "id": last.get("id"),
            "time_ms": last.get("time_ms"),
            "time": _when(last.get("time_ms")),
            "registered_ms": last.get("registered_ms"),
            "registered": _when(last.get("registered_ms")),
            "root": last.get("root"),
        }
    channel = _channel_summary(store.load_channel())
    if channel is not None:
        channel["first_root"] = store.get_meta("first_root")
    return {
        "state_dir": str(config.state_dir),
        "running": _daemon_running(Path(config.state_dir)),
        "outbox": stats,
        "waiting": sum(stats[stage.value] for stage in WAITING_STAGES),
        "oldest_waiting": _row_summary(waiting[0], now_ms) if waiting else None,
        "parked": [_row_summary(row, now_ms) for row in parked],
        "last_published": last,
        "channel": channel,
        "backend": _backend.backend_name(),
    }


def _print_status(info: dict[str, Any], now_ms: int) -> None:
    from ..store import WAITING_STAGES

    running = "a publisher is running" if info["running"] else "no publisher running"
    click.echo(f"state: {info['state_dir']} ({running})")
    stats = info["outbox"]
    stages = ", ".join(f"{stage.value} {stats[stage.value]}" for stage in WAITING_STAGES)
    click.echo(f"outbox: {info['waiting']} waiting ({stages}), {stats['parked']} parked")
    click.echo(f"totals: {stats['registered']} registered, {stats['dropped']} dropped")
    oldest = info["oldest_waiting"]
    if oldest is None:
        click.echo("oldest waiting: none")
    else:
        error = f", last error: {oldest['last_error']}" if oldest["last_error"] else ""
        click.echo(
            f"oldest waiting: reading {oldest['id']} of {oldest['time']} ({oldest['age']} ago), "
            f"{oldest['stage']}, {oldest['attempts']} attempt(s){error}"
        )
    if info["parked"]:
        click.echo("parked (iota-publish retry ID, or drop ID):")
        for row in info["parked"]:
            click.echo(
                f"  reading {row['id']} of {row['time']}, parked at {row['parked_from']} "
                f"after {row['attempts']} attempt(s): {row['last_error']}"
            )
    last = info["last_published"]
    if last is None:
        click.echo("last publish: none")
    else:
        ago = f", {_age(last['registered_ms'], now_ms)} ago" if last["registered_ms"] else ""
        click.echo(
            f"last publish: reading {last['id']} of {last['time']} "
            f"(registered {last['registered']}{ago}), root {last['root']}"
        )
    channel = info["channel"]
    if channel is None:
        click.echo("channel: none yet")
    else:
        click.echo(
            f"channel: {channel['mode']}, security {channel['security']}, "
            f"index {channel['index']}, next root {channel['next_root'] or '(none yet)'}"
        )
        if channel.get("first_root"):
            click.echo(f"channel first root: {channel['first_root']}")
    click.echo(f"hashing backend: {info['backend']}")


def _print_waiting(rows: list[dict[str, Any]]) -> None:
    if not rows:
        click.echo("no readings waiting")
        return
    click.echo(f"{'id':>6}  {'time':23}  {'stage':8}  {'tries':>5}  last error")
    for row in rows:
        click.echo(
            f"{row['id']:>6}  {row['time']:23}  {row['stage']:8}  {row['attempts']:>5}  "
            f"{row['last_error'] or ''}"
        )


@click.command()
@CONFIG
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
@click.option(
    "--list", "as_list", is_flag=True, help="List the waiting readings (id, time, stage, ...)."
)
def status(config_path: str, as_json: bool, as_list: bool) -> None:
    """Show the outbox: readings waiting and parked, the last publish, the channel.

    Reads the state database without locking it: safe while the daemon runs.
    """
    config = load(config_path)
    now_ms = int(time.time() * 1000)
    store = _open_readonly(config)
    if store is None:
        if as_json:
            empty: Any = [] if as_list else {"state_dir": str(config.state_dir), "outbox": None}
            click.echo(json.dumps(empty))
        else:
            click.echo(f"no outbox yet in {config.state_dir} (nothing was queued there)")
        return
    try:
        if as_list:
            rows = [_row_summary(row, now_ms) for row in store.waiting()]
            if as_json:
                click.echo(json.dumps(rows))
            else:
                _print_waiting(rows)
            return
        info = _status(config, store, now_ms)
    except StoreError as exc:
        raise CliError(str(exc)) from exc
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(info))
    else:
        _print_status(info, now_ms)


def _shared(config: Any) -> Any:
    from ..store import DB_NAME, Store

    if not (Path(config.state_dir) / DB_NAME).is_file():
        raise CliError(f"no outbox in {config.state_dir} (nothing was queued there)")
    try:
        return Store(config.state_dir, exclusive=False)
    except StoreError as exc:
        raise CliError(str(exc)) from exc


@click.command()
@CONFIG
@click.argument("reading_id", metavar="[ID]", type=int, required=False)
@click.option("--all", "retry_all", is_flag=True, help="Every parked reading.")
def retry(config_path: str, reading_id: int | None, retry_all: bool) -> None:
    """Send a parked reading (or --all) again: back to the stage it was parked from.

    Safe while the daemon runs: it picks the reading up on its next drain.
    """
    if (reading_id is None) == (not retry_all):
        raise click.UsageError("give a reading ID or --all (not both)")
    config = load(config_path)
    store = _shared(config)
    try:
        rows = store.retry(reading_id)
    except StoreError as exc:
        raise CliError(str(exc)) from exc
    finally:
        store.close()
    if not rows:
        click.echo("no parked readings")
    for row in rows:
        click.echo(f"reading {row.id} back at stage {row.stage.value}")


@click.command()
@CONFIG
@click.argument("reading_id", metavar="ID", type=int)
@click.option("--yes", "-y", is_flag=True, help="Drop a waiting reading without asking.")
def drop(config_path: str, reading_id: int, yes: bool) -> None:
    """Remove a parked reading for good (counted as dropped).

    A reading still waiting can be dropped too, after a confirmation (or
    --yes), but only while the daemon is stopped: it may be sending it. A
    dropped reading whose message was prepared leaves a gap in the channel:
    readers following it from an older root stop there.
    """
    from ..store import Stage, Store

    config = load(config_path)
    store = _shared(config)
    try:
        row = store.get(reading_id)
        if row is None:
            raise CliError(f"no reading {reading_id} in the outbox")
        if row.stage is Stage.PARKED:
            store.drop(reading_id)
            _dropped(row)
            return
    except StoreError as exc:
        raise CliError(str(exc)) from exc
    finally:
        store.close()
    if not yes:
        click.confirm(
            f"reading {reading_id} is waiting ({row.stage.value}), not parked: drop it?",
            abort=True,
        )
    try:
        owner = Store(config.state_dir)
    except StoreLockedError as exc:
        raise CliError(
            f"reading {reading_id} is waiting and the publisher running on "
            f"{config.state_dir} may be sending it: stop it first "
            "(systemctl stop iota-publish), then drop",
            EXIT_FAILURE,
        ) from exc
    except StoreError as exc:
        raise CliError(str(exc)) from exc
    try:
        _dropped(owner.drop(reading_id, waiting=True))
    except StoreError as exc:
        raise CliError(str(exc)) from exc
    finally:
        owner.close()


def _dropped(row: Any) -> None:
    from ..store import Stage

    was = row.parked_from if row.stage is Stage.PARKED else row.stage
    click.echo(f"reading {row.id} dropped (it was {row.stage.value})")
    if was is not None and was is not Stage.QUEUED:
        click.echo(
            f"note: its message was prepared (root {row.root}): readers that follow the "
            "channel stop before it",
            err=True,
        )
