"""Durable state: the MAM channel and an outbox of readings, in one SQLite file.

Every reading accepted for publishing becomes an outbox row, and rows move
through stages strictly in order of arrival::

    queued -> prepared -> attached -> stored -> (registered: row deleted)

* ``prepared``: the MAM message was created. The channel's advance and the
  message (payload, root, side key, bundle) are committed in one transaction
  *before* anything is sent, so a one-time key is never signed twice and a
  restart re-sends the same message instead of creating another.
* ``attached``: proof of work is done; the attached trytes are kept, so a
  restart re-sends them byte for byte.
* ``stored``: the node has the transactions; only ``newData`` is left.

The stages are :class:`Stage` members, stored as their plain names. Each
stage-changing method checks the row is at the stage before, and returns the
row as it now is (:class:`OutboxRow`), read back by the same statement that
changed it where SQLite can (3.35 and later), else in the same transaction.
Every timestamp the store writes comes from its ``clock``.

The database runs in WAL mode with ``synchronous=FULL`` (a committed stage
survives power loss), its files are created ``0600`` inside a ``0700``
directory, and an exclusive lock file keeps a second process from using the
same channel. Within the process one :class:`Store` may be shared by threads
(a collector enqueuing while a sender drains): every method runs under one
re-entrant lock, so each is atomic with respect to the others. The outbox is
bounded: past ``outbox_limit`` readings the oldest *queued* ones are dropped,
counted and logged.
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any

from .errors import StoreError, StoreLockedError

__all__ = ["OutboxRow", "Stage", "Store", "StoreError", "StoreLockedError"]

log = logging.getLogger(__name__)

DB_NAME = "publisher.db"
LOCK_NAME = "publisher.lock"


class Stage(str, Enum):
    """Where an outbox row is. Members are the strings the database holds."""

    QUEUED = "queued"
    PREPARED = "prepared"
    ATTACHED = "attached"
    STORED = "stored"

    def __str__(self) -> str:
        return self.value


STAGES = tuple(stage.value for stage in Stage)

# UPDATE ... RETURNING hands back the changed row in the same statement
_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms    INTEGER NOT NULL,
    data       TEXT NOT NULL,
    stage      TEXT NOT NULL DEFAULT '{Stage.QUEUED.value}',
    root       TEXT,
    side_key   TEXT,
    address    TEXT,
    payload    TEXT,
    bundle     TEXT,
    attached   TEXT,
    tail       TEXT,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_ms INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class OutboxRow:
    """One reading in the outbox, as its database row is (``created_ms``: when accepted)."""

    id: int
    time_ms: int
    data: str  # the packet's "data" as JSON text
    stage: Stage
    root: str | None = None
    side_key: str | None = field(default=None, repr=False)
    address: str | None = None
    payload: str | None = field(default=None, repr=False)
    bundle: list[str] | None = field(default=None, repr=False)
    attached: list[str] | None = field(default=None, repr=False)
    tail: str | None = None
    attempts: int = 0
    last_error: str | None = None
    created_ms: int = 0

    @classmethod
    def from_db(cls, row: Mapping[str, Any]) -> OutboxRow:
        """Build from a database row, by column name."""
        values = {name: row[name] for name in _ROW_FIELDS}
        values["stage"] = Stage(values["stage"])
        for name in ("bundle", "attached"):
            values[name] = json.loads(values[name]) if values[name] else None
        return cls(**values)


_ROW_FIELDS = tuple(f.name for f in fields(OutboxRow))
_COLUMNS = ", ".join(_ROW_FIELDS)


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    """Run a Store method under the store's lock (one connection, many threads)."""

    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        with self._mutex:
            return method(self, *args, **kwargs)

    return wrapper


class Store:
    """The publisher's SQLite state in ``state_dir``.

    ``clock`` (seconds since the epoch) stamps every time the store writes.
    Safe to share between threads of one process: one connection, and every
    method (each transaction) holds a re-entrant lock while it runs.
    """

    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        *,
        outbox_limit: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.outbox_limit = outbox_limit
        self._clock = clock
        self._mutex = threading.RLock()
        try:
            self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create state directory {self.state_dir}: {exc}") from exc
        self._lock_fd = self._lock()
        db = self.state_dir / DB_NAME
        try:
            os.close(os.open(db, os.O_CREAT | os.O_RDWR, 0o600))
            os.chmod(db, 0o600)
            self._db = sqlite3.connect(
                db, isolation_level=None, timeout=30, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            os.close(self._lock_fd)
            raise StoreError(f"cannot open state database {db}: {exc}") from exc

    def _lock(self) -> int:
        path = self.state_dir / LOCK_NAME
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StoreLockedError(
                f"another iota-publisher process is using {self.state_dir} "
                "(two writers on one channel would sign with the same key twice)"
            ) from None
        return fd

    @_locked
    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None  # type: ignore[assignment]
            os.close(self._lock_fd)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta ----------------------------------------------------------------

    @_locked
    def get_meta(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    @_locked
    def set_meta(self, key: str, value: Any) -> None:
        with self._transaction():
            self._set_meta(key, value)

    def _set_meta(self, key: str, value: Any) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )

    def _bump(self, key: str, by: int) -> None:
        self._set_meta(key, (self.get_meta(key) or 0) + by)

    def load_channel(self) -> dict[str, Any] | None:
        """The persisted channel state (mam.js fields), or ``None`` before the first."""
        return self.get_meta("channel")

    def save_channel(self, state: dict[str, Any]) -> None:
        self.set_meta("channel", state)

    # -- outbox --------------------------------------------------------------

    @_locked
    def enqueue(self, time_ms: int, data_json: str) -> int:
        """Accept a reading; returns its outbox id. Drops the oldest queued past the limit."""
        now = int(self._clock() * 1000)
        with self._transaction():
            cur = self._db.execute(
                "INSERT INTO outbox (time_ms, data, created_ms) VALUES (?, ?, ?)",
                (time_ms, data_json, now),
            )
            row_id = int(cur.lastrowid or 0)
            total = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
            excess = total - self.outbox_limit
            if excess > 0:
                dropped = self._db.execute(
                    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE stage = ? "
                    "ORDER BY id LIMIT ?)",
                    (Stage.QUEUED.value, excess),
                ).rowcount
                if dropped:
                    self._bump("dropped", dropped)
                    log.warning(
                        "outbox full (%d readings): dropped the %d oldest queued reading(s)",
                        self.outbox_limit,
                        dropped,
                    )
        return row_id

    @_locked
    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[OutboxRow]:
        cursor = self._db.cursor()
        cursor.row_factory = sqlite3.Row
        return [OutboxRow.from_db(row) for row in cursor.execute(sql, params).fetchall()]

    def _select(self, where: str, params: tuple[Any, ...] = ()) -> OutboxRow | None:
        rows = self._rows(f"SELECT {_COLUMNS} FROM outbox {where} LIMIT 1", params)
        return rows[0] if rows else None

    def head(self) -> OutboxRow | None:
        """The oldest reading not yet registered."""
        return self._select("ORDER BY id")

    def get(self, row_id: int) -> OutboxRow | None:
        return self._select("WHERE id = ?", (row_id,))

    @_locked
    def prepare(
        self,
        row_id: int,
        channel_state: dict[str, Any],
        *,
        root: str,
        side_key: str | None,
        address: str,
        payload: str,
        bundle: list[str],
    ) -> OutboxRow:
        """Commit the channel's advance together with the message it signed.

        Returns the row, now ``prepared``.
        """
        with self._transaction():
            self._set_meta("channel", channel_state)
            return self._update(
                row_id,
                Stage.QUEUED,
                stage=Stage.PREPARED,
                root=root,
                side_key=side_key,
                address=address,
                payload=payload,
                bundle=json.dumps(bundle),
            )

    @_locked
    def save_attached(self, row_id: int, attached: list[str], tail: str) -> OutboxRow:
        """Keep the attached trytes; returns the row, now ``attached``."""
        with self._transaction():
            return self._update(
                row_id,
                Stage.PREPARED,
                stage=Stage.ATTACHED,
                attached=json.dumps(attached),
                tail=tail,
            )

    @_locked
    def mark_stored(self, row_id: int) -> OutboxRow:
        """The node has the transactions; returns the row, now ``stored``."""
        with self._transaction():
            return self._update(row_id, Stage.ATTACHED, stage=Stage.STORED)

    @_locked
    def mark_registered(self, row_id: int) -> None:
        """newData succeeded: the reading is done (its row is removed)."""
        with self._transaction():
            deleted = self._db.execute(
                "DELETE FROM outbox WHERE id = ? AND stage = ?", (row_id, Stage.STORED.value)
            ).rowcount
            if deleted != 1:
                raise StoreError(f"outbox row {row_id} is not at stage {Stage.STORED.value!r}")
            self._bump("registered", 1)

    @_locked
    def record_error(self, row_id: int, message: str) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                (message[:500], row_id),
            )

    def _update(self, row_id: int, expected: Stage, **columns: Any) -> OutboxRow:
        """Change a row at stage ``expected`` (inside a transaction); return it as it now is."""
        sets = ", ".join(f"{name} = ?" for name in columns)
        values = tuple(v.value if isinstance(v, Stage) else v for v in columns.values())
        sql = f"UPDATE outbox SET {sets} WHERE id = ? AND stage = ?"
        params = (*values, row_id, expected.value)
        if _RETURNING:
            rows = self._rows(f"{sql} RETURNING {_COLUMNS}", params)
        elif self._db.execute(sql, params).rowcount == 1:
            rows = self._rows(f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", (row_id,))
        else:
            rows = []
        if len(rows) != 1:
            raise StoreError(f"outbox row {row_id} is not at stage {expected.value!r}")
        return rows[0]

    @_locked
    def stats(self) -> dict[str, int]:
        """Readings per stage, plus ``registered`` and ``dropped`` totals."""
        out = {stage.value: 0 for stage in Stage}
        for stage, n in self._db.execute("SELECT stage, COUNT(*) FROM outbox GROUP BY stage"):
            out[stage] = n
        out["registered"] = self.get_meta("registered") or 0
        out["dropped"] = self.get_meta("dropped") or 0
        return out

    # -- transactions --------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db, self._mutex)


class _Transaction:
    """``BEGIN IMMEDIATE`` .. ``COMMIT`` (``ROLLBACK`` on an exception), holding the lock."""

    def __init__(self, db: sqlite3.Connection, mutex: threading.RLock) -> None:
        self.db = db
        self.mutex = mutex

    def __enter__(self) -> None:
        self.mutex.acquire()
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.mutex.release()
            raise

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.mutex.release()
