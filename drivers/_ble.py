"""Bluetooth LE plumbing for drivers built on bleak (the Thingy:52).

Three parts, none of them about one device:

* bleak is asyncio, the agent is not: a driver runs **one** private event
  loop in a daemon thread for its lifetime and submits coroutines to it
  (:class:`LoopThread`; calling ``asyncio.run`` per read breaks BlueZ's D-Bus
  connection);
* connecting is retried with exponential backoff (:func:`connect_with_retries`);
  on BlueZ a reconnect scans first, as connecting by address without a recent
  scan fails;
* bleak glue: :func:`require_bleak` (a :class:`ConfigError` with the install
  hint when bleak is missing), :func:`bleak_find_device` (scan by address or
  advertised name), :func:`client_factory`, :func:`is_connected`, and the
  adapter keyword that changed in bleak 3.

bleak itself is imported only inside these functions, never at import.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from ..errors import ConfigError
from ._base import DriverError, SensorUnavailableError

__all__ = [
    "INSTALL_HINT",
    "LoopThread",
    "bleak_find_device",
    "client_factory",
    "connect_with_retries",
    "is_connected",
    "no_scan",
    "pause",
    "require_bleak",
]

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install iota-publisher[ble]"

T = TypeVar("T")


# ---------------------------------------------------------------- the loop thread


class LoopThread:
    """One asyncio event loop in a daemon thread, started on first use.

    :meth:`run` hands a coroutine to the loop from synchronous code and waits
    for its result; :meth:`stop` stops the loop, cancels what still runs on it
    and joins the thread. The thread is named ``name`` (``thingy52-ble-loop``).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        """Whether the thread was started (and not stopped since)."""
        return self._loop is not None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop, starting its thread on first use."""
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=_run_loop, args=(loop,), name=self.name, daemon=True)
            thread.start()
            self._loop, self._thread = loop, thread
        return self._loop

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and return its result (or raise its exception).

        After ``timeout`` seconds the coroutine is cancelled and
        :class:`TimeoutError` raised, so a hung BlueZ call cannot block the
        caller forever.
        """
        future = asyncio.run_coroutine_threadsafe(coro, self.loop())
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            if future.done() and not future.cancelled():
                raise  # the coroutine's own timeout
            future.cancel()
            raise TimeoutError(f"{self.name}: no result within {timeout:g} s") from None

    def stop(self, timeout: float | None = None) -> None:
        """Stop the loop and wait up to ``timeout`` seconds for the thread (idempotent)."""
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            return
        if not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=timeout)


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    """The loop thread: run until stopped, then cancel leftovers and close."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        try:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


# ---------------------------------------------------------------- reconnecting


async def pause(sleep: Callable[[float], Any], seconds: float) -> None:
    """Call ``sleep(seconds)``, a sync or async function (a test seam or :func:`asyncio.sleep`)."""
    result = sleep(seconds)
    if inspect.isawaitable(result):
        await result


async def connect_with_retries(
    connect_once: Callable[[], Awaitable[None]],
    reset: Callable[[], Awaitable[None]],
    *,
    driver: str,
    target: str,
    attempts: int,
    backoff_base: float,
    backoff_max: float,
    sleep: Callable[[float], Any],
) -> None:
    """Call ``connect_once`` until it succeeds, at most ``attempts`` times.

    Between tries, ``reset`` drops what the failed try left behind and the
    pause is ``backoff_base * 2**n`` seconds (at most ``backoff_max``). A
    :class:`SensorUnavailableError` or a bleak/BlueZ error is retried; any
    other :class:`DriverError` is permanent and raised at once. After the last
    try a :class:`SensorUnavailableError` names ``target`` and the last error.
    """
    last: BaseException | None = None
    for attempt in range(attempts):
        if attempt:
            delay = min(backoff_max, backoff_base * 2 ** (attempt - 1))
            log.info("%s: connect retry %d in %.1f s", driver, attempt, delay)
            await pause(sleep, delay)
        try:
            await connect_once()
            return
        except SensorUnavailableError as exc:
            last = exc
        except DriverError:
            await reset()
            raise
        except Exception as exc:  # noqa: BLE001 - bleak/BlueZ errors, one boundary
            last = exc
        log.warning(
            "%s: connecting to %s failed (try %d of %d): %s",
            driver,
            target,
            attempt + 1,
            attempts,
            last,
        )
        await reset()
    hint = ""
    if isinstance(last, OSError):  # e.g. no D-Bus socket: BlueZ is not running
        hint = " (is Bluetooth on and the bluetooth service running?)"
    elif "adapter" in str(last).lower():  # bleak: no (such) adapter
        hint = (
            " (no Bluetooth adapter: check `bluetoothctl list`, `rfkill unblock bluetooth`, "
            "and the 'adapter' option)"
        )
    raise SensorUnavailableError(
        f"{driver}: could not connect to {target} after {attempts} tries: {last}{hint}",
        driver=driver,
    ) from last


# ---------------------------------------------------------------- bleak glue


def require_bleak(driver: str) -> Any:
    """The bleak module, or a :class:`ConfigError` saying how to install it."""
    try:
        import bleak
    except ImportError as exc:
        raise ConfigError(
            f"driver {driver!r} needs the bleak package: {INSTALL_HINT}", field="driver"
        ) from exc
    return bleak


def _bleak_major() -> int:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return int(version("bleak").split(".")[0])
    except (PackageNotFoundError, ValueError):  # pragma: no cover - odd installs
        return 0


def _adapter_kwargs(adapter: str | None) -> dict[str, Any]:
    """bleak >= 3 takes ``bluez={"adapter": ...}``; older versions ``adapter=``."""
    if adapter is None:
        return {}
    if _bleak_major() >= 3:
        return {"bluez": {"adapter": adapter}}
    return {"adapter": adapter}


async def bleak_find_device(
    *, address: str | None, name: str | None, adapter: str | None, timeout: float
) -> Any:
    """Scan with bleak for a device by address or advertised name (``None``: not seen)."""
    from bleak import BleakScanner

    kwargs = _adapter_kwargs(adapter)
    if address is not None:
        return await BleakScanner.find_device_by_address(address, timeout=timeout, **kwargs)

    def matches(device: Any, advertisement: Any) -> bool:
        return (getattr(advertisement, "local_name", None) or device.name) == name

    return await BleakScanner.find_device_by_filter(matches, timeout=timeout, **kwargs)


async def no_scan(*, address: str | None, name: str | None, **_: Any) -> str | None:
    """The scanner used with a client seam and no scanner seam: the target itself."""
    return address or name


def client_factory(adapter: str | None, connect_timeout: float) -> Callable[..., Any]:
    """``BleakClient`` with the connect timeout and adapter bound."""
    from bleak import BleakClient

    return functools.partial(BleakClient, timeout=connect_timeout, **_adapter_kwargs(adapter))


def is_connected(client: Any) -> bool:
    """``client.is_connected``, false when asking fails."""
    try:
        return bool(client.is_connected)
    except Exception:  # a backend that lost its D-Bus connection  # noqa: BLE001
        return False
