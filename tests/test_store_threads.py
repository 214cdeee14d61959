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


def test_a_publisher_collects_in_one_thread_and_sends_in_another(tmp_path):
    from iota_publisher.config import Config
    from iota_publisher.publisher import Publisher
    from iota_publisher.testing import FakeMarketplace, FakeNode

    config = Config.from_mapping(
        {
            "sensorId": "sensor-1",
            "secretKey": "SECRET",
            "debug": False,
            "mwm": 1,
            "security": 1,
            "provider": "http://127.0.0.1:9",
            "endpoint": "http://127.0.0.1:9/newData",
            "stateDir": str(tmp_path / "state"),
        }
    )
    node, market = FakeNode(mwm=1), FakeMarketplace()
    readings = 30
    errors: list[BaseException] = []
    done = threading.Event()
    start = threading.Barrier(2)
    with Publisher(config, node=node, marketplace=market) as pub:  # the store opens lazily

        def collector() -> None:
            try:
                start.wait()
                for i in range(readings):
                    pub.enqueue({"n": i}, time=1_000 + i)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                done.set()

        def sender() -> None:
            try:
                start.wait()
                while True:
                    finished = done.is_set()
                    if not pub.drain() and finished:
                        return
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=collector), threading.Thread(target=sender)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
        assert errors == []
        assert pub.store.stats()["registered"] == readings
    times = [r["packet"]["time"] for r in market.registered]
    assert times == [1_000 + i for i in range(readings)]  # each once, in order
