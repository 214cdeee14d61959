"""The outbox store: parked rows, retry and drop, read-only and shared access, a full disk."""

from __future__ import annotations

import errno
import json
import sqlite3

import pytest

from iota_publisher.errors import StoreError, StoreFullError, TransientError
from iota_publisher.store import WAITING_STAGES, Stage, Store, StoreLockedError


def _prepared(store: Store, time_ms: int = 1) -> int:
    row_id = store.enqueue(time_ms, "{}")
    store.prepare(
        row_id,
        {"seed": "S", "start": row_id},
        root="R" * 81,
        side_key="K" * 81,
        address="A" * 81,
        payload="P",
        bundle=["B"],
    )
    return row_id


def _attached(store: Store, time_ms: int = 1) -> int:
    row_id = _prepared(store, time_ms)
    store.save_attached(row_id, ["T"], "TAIL")
    return row_id


class TestParked:
    def test_park_skips_the_row_and_keeps_its_stage_and_error(self, tmp_path):
        with Store(tmp_path / "s") as store:
            first = _attached(store, 1)
            second = store.enqueue(2, "{}")
            row = store.park(first, Stage.ATTACHED, "HTTP 400: invalid transaction")
            assert (row.stage, row.parked_from, row.last_error) == (
                Stage.PARKED,
                Stage.ATTACHED,
                "HTTP 400: invalid transaction",
            )
            assert row.attached == ["T"]  # nothing of its progress is lost
            assert store.head().id == second
            assert [r.id for r in store.parked()] == [first]
            assert [r.id for r in store.waiting()] == [second]
            stats = store.stats()
            assert stats["parked"] == 1 and stats["queued"] == 1
            assert Stage.PARKED not in WAITING_STAGES

    def test_park_checks_the_stage(self, tmp_path):
        with Store(tmp_path / "s") as store:
            row_id = store.enqueue(1, "{}")
            with pytest.raises(StoreError, match="not at stage 'stored'"):
                store.park(row_id, Stage.STORED, "x")
            store.park(row_id, Stage.QUEUED, "x")
            with pytest.raises(StoreError, match="parked already"):
                store.park(row_id, Stage.PARKED, "x")

    def test_retry_puts_rows_back_where_they_were(self, tmp_path):
        with Store(tmp_path / "s") as store:
            a = _attached(store, 1)
            store.reattach(a, "refused")
            store.save_attached(a, ["T2"], "TAIL2")
            b = store.enqueue(2, "{}")
            store.park(a, Stage.ATTACHED, "refused")
            store.park(b, Stage.QUEUED, "bad")
            [back] = store.retry(a)
            assert (back.stage, back.parked_from, back.reattached) == (Stage.ATTACHED, None, 0)
            assert back.attached == ["T2"] and back.last_error == "refused"
            with pytest.raises(StoreError, match="not parked"):
                store.retry(a)
            assert [r.stage for r in store.retry()] == [Stage.QUEUED]
            assert store.retry() == [] and store.stats()["parked"] == 0
            assert store.head().id == a

    def test_drop(self, tmp_path):
        with Store(tmp_path / "s") as store:
            a = _attached(store, 1)
            b = store.enqueue(2, "{}")
            store.park(a, Stage.ATTACHED, "refused")
            with pytest.raises(StoreError, match="not parked"):
                store.drop(b)
            assert store.drop(a).stage is Stage.PARKED
            assert store.get(a) is None
            assert store.drop(b, waiting=True).stage is Stage.QUEUED
            with pytest.raises(StoreError, match="no outbox row"):
                store.drop(b)
            assert store.stats()["dropped"] == 2

    def test_reattach_goes_back_to_prepared_and_counts(self, tmp_path):
        with Store(tmp_path / "s") as store:
            row_id = _attached(store)
            row = store.reattach(row_id, "HTTP 400")
            assert (row.stage, row.attached, row.tail, row.reattached, row.attempts) == (
                Stage.PREPARED,
                None,
                None,
                1,
                1,
            )
            assert (row.root, row.payload, row.bundle) == ("R" * 81, "P", ["B"])
            with pytest.raises(StoreError, match="not at stage 'attached'"):
                store.reattach(row_id, "again")
            rebuilt = store.rebundle(row_id, ["B2"], meta={"stamp_ms": 5})
            assert rebuilt.bundle == ["B2"] and rebuilt.payload == "P"
            assert store.get_meta("stamp_ms") == 5

    def test_last_published_and_first_root(self, tmp_path):
        with Store(tmp_path / "s", clock=lambda: 100.0) as store:
            row_id = _attached(store, 7)
            store.mark_stored(row_id)
            store.mark_registered(row_id)
            assert store.get_meta("last_published") == {
                "id": row_id,
                "time_ms": 7,
                "root": "R" * 81,
                "registered_ms": 100_000,
            }
            assert store.get_meta("first_root") == "R" * 81


class TestAccessModes:
    def test_read_only_beside_the_daemon(self, tmp_path):
        state = tmp_path / "s"
        with Store(state) as daemon:
            row_id = daemon.enqueue(1, "{}")
            with Store(state, readonly=True) as reader:
                assert reader.head().id == row_id and reader.stats()["queued"] == 1
                with pytest.raises(StoreError, match="read-only"):
                    reader.set_meta("x", 1)
                for write in (
                    lambda: reader.enqueue(2, "{}"),
                    reader.retry,
                    lambda: reader.drop(row_id),
                ):
                    with pytest.raises(StoreError):
                        write()
            daemon.enqueue(2, "{}")  # the daemon is not held up
            assert daemon.stats()["queued"] == 2

    def test_read_only_needs_a_database(self, tmp_path):
        with pytest.raises(StoreError, match="no state database"):
            Store(tmp_path / "none", readonly=True)
        assert not (tmp_path / "none").exists()

    def test_shared_acts_on_parked_rows_only(self, tmp_path):
        state = tmp_path / "s"
        with Store(state) as daemon:
            parked = _attached(daemon, 1)
            waiting = daemon.enqueue(2, "{}")
            daemon.park(parked, Stage.ATTACHED, "refused")
            with pytest.raises(StoreLockedError):
                Store(state)
            with Store(state, exclusive=False) as tool:
                with pytest.raises(StoreError, match="needs the state directory's lock"):
                    tool.drop(waiting, waiting=True)
                with pytest.raises(StoreError, match="lock"):
                    tool.enqueue(3, "{}")
                with pytest.raises(StoreError, match="lock"):
                    tool.save_channel({})
                [back] = tool.retry()
                assert back.id == parked
            assert daemon.head().id == parked and daemon.head().stage is Stage.ATTACHED
            assert daemon.get(waiting) is not None

    def test_an_older_database_gains_the_new_columns(self, tmp_path):
        state = tmp_path / "s"
        state.mkdir()
        db = sqlite3.connect(state / "publisher.db")
        db.executescript(
            """
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE outbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL,
                data TEXT NOT NULL, stage TEXT NOT NULL DEFAULT 'queued', root TEXT,
                side_key TEXT, address TEXT, payload TEXT, bundle TEXT, attached TEXT,
                tail TEXT, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
                created_ms INTEGER NOT NULL
            );
            INSERT INTO outbox (time_ms, data, created_ms) VALUES (5, '{}', 1);
            """
        )
        db.commit()
        db.close()
        with Store(state, readonly=True) as reader:  # read as it is, unchanged
            row = reader.head()
            assert (row.time_ms, row.parked_from, row.reattached) == (5, None, 0)
        with Store(state) as store:
            store.park(row.id, Stage.QUEUED, "x")
            assert store.parked()[0].parked_from is Stage.QUEUED


class _FullDisk:
    """A connection that fails the next matching statements as a full disk would."""

    def __init__(self, conn, error):
        self._conn = conn
        self.error = error
        self.armed = False

    def execute(self, sql, *args):
        if self.armed and sql.strip().upper().startswith(("COMMIT", "INSERT", "UPDATE")):
            raise self.error
        return self._conn.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._conn, name)


class TestFullDisk:
    def test_database_size_limit_is_a_full_disk(self, tmp_path):
        with Store(tmp_path / "s") as store:
            store.enqueue(1, "{}")
            pages = store._db.execute("PRAGMA page_count").fetchone()[0]
            store._db.execute(f"PRAGMA max_page_count = {pages}")
            big = json.dumps({"x": "A" * 4000})
            with pytest.raises(StoreFullError, match="disk is full") as info:
                for i in range(50):
                    store.enqueue(2 + i, big)
            assert isinstance(info.value, TransientError)
            assert info.value.__cause__ is None and info.value.__suppress_context__
            kept = store.stats()["queued"]
            store._db.execute("PRAGMA max_page_count = 1073741823")  # space again
            store.enqueue(99, big)
            assert store.stats()["queued"] == kept + 1

    @pytest.mark.parametrize(
        "error",
        [
            sqlite3.OperationalError("database or disk is full"),
            OSError(errno.ENOSPC, "No space left on device"),
        ],
        ids=["sqlite", "enospc"],
    )
    def test_a_failed_commit_loses_nothing(self, tmp_path, error):
        with Store(tmp_path / "s") as store:
            row_id = _prepared(store)
            channel = store.load_channel()
            wrapper = _FullDisk(store._db, error)
            store._db = wrapper
            wrapper.armed = True
            with pytest.raises(StoreFullError):
                store.save_attached(row_id, ["T"], "TAIL")
            with pytest.raises(StoreFullError):
                store.enqueue(2, "{}")
            wrapper.armed = False
            row = store.get(row_id)
            assert row.stage is Stage.PREPARED and row.attached is None
            assert store.load_channel() == channel
            assert not store._db.in_transaction  # nothing left open
            assert store.save_attached(row_id, ["T"], "TAIL").stage is Stage.ATTACHED
            store._db = wrapper._conn

    def test_other_sqlite_failures_are_store_errors(self, tmp_path):
        with Store(tmp_path / "s") as store:
            store._db = _FullDisk(store._db, sqlite3.DatabaseError("file is not a database"))
            store._db.armed = True
            with pytest.raises(StoreError, match="not a database") as info:
                store.enqueue(1, "{}")
            assert not isinstance(info.value, TransientError)
            store._db = store._db._conn
