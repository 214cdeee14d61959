"""One Store shared by a collecting thread and a sending thread."""

from __future__ import annotations

import threading

from iota_publisher.store import Stage, Store

READINGS = 400


def _drain_one(store: Store) -> int | None:
    """Move the head row through every stage and register it; its id, or None if empty."""
    row = store.head()
    if row is None:
        return None
    row = store.prepare(
        row.id,
        {"n": row.id},
        root="R" * 81,
        side_key=None,
        address="A" * 81,
        payload="P",
        bundle=["B"],
    )
    row = store.save_attached(row.id, ["T"], "TAIL")
    row = store.mark_stored(row.id)
    assert row.stage is Stage.STORED
    store.mark_registered(row.id)
    return row.id


def test_enqueue_and_drain_from_two_threads_lose_and_duplicate_nothing(tmp_path):
    with Store(tmp_path / "s") as store:
        enqueued: list[int] = []
        drained: list[int] = []
        errors: list[BaseException] = []
        done = threading.Event()

        def collector() -> None:
            try:
                for i in range(READINGS):
                    enqueued.append(store.enqueue(1_000 + i, f'{{"n":{i}}}'))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                done.set()

        def sender() -> None:
            try:
                while True:
                    finished = done.is_set()
                    row_id = _drain_one(store)
                    if row_id is not None:
                        drained.append(row_id)
                    elif finished:
                        return
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=collector), threading.Thread(target=sender)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
        assert errors == []
        assert len(enqueued) == READINGS
        assert drained == sorted(enqueued)  # each once, in order of arrival
        assert store.head() is None
        stats = store.stats()
        assert stats["registered"] == READINGS
        assert stats["dropped"] == 0
        assert stats[Stage.QUEUED.value] == 0


def test_many_threads_enqueue_concurrently(tmp_path):
    with Store(tmp_path / "s") as store:
        ids: list[int] = []
        lock = threading.Lock()

        def collector(k: int) -> None:
            for i in range(100):
                row_id = store.enqueue(k * 1000 + i, "{}")
                with lock:
                    ids.append(row_id)

        threads = [threading.Thread(target=collector, args=(k,)) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(ids) == len(set(ids)) == 400
        assert store.stats()[Stage.QUEUED.value] == 400
