"""The daemon: read sensors on their grid, keep every reading, send them as the network allows.

``iota-publish run --config config.json`` runs :class:`Agent`. Two threads
share the durable outbox of :mod:`iota_publisher.store`:

* the **collector** reads each sensor on its own wall-clock grid (a 60 s
  interval reads at the top of every minute; the first reading is taken at
  start). Every instant at which sensors are read is a *window*; a window
  yields at most one packet, stamped with the time of its reading (the grid
  boundary it was read at; the clock's time for the first reading and after
  missed windows), mapped once and put in the outbox at once. A reading is a fact: nothing the
  network does makes the collector read, map or stamp again. Missed windows
  (suspend, a clock stepped forward) are skipped; a clock stepped back is
  followed at once (the grid is re-anchored, it never stalls).
* the **sender** sends the outbox one reading at a time, oldest first, with
  its own backoff (1 s doubling up to the interval, at most 60 s, at least
  5 s), and checks between readings whether it should stop.

Failures:

* a sensor that fails is reported (at its first failure, then at the 2nd,
  4th, 8th ... in a row) and retried on its grid with backoff; the others
  keep publishing. Only a configuration error is fatal.
* an outage (the node or the marketplace unreachable) is one warning when it
  starts and one when it ends, however many retries it takes; the readings
  wait in the outbox.
* a reading the node or the marketplace refuses for good is reported and
  the sender goes on with the next; a wrong secret key stops the daemon.

Stopping: SIGTERM or SIGINT (Ctrl-C) stops within 2 seconds, whatever is
happening (a hung connection, a retry wait, proof of work): waits end at
once, and a send still blocked after 1.5 s is abandoned, which loses
nothing (the outbox is crash-safe; a half-done send is redone from its
stored stage on the next start). A second SIGINT/SIGTERM exits at once
(status 128 + the signal's number). SIGHUP reloads the config.

Exit status of ``run``:

* ``0``: stopped by SIGTERM/SIGINT (what waits is sent on the next start);
  with ``--once``/``--count N``: every reading taken was registered.
* ``1``: a fatal runtime error (a wrong secret key, ...); with
  ``--once``/``--count N``: readings stay unsent, or nothing could be read.
* ``2``: a config error.

At exit one summary line goes to stderr: readings read, published, waiting,
and the last error. With ``--once``/``--count N`` (windows, not packets) the
readings taken are then sent for as long as the sends make progress (giving
up after ``max(interval, timeout, 10 s)`` seconds without any, more when
the interval is long: twice the sender's longest backoff).

Under systemd (``Type=notify``) it reports READY, STATUS lines and watchdog
pings through ``$NOTIFY_SOCKET``; the watchdog is pinged while both threads
are waiting or have made progress within ``WatchdogSec``.
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
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ._exitcodes import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK
from ._http import redact_url, scrub, secrets_in
from .config import Config, SensorConfig, load_config
from .errors import (
    ConfigError,
    InvalidInputError,
    InvalidSecretKeyError,
    PublisherError,
    TransientError,
)
from .store import Stage

__all__ = ["Agent", "Summary", "SystemdNotifier"]

log = logging.getLogger(__name__)

STOP_GRACE = 1.5  # seconds a stop waits for a blocked send or sensor before leaving it
_BACKSTEP = 1.0  # a clock stepped back by more than this re-anchors the grid
_MAX_BACKOFF = 60.0
_MIN_BACKOFF_CAP = 5.0
_SENSOR_BACKOFF_CAP = 600.0
_UNSAVED_LIMIT = 1000  # packets kept in memory while the outbox cannot be written
_PARKED = getattr(Stage, "PARKED", None)
_WAITING = tuple(s.value for s in Stage if s is not _PARKED)


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


@dataclass(frozen=True)
class Summary:
    """What one ``run`` did: readings ``read`` (packets taken), ``published``
    (registered by this run), ``waiting`` in the outbox (of any run),
    ``parked`` (refused for good), the ``windows`` and the ``last_error``."""

    windows: int
    read: int
    published: int
    waiting: int
    parked: int = 0
    last_error: str | None = None
    debug: bool = False

    def line(self) -> str:
        if self.debug:
            head = f"{self.read} read and printed (debug mode: nothing sent)"
        else:
            head = f"{self.read} read, {self.published} published, {self.waiting} waiting"
            if self.parked:
                head += f", {self.parked} parked"
        return f"iota-publish run: {head}; last error: {self.last_error or 'none'}"


@dataclass
class _Sensor:
    config: SensorConfig
    driver: Any = None
    readings: dict[str, Any] = field(default_factory=dict)
    read_at: float = 0.0
    next_due: float = 0.0
    scheduled_at: float = 0.0
    failures: int = 0
    exhausted: bool = False


def _grid_after(now: float, every: float) -> float:
    """The first boundary of the ``every``-second wall-clock grid after ``now``."""
    return (math.floor(now / every) + 1) * every


def _utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class Agent:
    """Runs the collector and the sender for one config file.

    Seams for tests: ``publisher_factory`` (config -> publisher),
    ``driver_factory`` (driver name, options -> driver), ``clock`` (wall
    time: the grid and the stamps), ``monotonic`` (durations), ``notifier``,
    ``out`` (where debug mode prints packets) and :meth:`_wait`.
    """

    def __init__(
        self,
        config_path: str | Path,
        *,
        publisher_factory: Callable[[Config], Any] | None = None,
        driver_factory: Callable[..., Any] | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        notifier: SystemdNotifier | None = None,
        out: TextIO | None = None,
        stop_grace: float = STOP_GRACE,
    ) -> None:
        self.config_path = Path(config_path)
        self._publisher_factory = publisher_factory
        self._driver_factory = driver_factory
        self._clock = clock
        self._monotonic = monotonic
        self._notifier = notifier or SystemdNotifier()
        self._out = out
        self._stop_grace = stop_grace
        self.config: Config = load_config(self.config_path)
        self._check(self.config)
        # control (set from signal handlers and threads)
        self._stop_requested = False
        self._stop_at: float | None = None
        self._reload_requested = False
        self._halt = threading.Event()  # the workers of this session end
        self._work = threading.Event()  # something to send (or: look at the flags)
        self._main = threading.Event()  # the main thread has something to look at
        self._collected = threading.Event()  # --once/--count: every window was taken
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._busy_since: dict[str, float | None] = {}
        self._publisher: Any = None
        self._fatal: tuple[int, str] | None = None
        self._final_deadline: float | None = None
        self._unsaved: deque[tuple[dict[str, Any], int]] = deque()
        self._field_problems: dict[str, str] = {}
        self._empty_windows = 0
        self._last_own_time: int | None = None  # ms: the last packet stamped by its source
        # what this run did
        self.windows = 0
        self.read = 0
        self.published = 0
        self.last_error: str | None = None
        self.abandoned = False  # a worker was still blocked when the process had to end
        self.summary: Summary | None = None
        self._pending: set[int] = set()
        self._waiting = 0
        self._parked = 0

    @staticmethod
    def _check(config: Config) -> None:
        if not config.sensors:
            raise ConfigError("the config lists no 'sensors' to read", field="sensors")
        if config.fields is None:
            raise ConfigError("the config has no 'fields' mapping", field="fields")

    # -- control ---------------------------------------------------------------

    def stop(self) -> None:
        """Stop: waits end at once, a blocked send is given ``stop_grace`` seconds
        (thread- and signal-safe)."""
        if not self._stop_requested:
            self._stop_at = time.monotonic()
        self._stop_requested = True
        self._halt.set()
        self._work.set()
        self._main.set()
        self._interrupt(self._publisher)

    def reload(self) -> None:
        self._reload_requested = True
        self._main.set()

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT stop (a second one exits at once), SIGHUP reloads."""

        def on_stop(signum: int, _frame: object) -> None:
            if self._stop_requested:
                _flush()
                os._exit(128 + signum)
            log.info("%s received: stopping", signal.Signals(signum).name)
            self.stop()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, lambda *_: self.reload())

    @staticmethod
    def _interrupt(publisher: Any) -> None:
        # only clients already built: building one here could block
        for name in ("_node", "_marketplace"):
            client = getattr(publisher, name, None) if publisher is not None else None
            interrupt = getattr(client, "interrupt", None)
            if interrupt is not None:
                try:
                    interrupt()
                except Exception as exc:  # noqa: BLE001 - a stop must go on
                    log.debug("interrupting %s failed: %s", name, exc)

    def _wait(self, event: threading.Event, seconds: float) -> None:
        """Wait up to ``seconds`` or until ``event`` is set (the workers' only wait)."""
        event.wait(max(0.0, seconds))

    # -- the run -----------------------------------------------------------------

    def run(self, *, once: bool = False, count: int | None = None) -> int:
        """Run until stopped, or for one window (``once``) or ``count`` windows;
        returns the exit status (see the module docstring)."""
        limit = 1 if once else count
        self._notifier.notify(READY="1", STATUS="started")
        self._log_start()
        try:
            while True:
                self._session(limit)
                if self._reload_requested and not self._stop_requested and not self._fatal:
                    self._reload_requested = False
                    self._reload_config()
                    continue
                break
        finally:
            self._notifier.notify(STOPPING="1")
        code = self._exit_code(limit)
        self.summary = self._summary()
        print(self.summary.line(), file=sys.stderr, flush=True)
        return code

    def _exit_code(self, limit: int | None) -> int:
        if self._fatal is not None:
            return self._fatal[0]
        if self._stop_requested:
            return EXIT_OK
        if self.read == 0:
            return EXIT_FAILURE  # nothing could be read
        with self._lock:
            pending = bool(self._pending) or bool(self._unsaved)
        return EXIT_FAILURE if pending else EXIT_OK

    def _summary(self) -> Summary:
        if not self.config.debug and not self.abandoned and self._publisher is not None:
            try:
                self._count_waiting(self._publisher)
            except Exception as exc:  # noqa: BLE001 - the summary says what it knows
                log.debug("outbox counts unavailable: %s", exc)
        if not self.abandoned:
            self._close_publisher()
        return Summary(
            self.windows,
            self.read,
            self.published,
            self._waiting + len(self._unsaved),
            self._parked,
            self.last_error,
            self.config.debug,
        )

    def _log_start(self) -> None:
        cfg = self.config
        sensors = ", ".join(f"{s.name} ({s.driver}, every {s.interval:g} s)" for s in cfg.sensors)
        if cfg.debug:
            log.info("debug mode: packets are printed, nothing is sent; sensors: %s", sensors)
        else:
            log.info(
                "publishing as %s through %s and %s; sensors: %s",
                cfg.sensor_id,
                redact_url(cfg.provider or ""),
                redact_url(cfg.endpoint or ""),
                sensors,
            )

    def _session(self, limit: int | None) -> None:
        """Open sensors and publisher, run the workers until they end, close."""
        self._halt.clear()
        self._work.set()
        sensors = [_Sensor(sc) for sc in self.config.sensors]
        try:
            self._publisher = self._make_publisher()
            if not self.config.debug:
                self._publisher.store  # noqa: B018 - open the outbox before two threads share it
                self._count_waiting(self._publisher)
        except PublisherError as exc:
            self._fail(exc)
            return
        if self._stop_requested:
            self._interrupt(self._publisher)
            self._close_publisher()
            return
        workers = [
            threading.Thread(
                target=self._guard,
                args=("collector", self._collect_loop, sensors, limit),
                name="collector",
                daemon=True,
            )
        ]
        if not self.config.debug:
            workers.append(
                threading.Thread(
                    target=self._guard, args=("sender", self._send_loop), name="sender", daemon=True
                )
            )
        self._busy_since = {w.name: time.monotonic() for w in workers}
        self._workers = workers
        for worker in workers:
            worker.start()
        self._supervise()
        alive = [w for w in workers if w.is_alive()]
        if alive:
            self.abandoned = True
            log.warning(
                "stopping while %s is still blocked (nothing is lost: it is redone on the "
                "next start)",
                " and ".join(w.name for w in alive),
            )
            return  # leave what they hold alone: the process is about to end
        self._close_sensors(sensors)
        if self._reload_requested and not self._stop_requested:
            self._close_publisher()

    def _supervise(self) -> None:
        """The main thread: watchdog pings, reloads, and the deadline of a stop."""
        last_ping = 0.0
        while True:
            alive = [w for w in self._workers if w.is_alive()]
            if not alive:
                return
            if self._stop_requested:
                assert self._stop_at is not None
                remaining = self._stop_at + self._stop_grace - time.monotonic()
                if remaining <= 0:
                    return
                alive[0].join(min(remaining, 0.05))
                continue
            if self._reload_requested:
                self._halt.set()
                self._work.set()
                self._interrupt(self._publisher)
            ping = self._notifier.watchdog_interval
            now = time.monotonic()
            if ping and now - last_ping >= ping and self._healthy(2 * ping):
                self._notifier.notify(WATCHDOG="1")
                last_ping = now
            self._main.wait(min(ping or 1.0, 1.0))
            self._main.clear()

    def _healthy(self, limit: float) -> bool:
        now = time.monotonic()
        return all(since is None or now - since < limit for since in self._busy_since.values())

    def _busy(self, name: str) -> None:
        self._busy_since[name] = time.monotonic()

    def _idle(self, name: str) -> None:
        self._busy_since[name] = None

    def _guard(self, name: str, loop: Callable[..., None], *args: Any) -> None:
        """A worker's life: a fatal error ends the run; a bug is logged and ends it too."""
        try:
            loop(*args)
        except BaseException as exc:
            if isinstance(exc, PublisherError):
                self._fail(exc)
            else:
                log.exception("%s failed unexpectedly", name)
                self._fatal = self._fatal or (EXIT_FAILURE, f"{name}: {type(exc).__name__}")
                self.last_error = self._text(exc)
                self._stop_workers()
        finally:
            self._idle(name)
            self._main.set()

    def _fail(self, exc: PublisherError) -> None:
        code = EXIT_CONFIG if isinstance(exc, ConfigError) else EXIT_FAILURE
        message = self._text(exc)
        if self._fatal is None:
            self._fatal = (code, message)
            log.error("stopping: %s", message)
            print(f"iota-publish: {message}", file=sys.stderr, flush=True)
        self.last_error = message
        self._stop_workers()

    def _stop_workers(self) -> None:
        self._halt.set()
        self._work.set()
        self._main.set()
        self._interrupt(self._publisher)  # a send waiting to retry need not finish

    def _text(self, exc: BaseException) -> str:
        """An error for logs and the summary: its words, no secret of this config."""
        cfg = self.config
        secrets = {cfg.secret_key, *secrets_in(url=cfg.provider), *secrets_in(url=cfg.endpoint)}
        text = str(exc) or type(exc).__name__
        return scrub(" ".join(text.split()), secrets)

    def _make_publisher(self) -> Any:
        if self._publisher_factory is not None:
            return self._publisher_factory(self.config)
        from .publisher import Publisher

        return Publisher(self.config, out=self._out)

    def _close_publisher(self) -> None:
        publisher, self._publisher = self._publisher, None
        close = getattr(publisher, "close", None)
        if close is not None:
            try:
                close()
            except Exception as exc:  # noqa: BLE001
                log.warning("closing the publisher failed: %s", self._text(exc))

    def _reload_config(self) -> None:
        try:
            config = load_config(self.config_path)
            self._check(config)
        except ConfigError as exc:
            log.error("reload refused, keeping the running config: %s", self._text(exc))
        else:
            self.config = config
            log.info("config reloaded")
        self._close_publisher()

    # -- the collector -------------------------------------------------------------

    def _collect_loop(self, sensors: list[_Sensor], limit: int | None) -> None:
        start = self._clock()
        for sensor in sensors:
            # the first reading at once; after a reload, on the grid
            first = start if self.windows == 0 else _grid_after(start, sensor.config.interval)
            sensor.next_due, sensor.scheduled_at = first, start
        while not self._halt.is_set():
            if limit is not None and self.windows >= limit:
                break
            live = [s for s in sensors if not s.exhausted]
            if not live:
                log.info("every sensor has run out of data")
                break
            now = self._clock()
            for sensor in live:
                if now < sensor.scheduled_at - _BACKSTEP:  # the clock was stepped back
                    sensor.next_due = _grid_after(now, sensor.config.interval)
                    sensor.scheduled_at = now
            due = [s for s in live if now >= s.next_due]
            if not due:
                self._idle("collector")
                wake = min(s.next_due for s in live)
                self._wait(self._halt, min(wake - now, 1.0))
                continue
            self._busy("collector")
            # the window's time: the grid boundary it was due at (a wake-up a few
            # milliseconds late does not move it), or now when that was missed
            when = max(s.next_due for s in due)
            late = now - when >= min(s.config.interval for s in due)
            self._window(sensors, due, now, now if late else when)
        else:
            return  # halted (a stop or a reload): collection is not over
        self._final_deadline = self._monotonic() + self._patience()
        self._collected.set()
        self._work.set()

    def _patience(self) -> float:
        """How long the end of ``--once``/``--count`` waits for a send to succeed."""
        return max(self.config.interval, self.config.timeout, 2 * self._backoff_cap())

    def _backoff_cap(self) -> float:
        return min(_MAX_BACKOFF, max(_MIN_BACKOFF_CAP, self.config.interval))

    def _window(self, sensors: list[_Sensor], due: list[_Sensor], now: float, stamp: float) -> None:
        """One window: read the due sensors, map, put one packet stamped ``stamp``
        in the outbox."""
        self.windows += 1
        fresh = False
        for sensor in due:
            if self._halt.is_set():
                return
            fresh |= self._read(sensor, now)
        if all(s.exhausted for s in sensors) and not fresh:
            return
        if not fresh:
            self._nothing("no sensor could be read")
            return
        readings = {
            s.config.name: s.readings
            for s in sensors
            if s.readings and now - s.read_at <= 2 * max(s.config.interval, self.config.interval)
        }
        mapped = self.config.fields.apply(readings)
        self._report_fields(mapped.problems)
        if not mapped.data:
            self._nothing("no field could be filled")
            return
        if self._empty_windows:
            log.info("fields filled again after %d empty window(s)", self._empty_windows)
            self._empty_windows = 0
        if mapped.time is not None:  # the source said when it measured (a file's time_key ...)
            own = round(mapped.time * 1000)
            if own == self._last_own_time:
                log.debug("no newer measurement than the last packet's; nothing published")
                return
            self._last_own_time = own
            self._keep(dict(mapped.data), own)
            return
        self._keep(dict(mapped.data), round(stamp * 1000))

    def _nothing(self, why: str) -> None:
        self._empty_windows += 1
        level = logging.WARNING if self._empty_windows == 1 else logging.DEBUG
        log.log(level, "%s; nothing published for this window", why)
        if self.last_error is None:
            self.last_error = why

    def _report_fields(self, problems: dict[str, str]) -> None:
        for field_id, problem in problems.items():
            level = (
                logging.DEBUG if self._field_problems.get(field_id) == problem else logging.WARNING
            )
            log.log(level, "field %r left out: %s", field_id, problem)
        for field_id in set(self._field_problems) - set(problems):
            log.info("field %r is filled again", field_id)
        self._field_problems = dict(problems)

    def _read(self, sensor: _Sensor, now: float) -> bool:
        """Read one sensor; ``False`` when it failed or has no more data."""
        from .drivers import SourceExhausted

        every = sensor.config.interval
        sensor.scheduled_at = now
        try:
            sensor.readings = self._driver(sensor).read()
        except ConfigError:
            raise
        except SourceExhausted:
            log.info("sensor %r has no more data", sensor.config.name)
            sensor.exhausted = True
            sensor.readings = {}
            return False
        except Exception as exc:  # noqa: BLE001 - one sensor's failure must not stop the rest
            sensor.failures += 1
            delay = min(every * 2 ** (sensor.failures - 1), max(every, _SENSOR_BACKOFF_CAP))
            sensor.next_due = _grid_after(now + delay - every, every)
            n = sensor.failures
            message = self._text(exc)
            self.last_error = f"sensor {sensor.config.name!r}: {message}"
            level = logging.WARNING if n & (n - 1) == 0 else logging.DEBUG  # 1, 2, 4, 8, ...
            log.log(
                level,
                "sensor %r failed (%s)%s; next try at %s",
                sensor.config.name,
                message,
                f", {n} times in a row" if n > 1 else "",
                _utc(sensor.next_due),
            )
            if (
                sensor.failures >= 3
                and sensor.driver is not None
                and getattr(sensor.driver, "reopen_on_failure", True)
            ):
                self._close_driver(sensor)  # reopen from scratch next time
            return False
        if sensor.failures:
            log.warning(
                "sensor %r works again after %d failure(s)", sensor.config.name, sensor.failures
            )
        sensor.failures = 0
        sensor.read_at = now
        sensor.next_due = _grid_after(max(now, self._clock()), every)
        return True

    def _keep(self, data: dict[str, Any], time_ms: int) -> None:
        """The packet goes into the outbox now (or is printed, in debug mode)."""
        publisher = self._publisher
        if self.config.debug:
            publisher.publish(data, time=time_ms)
            self.read += 1
            return
        self._unsaved.append((data, time_ms))
        self.read += 1
        while self._unsaved:
            data, time_ms = self._unsaved[0]
            try:
                row_id = publisher.enqueue(data, time=time_ms)
            except (ConfigError, InvalidSecretKeyError):
                raise
            except InvalidInputError as exc:  # this packet can never be stored
                self._unsaved.popleft()
                self.read -= 1
                self.last_error = self._text(exc)
                log.error("reading left out: %s", self.last_error)
                continue
            except PublisherError as exc:
                message = self._text(exc)
                self.last_error = message
                if len(self._unsaved) > _UNSAVED_LIMIT:
                    self._unsaved.popleft()
                    log.error(
                        "the outbox cannot be written (%s); dropped the oldest reading", message
                    )
                else:
                    log.error(
                        "the outbox cannot be written (%s); %d reading(s) kept in memory",
                        message,
                        len(self._unsaved),
                    )
                return
            self._unsaved.popleft()
            with self._lock:
                self._pending.add(row_id)
        self._work.set()
        self._count_waiting(publisher)
        stamp = time.strftime("%H:%M:%S", time.localtime(time_ms / 1000))
        self._notifier.notify(STATUS=f"{self.read} readings taken; last at {stamp}")

    def _driver(self, sensor: _Sensor) -> Any:
        if sensor.driver is None:
            factory = self._driver_factory
            if factory is None:
                from .drivers import create_driver as factory
            sensor.driver = factory(sensor.config.driver, sensor.config.options)
        return sensor.driver

    def _close_driver(self, sensor: _Sensor) -> None:
        try:
            sensor.driver.close()
        except Exception as exc:  # noqa: BLE001
            log.warning("closing sensor %r failed: %s", sensor.config.name, self._text(exc))
        sensor.driver = None

    def _close_sensors(self, sensors: list[_Sensor]) -> None:
        for sensor in sensors:
            if sensor.driver is not None:
                self._close_driver(sensor)

    # -- the sender ------------------------------------------------------------------

    def _send_loop(self) -> None:
        publisher = self._publisher
        backoff = 0.0
        outage: tuple[float, str] | None = None  # (since, what failed)
        cap = self._backoff_cap()
        while not self._halt.is_set():
            if self._until_deadline(1.0) <= 0:
                log.info("giving up sending for this run; readings wait in the outbox")
                return
            self._work.clear()
            self._busy("sender")
            started = self._monotonic()
            try:
                head = publisher.store.head()
                results = publisher.drain(limit=1)
            except (ConfigError, InvalidSecretKeyError):
                raise
            except Exception as exc:
                if self._halt.is_set():
                    return
                message = self._text(exc)
                self.last_error = message
                self._count_waiting(publisher)
                transient = isinstance(exc, TransientError)
                if outage is None or (not transient and message != outage[1]):
                    # one line when sending starts failing (and when a lasting error
                    # changes), not one per retry
                    outage = (outage[0] if outage else started, message)
                    log.log(
                        logging.WARNING if transient else logging.ERROR,
                        "sending failed (%s); readings wait in the outbox (%d waiting) "
                        "and are retried with backoff",
                        message,
                        self._waiting,
                        exc_info=exc if not isinstance(exc, PublisherError) else None,
                    )
                else:
                    log.debug("sending still fails: %s", message)
                backoff = min(cap, max(1.0, backoff * 2))
                self._idle("sender")
                self._wait(self._halt, self._until_deadline(backoff))
                continue
            if results:
                backoff = 0.0
                self._count_waiting(publisher)
                if outage is not None:
                    log.warning(
                        "sending works again after %.0f s; %d reading(s) waited",
                        self._monotonic() - outage[0],
                        self._waiting + len(results),
                    )
                    outage = None
                for result in results:
                    self._published(result, self._monotonic() - started)
                continue
            self._count_waiting(publisher)
            if head is not None:  # that reading was refused for good and parked: go on
                self._parked_one(publisher, head.id)
                continue
            if self._collected.is_set():  # nothing more to send
                return
            self._idle("sender")
            self._wait(self._work, 60.0)

    def _parked_one(self, publisher: Any, row_id: int) -> None:
        try:
            row = publisher.store.get(row_id)
        except Exception as exc:  # noqa: BLE001 - only for the summary
            log.debug("reading %d unavailable: %s", row_id, exc)
            return
        if row is not None and row.stage is _PARKED:
            why = self._text(Exception(row.last_error or "refused"))
            self.last_error = f"reading {row_id} parked: {why}"

    def _until_deadline(self, seconds: float) -> float:
        if self._collected.is_set() and self._final_deadline is not None:
            return max(0.0, min(seconds, self._final_deadline - self._monotonic()))
        return seconds

    def _published(self, result: Any, elapsed: float) -> None:
        self.published += 1
        with self._lock:
            self._pending.discard(result.id)
        if self._final_deadline is not None:  # progress: keep going
            self._final_deadline = self._monotonic() + self._patience()
        taken = _utc(result.packet["time"] / 1000)
        log.info(
            "published reading %s taken %s: root %s (%.1f s; %d waiting)",
            result.id,
            taken,
            result.root,
            elapsed,
            self._waiting,
        )
        self._notifier.notify(
            STATUS=f"{self.published} published, {self._waiting} waiting; last taken {taken}"
        )

    def _count_waiting(self, publisher: Any) -> None:
        try:
            stats = publisher.store.stats()
        except Exception as exc:  # noqa: BLE001 - counts are for people, not for the logic
            log.debug("outbox counts unavailable: %s", exc)
            return
        self._waiting = sum(stats.get(stage, 0) for stage in _WAITING)
        self._parked = stats.get("parked", 0)


def _flush() -> None:
    for handler in logging.getLogger("iota_publisher").handlers:
        try:
            handler.flush()
        except Exception:  # noqa: BLE001, S110 - exiting anyway
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001, S110
            pass


def exit_now(code: int) -> None:
    """Flush logs and the standard streams, then end the process at once (workers
    still blocked in a call are left: the outbox is crash-safe)."""
    _flush()
    os._exit(code)
