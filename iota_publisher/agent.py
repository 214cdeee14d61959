"""The daemon: read sensors on a schedule, map readings to fields, publish through the outbox.

``iota-publish run --config config.json`` runs :class:`Agent`. Each window of
``interval`` seconds (aligned to the wall clock, so a 60 s interval reads at
the top of every minute) the agent reads the sensors that are due, maps the
readings to the device's fields and hands the packet to the publisher's
outbox, then drains the outbox. Collecting and sending are separate: when
the network is down readings keep going into the outbox and are sent later.

* A sensor that fails is reported and retried with backoff (capped at its
  interval); the others keep publishing.
* Transient network failures are retried with backoff capped at the
  interval; a permanent one (a wrong secret key) stops the agent with a
  message and a non-zero exit.
* After a clock jump, missed windows are skipped, not replayed.
* SIGTERM and SIGINT stop after the current step (nothing is lost: the
  outbox keeps unsent readings); SIGHUP reloads the config.
* Under systemd (``Type=notify``) it reports READY, STATUS lines and watchdog
  pings through ``$NOTIFY_SOCKET``.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ._exitcodes import EXIT_FAILURE, EXIT_OK
from .config import Config, SensorConfig, load_config
from .errors import ConfigError, PublisherError, TransientError
from .store import Stage

__all__ = ["Agent", "SystemdNotifier"]

log = logging.getLogger(__name__)


class SystemdNotifier:
    """sd_notify over the ``$NOTIFY_SOCKET`` datagram socket (silent without one)."""

    def __init__(self, address: str | None = None) -> None:
        self.address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        usec = os.environ.get("WATCHDOG_USEC")
        self.watchdog_interval = int(usec) / 2_000_000 if usec and usec.isdigit() else None

    def notify(self, **fields: str) -> None:
        if not self.address:
            return
        message = "\n".join(f"{k}={v}" for k, v in fields.items()).encode()
        address = self.address
        if address.startswith("@"):
            address = "\0" + address[1:]  # abstract namespace
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(address)
                sock.sendall(message)
        except OSError as exc:
            log.debug("sd_notify failed: %s", exc)


@dataclass
class _Sensor:
    config: SensorConfig
    driver: Any = None
    readings: dict[str, Any] = field(default_factory=dict)
    read_at: float = 0.0
    next_due: float = 0.0
    failures: int = 0
    exhausted: bool = False


class Agent:
    """Runs the read -> map -> publish loop for one config file."""

    def __init__(
        self,
        config_path: str | Path,
        *,
        publisher_factory: Callable[[Config], Any] | None = None,
        driver_factory: Callable[..., Any] | None = None,
        clock: Callable[[], float] = time.time,
        notifier: SystemdNotifier | None = None,
        out: TextIO | None = None,
    ) -> None:
        self.config_path = Path(config_path)
        self._publisher_factory = publisher_factory
        self._driver_factory = driver_factory
        self._clock = clock
        self._notifier = notifier or SystemdNotifier()
        self._out = out
        self._wake = threading.Event()
        self._stop = False
        self._reload = False
        self.published = 0
        self.config: Config = load_config(self.config_path)
        self._check(self.config)

    @staticmethod
    def _check(config: Config) -> None:
        if not config.sensors:
            raise ConfigError("the config lists no 'sensors' to read", field="sensors")
        if config.fields is None:
            raise ConfigError("the config has no 'fields' mapping", field="fields")

    # -- control ---------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to end after the current step (thread- and signal-safe)."""
        self._stop = True
        self._wake.set()

    def reload(self) -> None:
        self._reload = True
        self._wake.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.stop())
        signal.signal(signal.SIGINT, lambda *_: self.stop())
        signal.signal(signal.SIGHUP, lambda *_: self.reload())

    # -- the loop ----------------------------------------------------------------

    def run(self, *, once: bool = False, count: int | None = None) -> int:
        """Run until stopped (or one window with ``once``, or ``count`` publishes)."""
        sensors = self._open_sensors()
        publisher = self._make_publisher()
        self._notifier.notify(READY="1", STATUS="started")
        last_watchdog = 0.0
        backoff = 0.0
        try:
            next_window = self._next_window(self._clock(), first=True)
            while not self._stop:
                if self._reload:
                    self._reload = False
                    sensors, publisher = self._do_reload(sensors, publisher)
                    next_window = self._next_window(self._clock(), first=True)
                now = self._clock()
                ping = self._notifier.watchdog_interval
                if ping and now - last_watchdog >= ping:
                    self._notifier.notify(WATCHDOG="1")
                    last_watchdog = now
                if now < next_window:
                    self._sleep(min(next_window - now, ping or math.inf))
                    continue
                self._collect(sensors, publisher, now)
                next_window = self._next_window(self._clock())
                try:
                    self._drain(publisher)
                    backoff = 0.0
                except TransientError as exc:
                    backoff = min(self.config.interval, max(1.0, backoff * 2))
                    log.warning("sending failed (%s); readings wait in the outbox", exc)
                    next_window = min(next_window, self._clock() + backoff)
                if once or (count is not None and self.published >= count):
                    break
            return EXIT_OK
        except PublisherError as exc:
            log.error("stopping: %s", exc)
            print(f"iota-publish: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        finally:
            self._notifier.notify(STOPPING="1")
            self._close(sensors, publisher)

    def _next_window(self, now: float, first: bool = False) -> float:
        interval = self.config.interval
        if first:
            return now  # read at once on start, then on the aligned grid
        return (math.floor(now / interval) + 1) * interval

    def _sleep(self, seconds: float) -> None:
        self._wake.wait(max(0.0, seconds))
        self._wake.clear()

    def _open_sensors(self) -> list[_Sensor]:
        return [_Sensor(sc) for sc in self.config.sensors]

    def _make_publisher(self) -> Any:
        if self._publisher_factory is not None:
            return self._publisher_factory(self.config)
        from .publisher import Publisher

        return Publisher(self.config, out=self._out)

    def _driver(self, sensor: _Sensor) -> Any:
        if sensor.driver is None:
            factory = self._driver_factory
            if factory is None:
                from .drivers import create_driver as factory
            sensor.driver = factory(sensor.config.driver, sensor.config.options)
        return sensor.driver

    def _collect(self, sensors: list[_Sensor], publisher: Any, now: float) -> None:
        from .drivers import SourceExhausted

        for sensor in sensors:
            if sensor.exhausted or now < sensor.next_due:
                continue
            try:
                sensor.readings = self._driver(sensor).read()
                sensor.read_at = now
                sensor.failures = 0
                # due again at its next boundary on the wall-clock grid
                every = sensor.config.interval
                sensor.next_due = (math.floor(now / every) + 1) * every
            except ConfigError:
                raise
            except SourceExhausted:
                log.info("sensor %r has no more data", sensor.config.name)
                sensor.exhausted = True
                sensor.readings = {}
                if all(s.exhausted for s in sensors):
                    self.stop()
                    return
                continue
            except Exception as exc:  # noqa: BLE001 - one sensor's failure must not stop the rest
                sensor.failures += 1
                delay = min(sensor.config.interval, 2.0**sensor.failures)
                sensor.next_due = now + delay
                log.warning(
                    "sensor %r failed (%s); retrying in %.0f s", sensor.config.name, exc, delay
                )
                if sensor.failures >= 3 and sensor.driver is not None:
                    self._close_driver(sensor)  # reopen from scratch next time
        fresh = {
            s.config.name: s.readings
            for s in sensors
            if s.readings and now - s.read_at <= 2 * max(s.config.interval, self.config.interval)
        }
        mapped = self.config.fields.apply(fresh)
        for field_id, problem in mapped.problems.items():
            log.warning("field %r left out: %s", field_id, problem)
        if not mapped.data:
            log.warning("no field could be filled; nothing published for this window")
            return
        time_ms = int(now * 1000)
        if self.config.debug:
            publisher.publish(mapped.data, time=time_ms)
        else:
            publisher.enqueue(mapped.data, time=time_ms)
        self.published += 1
        stamp = time.strftime("%H:%M:%S", time.localtime(now))
        self._notifier.notify(STATUS=f"{self.published} readings taken; last at {stamp}")

    def _drain(self, publisher: Any) -> None:
        if self.config.debug:
            return
        results = publisher.drain()
        stats = publisher.store.stats()
        waiting = sum(stats[stage] for stage in Stage)
        if results:
            log.info("published %d reading(s); %d waiting", len(results), waiting)
        self._notifier.notify(STATUS=f"{stats['registered']} published, {waiting} waiting")

    def _do_reload(self, sensors: list[_Sensor], publisher: Any) -> tuple[list[_Sensor], Any]:
        try:
            config = load_config(self.config_path)
            self._check(config)
        except ConfigError as exc:
            log.error("reload refused, keeping the running config: %s", exc)
            return sensors, publisher
        self._close(sensors, publisher)
        self.config = config
        log.info("config reloaded")
        return self._open_sensors(), self._make_publisher()

    def _close_driver(self, sensor: _Sensor) -> None:
        try:
            sensor.driver.close()
        except Exception as exc:  # noqa: BLE001
            log.warning("closing sensor %r failed: %s", sensor.config.name, exc)
        sensor.driver = None

    def _close(self, sensors: list[_Sensor], publisher: Any) -> None:
        for sensor in sensors:
            if sensor.driver is not None:
                self._close_driver(sensor)
        close = getattr(publisher, "close", None)
        if close is not None:
            close()
