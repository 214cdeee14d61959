"""SQLite for the sandbox's services: one file each, WAL, ``0600``, a small connection pool.

Each HTTP request borrows a connection for its duration (so reads run in
parallel under WAL) and gives it back; writers serialise on SQLite's own
lock (``BEGIN IMMEDIATE``) and, where a write depends on what was read, on a
lock of the service's own. :meth:`Database.close` closes every connection.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import PublisherError

__all__ = ["Database", "SandboxError"]


class SandboxError(PublisherError):
    """The sandbox cannot start or use its data directory."""


class Database:
    """One SQLite file with ``schema`` applied; borrow connections with :meth:`connect`."""

    def __init__(self, path: str | os.PathLike[str], schema: str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._closed = False
        try:
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
            os.chmod(self.path, 0o600)
            conn = self._open()
            conn.executescript(schema)
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise SandboxError(f"cannot open {self.path}: {exc}") from exc
        self._idle.append(conn)

    def _open(self) -> sqlite3.Connection:
        # a connection is used by one thread at a time, but not always the same thread
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL keeps every committed write across a crash of the process (not of the machine);
        # a dev node trades the rest for speed
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection for this thread until the block ends."""
        with self._lock:
            if self._closed:
                raise SandboxError(f"{self.path} is closed")
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._open()
        try:
            yield conn
        finally:
            if conn.in_transaction:  # an exception left a write open
                conn.rollback()
            with self._lock:
                if self._closed:
                    conn.close()
                else:
                    self._idle.append(conn)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A connection inside ``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on error)."""
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.execute("COMMIT")

    def size(self) -> int:
        """Bytes on disk: the file and its write-ahead log."""
        total = 0
        for path in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                total += path.stat().st_size
            except OSError:
                pass
        return total

    def close(self) -> None:
        """Close the idle connections now and borrowed ones when they come back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
