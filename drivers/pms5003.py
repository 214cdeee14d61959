"""Plantower PMS5003 particulate matter sensor over a UART.

Wiring: VCC to 5 V (the fan needs it; the logic is 3.3 V, safe for a Pi),
GND to ground, the sensor's TX (pin 5) to the Pi's RX (GPIO15, pin 10), the
sensor's RX (pin 4) to the Pi's TX (GPIO14, pin 8); SET and RESET may stay
unconnected (they are pulled high inside). Port ``/dev/serial0`` with the
serial console off, 9600 baud 8N1.

The sensor sends 32-byte frames ``42 4D``, length 28 (u16 big-endian), 13 u16
big-endian words and a u16 checksum (sum of bytes 0-29): PM1.0/PM2.5/PM10 at
CF=1 (factory calibration), the same under atmospheric conditions (ug/m3),
then counts of particles above 0.3/0.5/1.0/2.5/5.0/10 um per 0.1 L of air.

In ``"active"`` mode (the default at power-up) it sends a frame every 0.2-2.3 s
and :meth:`PMS5003.read` takes the next one; in ``"passive"`` mode it sends one
only when asked. The mode command is sent once when the port opens. The fan
needs about 30 s after power-up or wake before values are stable: the
``warmup`` option (seconds) turns readings taken sooner into
:class:`SensorWarmingUpError`.

Readings: ``pm1_0``, ``pm2_5``, ``pm10`` (atmospheric, ug/m3), ``pm1_0_cf1``,
``pm2_5_cf1``, ``pm10_cf1`` (ug/m3), ``particles_0_3um`` ... ``particles_10um``
(``/0.1L``, particles larger than that diameter in 0.1 L of air).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from ._base import Option, Readings, ReadingSpec, SensorDataError
from ._serial import DEFAULT_DEVICE, SerialDriver, _choice, port_options

__all__ = [
    "ACTIVE_MODE",
    "FRAME_SIZE",
    "HEADER",
    "PASSIVE_MODE",
    "PASSIVE_READ",
    "PMS5003",
    "SLEEP",
    "WAKE",
    "PMSFrame",
    "command",
    "parse_frame",
]

HEADER = b"\x42\x4d"
FRAME_SIZE = 32
_LENGTH = FRAME_SIZE - 4  # the length field counts the words and the checksum: 28


def command(cmd: int, data: int = 0) -> bytes:
    """A 7-byte command: ``42 4D cmd data_hi data_lo`` and the u16 BE sum of those five bytes."""
    body = HEADER + struct.pack(">BH", cmd, data)
    return body + struct.pack(">H", sum(body))


PASSIVE_READ = command(0xE2)  # 42 4D E2 00 00 01 71
PASSIVE_MODE = command(0xE1, 0)  # 42 4D E1 00 00 01 70
ACTIVE_MODE = command(0xE1, 1)  # 42 4D E1 00 01 01 71
SLEEP = command(0xE4, 0)  # 42 4D E4 00 00 01 73
WAKE = command(0xE4, 1)  # 42 4D E4 00 01 01 74


@dataclass(frozen=True)
class PMSFrame:
    """The twelve values of a PMS5003 data frame."""

    pm1_0_cf1: int
    pm2_5_cf1: int
    pm10_cf1: int
    pm1_0: int
    pm2_5: int
    pm10: int
    particles_0_3um: int
    particles_0_5um: int
    particles_1_0um: int
    particles_2_5um: int
    particles_5_0um: int
    particles_10um: int


def parse_frame(frame: bytes) -> PMSFrame:
    """Decode one 32-byte frame; :class:`SensorDataError` on a bad header, length or checksum."""
    frame = bytes(frame)
    if len(frame) != FRAME_SIZE:
        raise SensorDataError(f"frame is {len(frame)} bytes, not {FRAME_SIZE}", driver="pms5003")
    if frame[:2] != HEADER:
        raise SensorDataError(f"bad frame header {frame[:2].hex(' ')}", driver="pms5003")
    length, *words, checksum = struct.unpack(">H13HH", frame[2:])
    if length != _LENGTH:
        raise SensorDataError(f"frame length field is {length}, not {_LENGTH}", driver="pms5003")
    expected = sum(frame[:30]) & 0xFFFF
    if checksum != expected:
        raise SensorDataError(
            f"bad checksum {checksum:#06x}, expected {expected:#06x}", driver="pms5003"
        )
    return PMSFrame(*words[:12])  # the 13th word is reserved


_UNITS = {"pm1": "ug/m3", "pm2": "ug/m3", "pm10": "ug/m3", "particles": "/0.1L"}
# atmospheric values first: they are the ones to publish
_READING_ORDER = ("pm1_0", "pm2_5", "pm10") + tuple(
    f.name for f in fields(PMSFrame) if f.name not in ("pm1_0", "pm2_5", "pm10")
)


class PMS5003(SerialDriver):
    """PMS5003 on a serial port.

    Options: ``port`` (device path, default ``/dev/serial0``, or a port object
    such as :class:`~iota_publisher.drivers.fakes.ScriptedSerial`), ``mode``
    (``"active"`` or ``"passive"``), ``warmup`` (seconds after the port opens
    during which readings are refused, default 0), ``timeout`` (seconds to
    wait for data, default 3: more than the 2.3 s between frames in the
    sensor's slow active mode). ``clock`` is a test seam.
    """

    name = "pms5003"
    default_timeout = 3.0
    OPTIONS = (
        *port_options(default_timeout, warmup=True),
        Option(
            "mode",
            str,
            "active",
            "the sensor sends frames, or answers requests",
            choices=("active", "passive"),
        ),
    )
    READINGS = tuple(ReadingSpec(key, _UNITS[key.split("_")[0]]) for key in _READING_ORDER)

    def __init__(
        self,
        *,
        port: Any = DEFAULT_DEVICE,
        mode: str = "active",
        warmup: float = 0,
        timeout: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.mode = _choice(self.name, "mode", mode, ("active", "passive"))
        super().__init__(port=port, timeout=timeout, warmup=warmup, clock=clock)

    def _start(self) -> None:
        self._write(PASSIVE_MODE if self.mode == "passive" else ACTIVE_MODE)

    def read_frame(self) -> PMSFrame:
        """The next valid frame (in passive mode, after asking for one)."""
        self._discard_input()  # stale frames and the mode command's acknowledgement
        if self.mode == "passive":
            self._write(PASSIVE_READ)
        # up to ~5 frames of garbage or damaged data before giving up
        return self._sync(
            header=HEADER, size=FRAME_SIZE, parse=parse_frame, max_skip=5 * FRAME_SIZE
        )

    def read(self) -> Readings:
        frame = self.read_frame()
        self._check_warm()
        return {
            key: self._reading(key, getattr(frame, key), _UNITS[key.split("_")[0]])
            for key in _READING_ORDER
        }
