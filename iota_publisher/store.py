"""Durable state: the MAM channel and an outbox of readings, in one SQLite file.

Every reading accepted for publishing becomes an outbox row, and rows move
through stages strictly in order of arrival::

    queued -> prepared -> attached -> stored -> (registered: row deleted)
                  ^           |
                  +-----------+  re-attach: the node refused the attached trytes

    any waiting stage -> parked -> (retry) back to the stage it was parked from

* ``prepared``: the MAM message was created. The channel's advance and the
  message (payload, root, side key, bundle) are committed in one transaction
  *before* anything is sent, so a one-time key is never signed twice and a
  restart re-sends the same message instead of creating another.
* ``attached``: proof of work is done; the attached trytes are kept, so a
  restart re-sends them byte for byte. If the node refuses them as invalid
  (:meth:`Store.reattach`), the row goes back to ``prepared`` with the same
  message (the bundle may be rebuilt around the same address and payload),
  for new tips and new proof of work; ``reattached`` counts how often.
* ``stored``: the node has the transactions; only ``newData`` is left.
* ``parked``: refused for good (:meth:`Store.park`). The row keeps the stage
  it was parked from (``parked_from``) and the error (``last_error``);
  :meth:`Store.head` skips it, so later readings keep flowing, until
  :meth:`Store.retry` puts it back or :meth:`Store.drop` removes it.

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

Two more ways to open the same file, for tools that run beside the daemon
(``iota-publish status``): ``Store(dir, readonly=True)`` reads without the
lock and without writing, and ``Store(dir, exclusive=False)`` writes without
the lock but only acts on parked rows (:meth:`~Store.retry`,
:meth:`~Store.drop` of a parked row): rows the daemon never touches, changed
in one transaction that checks their stage.

A failing database is a :class:`StoreError`, never a raw ``sqlite3`` error: a
full disk is a :class:`StoreFullError` and a database held too long by
another connection a :class:`StoreBusyError` (both transient: nothing of the
step was written, and it succeeds once there is space or the other is done).
"""

from __future__ import annotations

import errno
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

from .errors import StoreBusyError, StoreError, StoreFullError, StoreLockedError

__all__ = [
    "WAITING_STAGES",
    "OutboxRow",
    "Stage",
    "Store",
    "StoreBusyError",
    "StoreError",
    "StoreFullError",
    "StoreLockedError",
]

log = logging.getLogger(__name__)

DB_NAME = "publisher.db"
LOCK_NAME = "publisher.lock"
ERROR_LIMIT = 500  # characters of an error message kept with a row


class Stage(str, Enum):
    """Where an outbox row is. Members are the strings the database holds."""

    QUEUED = "queued"
    PREPARED = "prepared"
    ATTACHED = "attached"
    STORED = "stored"
    PARKED = "parked"

    def __str__(self) -> str:
        return self.value


STAGES = tuple(stage.value for stage in Stage)
#: the stages of readings still on their way (everything but ``parked``)
WAITING_STAGES = (Stage.QUEUED, Stage.PREPARED, Stage.ATTACHED, Stage.STORED)

# UPDATE ... RETURNING hands back the changed row in the same statement
_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms     INTEGER NOT NULL,
    data        TEXT NOT NULL,
    stage       TEXT NOT NULL DEFAULT '{Stage.QUEUED.value}',
    root        TEXT,
    side_key    TEXT,
    address     TEXT,
    payload     TEXT,
    bundle      TEXT,
    attached    TEXT,
    tail        TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_ms  INTEGER NOT NULL,
    parked_from TEXT,
    reattached  INTEGER NOT NULL DEFAULT 0
);
"""
# columns added after the first release: (name, declaration) for ALTER TABLE
_ADDED_COLUMNS = (("parked_from", "TEXT"), ("reattached", "INTEGER NOT NULL DEFAULT 0"))


@dataclass(frozen=True)
class OutboxRow:
    """One reading in the outbox, as its database row is (``created_ms``: when accepted).

    ``parked_from`` is the stage a ``parked`` row was parked from (else
    ``None``), ``reattached`` how often the node's refusal sent it back to
    ``prepared``.
    """

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
    parked_from: Stage | None = None
    reattached: int = 0

    @classmethod
    def from_db(cls, row: Mapping[str, Any]) -> OutboxRow:
        """Build from a database row, by column name."""
        values = {name: row[name] for name in _ROW_FIELDS}
        values["stage"] = Stage(values["stage"])
        if values["parked_from"] is not None:
            values["parked_from"] = Stage(values["parked_from"])
        values["reattached"] = values["reattached"] or 0
        for name in ("bundle", "attached"):
            values[name] = json.loads(values[name]) if values[name] else None
        return cls(**values)


_ROW_FIELDS = tuple(f.name for f in fields(OutboxRow))
_COLUMNS = ", ".join(_ROW_FIELDS)


def _is_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF == 13  # SQLITE_FULL
    return "database or disk is full" in str(exc)


def _is_busy(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED
    return "database is locked" in str(exc)


def _store_error(exc: BaseException, what: str) -> StoreError:
    """The :class:`StoreError` for a failure of SQLite or the file system."""
    if _is_full(exc):
        return StoreFullError(
            f"the state database cannot be written, the disk is full ({what}); "
            "nothing of this step was saved, it is retried once there is space"
        )
    if _is_busy(exc):
        return StoreBusyError(f"the state database is busy ({what}): {exc}")
    return StoreError(f"the state database failed ({what}): {exc}")


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    """Run a Store method under the store's lock (one connection, many threads);
    SQLite and file-system failures become :class:`StoreError`."""

    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        with self._mutex:
            try:
                return method(self, *args, **kwargs)
            except (sqlite3.Error, OSError) as exc:
                raise _store_error(exc, method.__name__) from None

    return wrapper


class Store:
    """The publisher's SQLite state in ``state_dir``.

    ``clock`` (seconds since the epoch) stamps every time the store writes.
    Safe to share between threads of one process: one connection, and every
    method (each transaction) holds a re-entrant lock while it runs.

    ``readonly=True`` opens an existing database for reading only, without
    the lock (beside a running daemon); ``exclusive=False`` writes without the
    lock, for the parked-row methods only (anything else raises
    :class:`StoreError`).
    """

    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        *,
        outbox_limit: int = 10_000,
        clock: Callable[[], float] = time.time,
        readonly: bool = False,
        exclusive: bool = True,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.outbox_limit = outbox_limit
        self.readonly = readonly
        self.exclusive = exclusive and not readonly
        self._clock = clock
        self._mutex = threading.RLock()
        self._lock_fd: int | None = None
        db = self.state_dir / DB_NAME
        if readonly:
            self._db = self._open_readonly(db)
            return
        try:
            self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create state directory {self.state_dir}: {exc}") from exc
        if self.exclusive:
            self._lock_fd = self._lock()
        try:
            os.close(os.open(db, os.O_CREAT | os.O_RDWR, 0o600))
            os.chmod(db, 0o600)
            self._db = sqlite3.connect(
                db, isolation_level=None, timeout=30, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._migrate()
            self._columns = _COLUMNS
        except (OSError, sqlite3.Error) as exc:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
            error = _store_error(exc, "open")
            raise type(error)(f"cannot open state database {db}: {exc}") from None

    def _open_readonly(self, db: Path) -> sqlite3.Connection:
        if not db.is_file():
            raise StoreError(f"no state database at {db} (nothing was published from here yet)")
        try:
            conn = sqlite3.connect(
                f"{db.resolve().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                timeout=30,
                check_same_thread=False,
            )
            names = {row[1] for row in conn.execute("PRAGMA table_info(outbox)")}
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read state database {db}: {exc}") from None
        if not names:
            conn.close()
            raise StoreError(f"{db} holds no outbox (not an iota-publisher state database)")
        # a database an older version wrote lacks the newer columns: read them as defaults
        defaults = {"parked_from": "NULL", "reattached": "0"}
        self._columns = ", ".join(
            name if name in names else f"{defaults[name]} AS {name}" for name in _ROW_FIELDS
        )
        return conn

    def _migrate(self) -> None:
        names = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
        for name, declaration in _ADDED_COLUMNS:
            if name not in names:
                self._db.execute(f"ALTER TABLE outbox ADD COLUMN {name} {declaration}")

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
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _need_exclusive(self, what: str) -> None:
        if not self.exclusive:
            raise StoreError(
                f"{what} needs the state directory's lock "
                f"({self.state_dir} was opened {'read-only' if self.readonly else 'shared'})"
            )

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
        self._need_exclusive("saving the channel")
        self.set_meta("channel", state)

    # -- outbox --------------------------------------------------------------

    @_locked
    def enqueue(self, time_ms: int, data_json: str) -> int:
        """Accept a reading; returns its outbox id. Drops the oldest queued past the limit."""
        self._need_exclusive("enqueuing")
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
        rows = self._rows(f"SELECT {self._columns} FROM outbox {where} LIMIT 1", params)
        return rows[0] if rows else None

    def head(self) -> OutboxRow | None:
        """The oldest reading still waiting (not registered, not parked)."""
        return self._select("WHERE stage != ? ORDER BY id", (Stage.PARKED.value,))

    def get(self, row_id: int) -> OutboxRow | None:
        return self._select("WHERE id = ?", (row_id,))

    def waiting(self, limit: int | None = None) -> list[OutboxRow]:
        """Readings still waiting, oldest first (at most ``limit``)."""
        return self._rows(
            f"SELECT {self._columns} FROM outbox WHERE stage != ? ORDER BY id LIMIT ?",
            (Stage.PARKED.value, -1 if limit is None else limit),
        )

    def parked(self) -> list[OutboxRow]:
        """Parked readings, oldest first."""
        return self._rows(
            f"SELECT {self._columns} FROM outbox WHERE stage = ? ORDER BY id",
            (Stage.PARKED.value,),
        )

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
        meta: Mapping[str, Any] | None = None,
    ) -> OutboxRow:
        """Commit the channel's advance together with the message it signed
        (and ``meta`` keys, in the same transaction).

        Returns the row, now ``prepared``.
        """
        self._need_exclusive("preparing a message")
        with self._transaction():
            self._set_meta("channel", channel_state)
            if self.get_meta("first_root") is None:
                self._set_meta("first_root", root)
            for key, value in (meta or {}).items():
                self._set_meta(key, value)
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
    def rebundle(
        self, row_id: int, bundle: list[str], meta: Mapping[str, Any] | None = None
    ) -> OutboxRow:
        """Replace a ``prepared`` row's bundle (the same address and payload in a new
        essence, e.g. a new timestamp); returns the row, still ``prepared``."""
        self._need_exclusive("rebuilding a bundle")
        with self._transaction():
            for key, value in (meta or {}).items():
                self._set_meta(key, value)
            return self._update(row_id, Stage.PREPARED, bundle=json.dumps(bundle))

    @_locked
    def save_attached(
        self,
        row_id: int,
        attached: list[str],
        tail: str,
        meta: Mapping[str, Any] | None = None,
    ) -> OutboxRow:
        """Keep the attached trytes (and ``meta`` keys); returns the row, now ``attached``."""
        self._need_exclusive("saving attached transactions")
        with self._transaction():
            for key, value in (meta or {}).items():
                self._set_meta(key, value)
            return self._update(
                row_id,
                Stage.PREPARED,
                stage=Stage.ATTACHED,
                attached=json.dumps(attached),
                tail=tail,
            )

    @_locked
    def reattach(self, row_id: int, error: str) -> OutboxRow:
        """The node refused an ``attached`` row's transactions as invalid: forget them
        and go back to ``prepared`` (the same message, for new tips and proof of
        work). Counts the error and the re-attach; returns the row."""
        self._need_exclusive("re-attaching")
        with self._transaction():
            self._db.execute(
                "UPDATE outbox SET attempts = attempts + 1, reattached = reattached + 1, "
                "last_error = ? WHERE id = ?",
                (error[:ERROR_LIMIT], row_id),
            )
            return self._update(
                row_id, Stage.ATTACHED, stage=Stage.PREPARED, attached=None, tail=None
            )

    @_locked
    def mark_stored(self, row_id: int) -> OutboxRow:
        """The node has the transactions; returns the row, now ``stored``."""
        self._need_exclusive("marking stored")
        with self._transaction():
            return self._update(row_id, Stage.ATTACHED, stage=Stage.STORED)

    @_locked
    def mark_registered(self, row_id: int) -> None:
        """newData succeeded: the reading is done (its row is removed, and
        ``last_published`` in the meta data says what and when)."""
        self._need_exclusive("marking registered")
        with self._transaction():
            params = (row_id, Stage.STORED.value)
            delete = "DELETE FROM outbox WHERE id = ? AND stage = ?"
            if _RETURNING:
                row = self._db.execute(f"{delete} RETURNING time_ms, root", params).fetchone()
            else:
                row = self._db.execute(
                    "SELECT time_ms, root FROM outbox WHERE id = ? AND stage = ?", params
                ).fetchone()
                self._db.execute(delete, params)
            if row is None:
                raise StoreError(f"outbox row {row_id} is not at stage {Stage.STORED.value!r}")
            self._bump("registered", 1)
            self._set_meta(
                "last_published",
                {
                    "id": row_id,
                    "time_ms": row[0],
                    "root": row[1],
                    "registered_ms": int(self._clock() * 1000),
                },
            )

    @_locked
    def record_error(self, row_id: int, message: str) -> None:
        self._need_exclusive("recording an error")
        with self._transaction():
            self._db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                (message[:ERROR_LIMIT], row_id),
            )

    # -- parked rows -----------------------------------------------------------

    @_locked
    def park(self, row_id: int, stage: Stage, error: str) -> OutboxRow:
        """Refused for good at ``stage``: park the row with ``error`` (its text must
        hold no secret). :meth:`head` skips it from now on; returns the row."""
        self._need_exclusive("parking")
        if stage is Stage.PARKED:
            raise StoreError(f"outbox row {row_id} is parked already")
        with self._transaction():
            self._db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                (error[:ERROR_LIMIT], row_id),
            )
            row = self._update(row_id, stage, stage=Stage.PARKED, parked_from=stage.value)
            self._bump("parked_total", 1)
        log.warning(
            "reading %d refused for good at stage %s and parked: %s "
            "(fix the cause, then `iota-publish retry %d`)",
            row_id,
            stage.value,
            error,
            row_id,
        )
        return row

    @_locked
    def retry(self, row_id: int | None = None) -> list[OutboxRow]:
        """Put parked rows (``row_id``, or all of them) back at the stage they were
        parked from, their re-attach count reset; returns them as they now are.
        A ``row_id`` that is not parked raises :class:`StoreError`."""
        if self.readonly:
            self._need_exclusive("retrying")
        with self._transaction():
            rows = (
                self.parked()
                if row_id is None
                else [r for r in [self.get(row_id)] if r is not None and r.stage is Stage.PARKED]
            )
            if row_id is not None and not rows:
                raise StoreError(f"outbox row {row_id} is not parked")
            out = []
            for row in rows:
                back = row.parked_from or Stage.QUEUED
                out.append(
                    self._update(row.id, Stage.PARKED, stage=back, parked_from=None, reattached=0)
                )
        for row in out:
            log.info("reading %d back at stage %s", row.id, row.stage.value)
        return out

    @_locked
    def drop(self, row_id: int, *, waiting: bool = False) -> OutboxRow:
        """Remove a parked row (or, with ``waiting=True``, a waiting one: that needs
        the lock), counted as ``dropped``; returns the row as it was.

        Dropping a row that was prepared leaves a gap in the channel: readers
        that follow the channel's next roots stop before it.
        """
        if self.readonly:
            self._need_exclusive("dropping")
        with self._transaction():
            row = self.get(row_id)
            if row is None:
                raise StoreError(f"no outbox row {row_id}")
            if row.stage is not Stage.PARKED:
                if not waiting:
                    raise StoreError(f"outbox row {row_id} is not parked (it is {row.stage.value})")
                self._need_exclusive("dropping a waiting reading")
            self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
            self._bump("dropped", 1)
        log.warning("reading %d dropped (it was %s)", row_id, row.stage.value)
        return row

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
        """Readings per stage (``parked`` included), plus ``registered`` and ``dropped``
        totals."""
        out = {stage.value: 0 for stage in Stage}
        for stage, n in self._db.execute("SELECT stage, COUNT(*) FROM outbox GROUP BY stage"):
            out[stage] = n
        out["registered"] = self.get_meta("registered") or 0
        out["dropped"] = self.get_meta("dropped") or 0
        return out

    # -- transactions --------------------------------------------------------

    def _transaction(self) -> _Transaction:
        if self.readonly:
            raise StoreError(f"{self.state_dir} was opened read-only")
        return _Transaction(self._db, self._mutex)


class _Transaction:
    """``BEGIN IMMEDIATE`` .. ``COMMIT`` (``ROLLBACK`` on an exception), holding the lock.

    Re-entrant: a transaction begun inside another joins it. A ``COMMIT`` that
    fails (a full disk) is rolled back, so nothing of the step stays.
    """

    def __init__(self, db: sqlite3.Connection, mutex: threading.RLock) -> None:
        self.db = db
        self.mutex = mutex
        self.outer = False

    def __enter__(self) -> None:
        self.mutex.acquire()
        try:
            self.outer = not self.db.in_transaction
            if self.outer:
                self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.mutex.release()
            raise

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            if not self.outer:
                return
            if exc_type is None:
                try:
                    self.db.execute("COMMIT")
                    return
                except BaseException:
                    _rollback(self.db)
                    raise
            _rollback(self.db)
        finally:
            self.mutex.release()


def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error as exc:  # the transaction is gone already (SQLite rolled it back)
            log.debug("rollback failed: %s", exc)
