"""The BLE plumbing under the Thingy:52 driver: loop thread, reconnecting (drivers/_ble.py)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from iota_publisher.drivers import DriverError, SensorUnavailableError
from iota_publisher.drivers._ble import LoopThread, connect_with_retries, is_connected, pause


def test_loop_thread_runs_coroutines_on_one_named_thread() -> None:
    runner = LoopThread("test-ble-loop")
    assert not runner.started

    async def where() -> tuple[str, asyncio.AbstractEventLoop]:
        return threading.current_thread().name, asyncio.get_running_loop()

    try:
        first = runner.run(where(), timeout=5)
        second = runner.run(where(), timeout=5)
        assert first == second and first[0] == "test-ble-loop"
        assert runner.started and runner.alive
    finally:
        runner.stop(timeout=5)
    assert not runner.started
    assert not any(t.name == "test-ble-loop" for t in threading.enumerate())
    runner.stop(timeout=5)  # idempotent


def test_loop_thread_passes_exceptions_and_times_out() -> None:
    runner = LoopThread("test-ble-loop")
    cancelled = threading.Event()

    async def fail() -> None:
        raise ValueError("from the loop")

    async def hang() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    try:
        with pytest.raises(ValueError, match="from the loop"):
            runner.run(fail(), timeout=5)
        with pytest.raises(TimeoutError, match="no result within 0.05 s"):
            runner.run(hang(), timeout=0.05)
        assert cancelled.wait(5)
    finally:
        runner.stop(timeout=5)


def test_pause_takes_sync_and_async_sleeps() -> None:
    seen: list[float] = []

    async def async_sleep(seconds: float) -> None:
        seen.append(-seconds)

    async def both() -> None:
        await pause(seen.append, 1.5)
        await pause(async_sleep, 2.0)

    asyncio.run(both())
    assert seen == [1.5, -2.0]


def _retry(connect, resets, sleeps, attempts=4):
    async def reset() -> None:
        resets.append(True)

    return asyncio.run(
        connect_with_retries(
            connect,
            reset,
            driver="thing",
            target="AA:BB",
            attempts=attempts,
            backoff_base=1.0,
            backoff_max=3.0,
            sleep=sleeps.append,
        )
    )


def test_connect_retries_with_bounded_backoff() -> None:
    tries: list[int] = []
    resets: list[bool] = []
    sleeps: list[float] = []

    async def connect() -> None:
        tries.append(1)
        if len(tries) < 4:
            raise RuntimeError("radio busy")

    _retry(connect, resets, sleeps)
    assert len(tries) == 4 and len(resets) == 3
    assert sleeps == [1.0, 2.0, 3.0]  # doubling, capped at backoff_max


def test_connect_gives_up_as_unavailable_naming_the_last_error() -> None:
    resets: list[bool] = []
    sleeps: list[float] = []

    async def connect() -> None:
        raise FileNotFoundError(2, "no D-Bus socket")

    with pytest.raises(SensorUnavailableError, match="after 2 tries") as info:
        _retry(connect, resets, sleeps, attempts=2)
    assert "bluetooth service running" in str(info.value)
    assert info.value.driver == "thing"
    assert isinstance(info.value.__cause__, FileNotFoundError)
    assert len(resets) == 2 and sleeps == [1.0]


def test_connect_stops_at_a_permanent_driver_error() -> None:
    resets: list[bool] = []
    sleeps: list[float] = []

    async def connect() -> None:
        raise DriverError("refused for good", driver="thing")

    with pytest.raises(DriverError, match="refused for good") as info:
        _retry(connect, resets, sleeps)
    assert not isinstance(info.value, SensorUnavailableError)
    assert resets == [True] and sleeps == []


def test_is_connected_is_false_when_asking_fails() -> None:
    class Broken:
        @property
        def is_connected(self) -> bool:
            raise OSError("D-Bus gone")

    class Up:
        is_connected = True

    assert is_connected(Up()) is True
    assert is_connected(Broken()) is False
