"""Nova Fitness SDS011 particulate matter sensor over a UART.

Wiring: 5V to 5 V (fan and laser), GND to ground, the sensor's TXD to the Pi's
RX (GPIO15, pin 10), its RXD to the Pi's TX (GPIO14, pin 8); the datasheet's
pin table gives 3.3 V TTL for the UART. Port ``/dev/serial0`` with the serial
console off, or the USB-serial adapter the sensor usually ships with
(``/dev/ttyUSB0``). 9600 baud 8N1.

Data frames are 10 bytes ``AA C0 pm25_lo pm25_hi pm10_lo pm10_hi id1 id2 ck AB``
with ``ck`` the low byte of the sum of bytes 2-7, values in 0.1 ug/m3.
Commands are 19 bytes ``AA B4 cmd data[12] id_hi id_lo ck AB`` (id ``FF FF``:
any sensor; ``ck`` the low byte of the sum of bytes 2-16); the sensor answers
a command with an ``AA C5`` frame, which the driver skips while it waits for
data.

In ``"active"`` mode it reports about once a second and :meth:`SDS011.read`
takes the next frame; in ``"query"`` mode it reports only when asked. The
report mode is stored in the sensor and survives power cycles, so each time
the port opens the driver sends a wake command (a sensor left asleep by
another program ignores everything else) and then the mode it is configured
for. In query mode, ask no more often than every 3 s (the protocol's advice).
The laser and fan need about 30 s after wake before values are stable (the
``warmup`` option).

Readings: ``pm2_5`` and ``pm10`` in ug/m3.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import InvalidInputError
from ._base import Option, Readings, ReadingSpec, SensorDataError
from ._serial import DEFAULT_DEVICE, SerialDriver, _choice, port_options

__all__ = [
    "ACTIVE_MODE",
    "FRAME_SIZE",
    "HEADER",
    "QUERY",
    "QUERY_MODE",
    "SDS011",
    "SLEEP",
    "WAKE",
    "command",
    "parse_frame",
]

HEADER = b"\xaa\xc0"
FRAME_SIZE = 10
_TAIL = 0xAB


def command(cmd: int, data: bytes = b"", device: bytes = b"\xff\xff") -> bytes:
    """A 19-byte command: ``AA B4 cmd``, ``data`` padded with zeros to 12
    bytes, the 2-byte ``device`` id (``FF FF``: any), checksum, ``AB``."""
    data, device = bytes(data), bytes(device)
    if not 0 <= cmd <= 0xFF:
        raise InvalidInputError(f"command {cmd!r} is not a byte", field="cmd")
    if len(data) > 12:
        raise InvalidInputError(f"command data is {len(data)} bytes, at most 12", field="data")
    if len(device) != 2:
        raise InvalidInputError("the device id is 2 bytes", field="device")
    body = bytes([cmd]) + data.ljust(12, b"\x00") + device
    return b"\xaa\xb4" + body + bytes([sum(body) & 0xFF, _TAIL])


QUERY = command(0x04)  # AA B4 04 00*12 FF FF 02 AB
QUERY_MODE = command(0x02, b"\x01\x01")  # set report mode: query
ACTIVE_MODE = command(0x02, b"\x01\x00")  # set report mode: active
SLEEP = command(0x06, b"\x01\x00")
WAKE = command(0x06, b"\x01\x01")


def parse_frame(frame: bytes) -> tuple[float, float]:
    """Decode a data frame to ``(pm2_5, pm10)`` in ug/m3; :class:`SensorDataError`
    on a bad header, length, tail or checksum."""
    frame = bytes(frame)
    if len(frame) != FRAME_SIZE:
        raise SensorDataError(f"frame is {len(frame)} bytes, not {FRAME_SIZE}", driver="sds011")
    if frame[:2] != HEADER:
        raise SensorDataError(f"not a data frame: header {frame[:2].hex(' ')}", driver="sds011")
    if frame[9] != _TAIL:
        raise SensorDataError(f"bad frame tail {frame[9]:#04x}", driver="sds011")
    expected = sum(frame[2:8]) & 0xFF
    if frame[8] != expected:
        raise SensorDataError(
            f"bad checksum {frame[8]:#04x}, expected {expected:#04x}", driver="sds011"
        )
    pm2_5 = int.from_bytes(frame[2:4], "little") / 10
    pm10 = int.from_bytes(frame[4:6], "little") / 10
    return pm2_5, pm10


class SDS011(SerialDriver):
    """SDS011 on a serial port.

    Options: ``port`` (device path, default ``/dev/serial0``, or a port
    object), ``mode`` (``"active"`` or ``"query"``), ``warmup`` (seconds after
    the port opens during which readings are refused, default 0), ``timeout``
    (seconds to wait for data, default 2). ``clock`` is a test seam.
    """

    name = "sds011"
    default_timeout = 2.0
    OPTIONS = (
        *port_options(default_timeout, warmup=True),
        Option(
            "mode",
            str,
            "active",
            "the sensor sends frames, or answers queries",
            choices=("active", "query"),
        ),
    )
    READINGS = (ReadingSpec("pm2_5", "ug/m3"), ReadingSpec("pm10", "ug/m3"))

    def __init__(
        self,
        *,
        port: Any = DEFAULT_DEVICE,
        mode: str = "active",
        warmup: float = 0,
        timeout: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.mode = _choice(self.name, "mode", mode, ("active", "query"))
        super().__init__(port=port, timeout=timeout, warmup=warmup, clock=clock)

    def _start(self) -> None:
        self._write(WAKE)
        self._write(QUERY_MODE if self.mode == "query" else ACTIVE_MODE)

    def read_values(self) -> tuple[float, float]:
        """``(pm2_5, pm10)`` from the next valid data frame."""
        self._discard_input()
        if self.mode == "query":
            self._write(QUERY)
        # a few frames of garbage or command replies before giving up
        return self._sync(
            header=HEADER, size=FRAME_SIZE, parse=parse_frame, max_skip=5 * FRAME_SIZE
        )

    def read(self) -> Readings:
        pm2_5, pm10 = self.read_values()
        self._check_warm()
        return {
            "pm2_5": self._reading("pm2_5", pm2_5, "ug/m3"),
            "pm10": self._reading("pm10", pm10, "ug/m3"),
        }
