"""Winsen MH-Z19B NDIR CO2 sensor over a UART.

Wiring: Vin to 5 V (4.5-5.5 V; under 60 mA on average, 150 mA peaks),
GND to ground, the sensor's TX to the Pi's RX (GPIO15, pin 10), its RX to the
Pi's TX (GPIO14, pin 8); the UART is 3.3 V logic. Port ``/dev/serial0`` with
the serial console off, 9600 baud 8N1.

The sensor only answers: the driver sends ``FF 01 86 00 00 00 00 00 79`` and
reads the 9-byte reply ``FF 86 HH LL .. .. .. .. CK``, CO2 = HH*256+LL ppm,
``CK`` = (0x100 - low byte of the sum of bytes 1-7) & 0xFF. Byte 4 is often
read as the temperature + 40 C, but the datasheet does not document it and it
is the sensor's own, coarse, internal temperature: it is not reported.

For about 3 minutes after power-up the sensor preheats and answers zeros:
:meth:`MHZ19.read` then raises :class:`SensorWarmingUpError` (a transient
:class:`SensorDataError`). A reply failing its checksum is asked for again,
twice, before :class:`SensorDataError`.

ABC (automatic baseline correction) assumes the sensor sees fresh outdoor air
(~400 ppm) at least once a day; turn it off (``abc = false``) indoors where that
never happens. The ``abc`` option is sent once each time the port opens;
``None`` leaves the sensor's setting alone (factory default: on).

Readings: ``co2`` in ppm.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import InvalidInputError
from ._base import (
    Option,
    Readings,
    ReadingSpec,
    SensorDataError,
    SensorUnavailableError,
)
from ._serial import (
    DEFAULT_DEVICE,
    SensorWarmingUpError,
    SerialDriver,
    port_options,
    sync_frame,
)

__all__ = [
    "ABC_OFF",
    "ABC_ON",
    "FRAME_SIZE",
    "HEADER",
    "MHZ19",
    "READ_CO2",
    "ZERO_CALIBRATION",
    "checksum",
    "command",
    "parse_frame",
]

HEADER = b"\xff\x86"
FRAME_SIZE = 9
ATTEMPTS = 3


def checksum(frame: bytes) -> int:
    """The checksum of a 9-byte command or reply: bytes 1-7 summed, negated, low byte."""
    return (0x100 - (sum(frame[1:8]) & 0xFF)) & 0xFF


def command(cmd: int, data: bytes = b"") -> bytes:
    """A 9-byte command ``FF 01 cmd``, ``data`` padded with zeros to 5 bytes, checksum."""
    data = bytes(data)
    if not 0 <= cmd <= 0xFF:
        raise InvalidInputError(f"command {cmd!r} is not a byte", field="cmd")
    if len(data) > 5:
        raise InvalidInputError(f"command data is {len(data)} bytes, at most 5", field="data")
    body = b"\xff\x01" + bytes([cmd]) + data.ljust(5, b"\x00")
    return body + bytes([checksum(body + b"\x00")])


READ_CO2 = command(0x86)  # FF 01 86 00 00 00 00 00 79
ABC_ON = command(0x79, b"\xa0")  # FF 01 79 A0 00 00 00 00 E6
ABC_OFF = command(0x79)  # FF 01 79 00 00 00 00 00 86
ZERO_CALIBRATION = command(0x87)  # FF 01 87 00 00 00 00 00 78: only in 400 ppm air, after 20 min


def parse_frame(frame: bytes) -> int:
    """The CO2 concentration (ppm) in a read reply; :class:`SensorDataError` on
    a bad header, length or checksum. 0 means the sensor is still preheating."""
    frame = bytes(frame)
    if len(frame) != FRAME_SIZE:
        raise SensorDataError(f"reply is {len(frame)} bytes, not {FRAME_SIZE}", driver="mhz19")
    if frame[:2] != HEADER:
        raise SensorDataError(f"not a CO2 reply: header {frame[:2].hex(' ')}", driver="mhz19")
    expected = checksum(frame)
    if frame[8] != expected:
        raise SensorDataError(
            f"bad checksum {frame[8]:#04x}, expected {expected:#04x}", driver="mhz19"
        )
    return frame[2] * 256 + frame[3]


class MHZ19(SerialDriver):
    """MH-Z19B on a serial port.

    Options: ``port`` (device path, default ``/dev/serial0``, or a port
    object), ``abc`` (``True``/``False`` to turn automatic baseline correction
    on or off when the port opens, ``None`` to leave it), ``timeout`` (seconds
    to wait for a reply, default 2). ``clock`` is a test seam.
    """

    name = "mhz19"
    default_timeout = 2.0
    OPTIONS = (
        *port_options(default_timeout),
        Option("abc", bool, None, "automatic baseline correction on/off (default: leave it)"),
    )
    READINGS = (ReadingSpec("co2", "ppm"),)

    def __init__(
        self,
        *,
        port: Any = DEFAULT_DEVICE,
        abc: bool | None = None,
        timeout: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.abc = self.option("abc").check(self.name, abc)
        super().__init__(port=port, timeout=timeout, clock=clock)

    def _start(self) -> None:
        if self.abc is not None:
            self._write(ABC_ON if self.abc else ABC_OFF)

    def read_co2(self) -> int:
        """Ask for and return the CO2 concentration in ppm."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                co2 = self._ask()
            except SensorWarmingUpError:
                raise
            except SensorDataError as exc:  # a damaged reply: ask again
                if attempt == ATTEMPTS:
                    raise SensorDataError(
                        f"no valid reply in {ATTEMPTS} attempts: {exc}", driver=self.name
                    ) from exc
                continue
            if co2 == 0:
                raise self._preheating()
            return co2
        raise AssertionError("unreachable")  # pragma: no cover

    def _ask(self) -> int:
        """One request and its reply; a bad reply ends the attempt at once."""
        seen = bytearray()

        def read(size: int) -> bytes:
            data = self._read(size)
            seen.extend(data)
            return data

        self._discard_input()
        self._write(READ_CO2)
        try:
            return sync_frame(
                read,
                header=HEADER,
                size=FRAME_SIZE,
                parse=parse_frame,
                max_skip=2 * FRAME_SIZE,
                max_bad=1,
                driver=self.name,
            ).value
        except SensorUnavailableError:
            if seen and not any(seen):  # zero bytes where a reply should be
                raise self._preheating() from None
            raise

    def read(self) -> Readings:
        return {"co2": self._reading("co2", self.read_co2(), "ppm")}

    def _preheating(self) -> SensorWarmingUpError:
        return SensorWarmingUpError(
            "warming up: the MH-Z19B answers zeros for about 3 minutes after power-up",
            driver=self.name,
        )
