"""Shared layer of the UART sensor drivers (PMS5003, SDS011, MH-Z19B).

Three parts, kept apart:

* :func:`open_port` opens a real port with pyserial (imported here, on first
  use; it comes with ``pip install iota-publisher[pi]``);
* :class:`~iota_publisher.drivers.fakes.ScriptedSerial` is a fake port
  shipped in the package: it serves scripted bytes in arbitrary chunks and
  records what was written, so the drivers run in tests, examples and
  ``iota-publish run`` on a laptop;
* :func:`sync_frame` is pure: given a ``read(n)`` callable it finds the next
  frame that has the right header, length and checksum, skipping garbage,
  command acknowledgements and damaged frames.

Wiring, for all three sensors: 5 V supply (the fan or lamp needs it), 3.3 V
logic on the UART pins, the sensor's TX to the Pi's RX (GPIO15, pin 10) and
the sensor's RX to the Pi's TX (GPIO14, pin 8), common ground. On a Raspberry
Pi the header UART is ``/dev/serial0``: enable it and turn the login console on
it off (``raspi-config`` -> Interface Options -> Serial Port: login shell *no*,
hardware *yes*; or ``enable_uart=1`` in config.txt and ``console=serial0,...``
removed from cmdline.txt). The header has one such UART, so a second sensor
goes on a USB-serial adapter (``/dev/ttyUSB0``). All three talk 9600 baud 8N1.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from ..errors import ConfigError, InvalidInputError
from ._base import (
    Driver,
    Option,
    SensorDataError,
    SensorUnavailableError,
    SensorWarmingUpError,
)

__all__ = [
    "DEFAULT_DEVICE",
    "SensorWarmingUpError",
    "SerialDriver",
    "Synced",
    "open_port",
    "sync_frame",
]

log = logging.getLogger(__name__)

DEFAULT_DEVICE = "/dev/serial0"

_PI_HINT = (
    "on a Raspberry Pi enable the UART and turn the serial login console off "
    "(raspi-config -> Interface Options -> Serial Port: login shell no, hardware yes), "
    "and check the wiring: sensor TX to Pi RX (GPIO15), sensor RX to Pi TX (GPIO14), 5 V"
)

T = TypeVar("T")


# --------------------------------------------------------------------------- port layer


def port_options(default_timeout: float, *, warmup: bool = False) -> tuple[Option, ...]:
    """The option declarations every UART driver shares."""
    options = [
        Option("port", str, DEFAULT_DEVICE, "serial device (the Pi's UART, or /dev/ttyUSB0)"),
        Option("timeout", float, default_timeout, "seconds to wait for a frame", positive=True),
    ]
    if warmup:
        options.append(Option("warmup", float, 0, "seconds after start before values count", low=0))
    return tuple(options)


def open_port(device: str = DEFAULT_DEVICE, baudrate: int = 9600, timeout: float = 2.0) -> Any:
    """Open ``device`` at ``baudrate`` 8N1 with a read ``timeout`` in seconds.

    Returns a ``serial.Serial``. Raises :class:`ConfigError` when pyserial is
    not installed and :class:`SensorUnavailableError` (transient: the adapter
    may be plugged in later) when the device cannot be opened.
    """
    try:
        import serial  # pyserial
    except ImportError as exc:
        raise ConfigError(
            "serial sensors need pyserial: pip install iota-publisher[pi]", field="port"
        ) from exc
    try:
        return serial.Serial(
            device,
            baudrate=baudrate,
            bytesize=serial.EIGHTBITS,
            parity=serial.PARITY_NONE,
            stopbits=serial.STOPBITS_ONE,
            timeout=timeout,
        )
    except (OSError, ValueError) as exc:  # serial.SerialException is an OSError
        cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
        number = getattr(cause, "errno", None) or getattr(exc, "errno", None)
        if number in (errno.EACCES, errno.EPERM):
            hint = "permission denied: add the user to the 'dialout' group (then log in again)"
        elif number == errno.EBUSY:
            hint = "the port is busy: is the serial console or another program using it?"
        else:
            hint = _PI_HINT
        reason = os.strerror(number) if number else str(exc)
        raise SensorUnavailableError(
            f"cannot open serial port {device!r}: {reason}; {hint}", driver=None
        ) from exc


# --------------------------------------------------------------------------- frame sync (pure)


@dataclass(frozen=True)
class Synced(Generic[T]):
    """A frame found by :func:`sync_frame`: the parsed ``value``, the raw
    ``frame``, and what was thrown away before it."""

    value: T
    frame: bytes
    skipped_bytes: int = 0
    bad_frames: int = 0


def sync_frame(
    read: Callable[[int], bytes],
    *,
    header: bytes,
    size: int,
    parse: Callable[[bytes], T],
    max_skip: int = 256,
    max_bad: int | None = None,
    driver: str | None = None,
) -> Synced[T]:
    """Read the next valid ``size``-byte frame starting with ``header``.

    ``read(n)`` returns up to ``n`` bytes; an empty answer means the port
    timed out. ``parse(frame)`` decodes a candidate frame or raises
    :class:`SensorDataError` (bad length field, checksum, tail): the frame is
    then counted as bad and the search goes on from the byte after its start,
    so a good frame hidden in a damaged one is still found. Bytes before a
    header are skipped. Never reads past the frame it returns.

    Gives up after skipping more than ``max_skip`` bytes, after ``max_bad``
    bad frames, or on a timeout: with :class:`SensorDataError` when the last
    problem was a frame failing its checks, else :class:`SensorUnavailableError`.
    """
    if not header or size < len(header):
        raise InvalidInputError(
            "sync_frame needs a non-empty header no longer than the frame", field="header"
        )
    buf = bytearray()
    skipped = bad = received = 0
    last_error: SensorDataError | None = None

    def fill() -> bool:
        nonlocal received
        while len(buf) < size:
            chunk = read(size - len(buf))
            if not chunk:
                return False
            received += len(chunk)
            buf.extend(chunk)
        return True

    def give_up(reason: str) -> SensorDataError | SensorUnavailableError:
        log.debug(
            "%s: gave up (%s) after %d byte(s): skipped %d, %d bad frame(s)",
            driver or "serial",
            reason,
            received,
            skipped,
            bad,
        )
        if last_error is not None:
            return SensorDataError(
                f"{reason}; {bad} frame(s) failed their checks, last: {last_error}",
                driver=driver,
            )
        if received == 0:
            return SensorUnavailableError(
                "no data from the sensor before the port timeout: check power (5 V), "
                "wiring (sensor TX to Pi RX) and that nothing else uses the port",
                driver=driver,
            )
        return SensorUnavailableError(
            f"{reason}: no frame starting {header.hex(' ')} in {received} byte(s) "
            "(wrong baud rate, wrong sensor type, or a noisy line?)",
            driver=driver,
        )

    while True:
        if not fill():
            # timed out: nothing more is coming for now
            at = _header_at(buf, header)
            skipped += at
            if at < len(buf):
                raise give_up(
                    f"timed out in the middle of a frame ({len(buf) - at} of {size} bytes)"
                )
            raise give_up("timed out")
        start = _header_at(buf, header)
        if start:
            del buf[:start]
            skipped += start
        else:
            try:
                value = parse(bytes(buf))
            except SensorDataError as exc:
                last_error = exc
                bad += 1
                log.debug("%s: bad frame %s: %s", driver or "serial", buf.hex(" "), exc)
                del buf[:1]  # a good frame may start inside the bad one
                skipped += 1
                if max_bad is not None and bad >= max_bad:
                    raise give_up("too many bad frames") from exc
            else:
                if skipped or bad:
                    log.debug(
                        "%s: resynchronised: skipped %d byte(s), %d bad frame(s)",
                        driver or "serial",
                        skipped,
                        bad,
                    )
                return Synced(value, bytes(buf), skipped, bad)
        if skipped > max_skip:
            raise give_up(f"skipped more than {max_skip} bytes")


def _header_at(buf: bytearray, header: bytes) -> int:
    """Where the first ``header`` starts in ``buf``; for none, where a partial
    header at the end starts (``len(buf)`` when there is none either)."""
    at = buf.find(header)
    if at >= 0:
        return at
    for keep in range(min(len(header) - 1, len(buf)), 0, -1):
        if header.startswith(bytes(buf[-keep:])):
            return len(buf) - keep
    return len(buf)


# --------------------------------------------------------------------------- driver base


class SerialDriver(Driver):
    """Base of the UART drivers: the ``port`` option, lazy opening, closing,
    and translating port errors into :class:`SensorUnavailableError`.

    ``port`` is a device path (opened on the first :meth:`read`, closed by
    :meth:`close`, reopened after an I/O error) or an object with pyserial's
    ``read``/``write``/``reset_input_buffer`` (used as is, never closed here;
    its own ``timeout`` applies, the ``timeout`` option only to a port opened here).
    """

    default_timeout: ClassVar[float] = 2.0

    def __init__(
        self,
        *,
        port: Any = DEFAULT_DEVICE,
        timeout: float | None = None,
        warmup: float = 0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if port is None:
            port = DEFAULT_DEVICE
        if isinstance(port, str):
            if not port.strip():
                raise ConfigError(f"driver {self.name!r}: option 'port' is empty", field="port")
            self._device: str | None = port
            self._port: Any = None
        elif all(callable(getattr(port, attr, None)) for attr in ("read", "write")):
            self._device = None
            self._port = port
        else:
            raise ConfigError(
                f"driver {self.name!r}: option 'port' must be a device path such as "
                f"{DEFAULT_DEVICE!r} or a serial port object, not {port!r}",
                field="port",
            )
        declared = {o.name: o for o in port_options(self.default_timeout, warmup=True)}
        timeout = declared["timeout"].check(self.name, timeout)
        warmup = declared["warmup"].check(self.name, warmup)
        self.timeout = float(timeout)
        self.warmup = float(warmup)
        self._clock = clock or time.monotonic
        self._started: float | None = None  # when the port was opened (warm-up counts from it)
        self._prepared = False  # start-up commands sent on this port

    # subclasses override this

    def _start(self) -> None:
        """Send the start-up commands (mode, ABC) after the port opens."""

    @property
    def port(self) -> Any:
        """The open port, opening it if this driver owns it."""
        if self._port is None:
            if self._device is None:  # pragma: no cover - a passed-in port is never dropped
                raise SensorUnavailableError("no serial port", driver=self.name)
            try:
                self._port = open_port(self._device, 9600, self.timeout)
            except SensorUnavailableError as exc:
                exc.driver = self.name
                raise
            self._prepared = False
            self._started = self._clock()  # a reopened adapter may have power-cycled the sensor
        if self._started is None:
            self._started = self._clock()
        if not self._prepared:
            self._prepared = True
            try:
                self._start()
            except BaseException:
                self._prepared = False
                raise
        return self._port

    def _read(self, size: int) -> bytes:
        port = self.port
        try:
            return bytes(port.read(size))
        except OSError as exc:
            self._io_failed()
            raise self._port_error("reading the serial port", exc) from exc

    def _write(self, data: bytes) -> None:
        port = self.port
        try:
            port.write(data)
            flush = getattr(port, "flush", None)
            if flush is not None:
                flush()
        except OSError as exc:
            self._io_failed()
            raise self._port_error("writing the serial port", exc) from exc

    def _discard_input(self) -> None:
        """Drop stale bytes so the next frame read is a fresh one."""
        port = self.port
        reset = getattr(port, "reset_input_buffer", None)
        if reset is None:
            return
        try:
            reset()
        except OSError as exc:
            self._io_failed()
            raise self._port_error("flushing the serial port", exc) from exc

    def _sync(self, *, header: bytes, size: int, parse: Callable[[bytes], T], **limits: Any) -> T:
        return sync_frame(
            self._read, header=header, size=size, parse=parse, driver=self.name, **limits
        ).value

    def _check_warm(self) -> None:
        if self.warmup and self._started is not None:
            left = self.warmup - (self._clock() - self._started)
            if left > 0:
                raise SensorWarmingUpError(
                    f"warming up: values are stable {self.warmup:g} s after start, "
                    f"{left:.0f} s to go",
                    driver=self.name,
                )

    def _port_error(self, doing: str, exc: OSError) -> SensorUnavailableError:
        return SensorUnavailableError(f"{doing} failed: {exc}", driver=self.name)

    def _io_failed(self) -> None:
        if self._device is not None:
            self._close_owned()
        self._prepared = False

    def _close_owned(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except OSError:  # pragma: no cover - closing a dead port
                pass

    def close(self) -> None:
        """Close the port if this driver opened it (idempotent); a passed-in port stays open."""
        if self._device is not None:
            self._close_owned()
        self._prepared = False

    def __repr__(self) -> str:
        where = self._device if self._device is not None else repr(self._port)
        return f"<{type(self).__name__} driver {self.name!r} on {where}>"


def _choice(driver: str, key: str, value: Any, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(
            f"driver {driver!r}: option {key!r} must be one of {', '.join(map(repr, choices))}, "
            f"not {value!r}",
            field=key,
        )
    return value
