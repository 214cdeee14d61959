"""ROHM BH1750 (BH1750FVI) ambient light sensor over I2C.

Wiring: VCC to 3V3, GND, SDA to GPIO2 (pin 3), SCL to GPIO3 (pin 5). The
address is 0x23 with ADDR low or floating (most modules pull it down) and
0x5C with ADDR high; datasheets write them as 8-bit 0x46 / 0xB8.

The chip has no registers: it takes one-byte opcodes (power on 0x01, reset
0x07, a measurement mode) and answers a plain two-byte read with the last
result, big-endian. The driver sends opcodes with ``write_byte`` and reads
with a plain read (``i2c_rdwr`` with one read message), not with an SMBus
block read, which would first send a "register" byte that the chip takes
as an opcode.

One-time modes (the default "high") measure once per :meth:`BH1750.read`
and power down after it; continuous modes keep measuring and a read takes
the latest result without waiting (only the first read waits).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from ..errors import InvalidInputError
from . import _i2c
from ._base import Driver, Option, Readings, ReadingSpec, SensorUnavailableError

__all__ = ["ADDRESSES", "BH1750", "MODES", "Mode", "raw_to_lux"]

log = logging.getLogger(__name__)

ADDRESSES = (0x23, 0x5C)

POWER_DOWN = 0x00
POWER_ON = 0x01
RESET = 0x07


class Mode(NamedTuple):
    """A measurement mode: its opcode, the datasheet's maximum measurement
    time in seconds (at the default MTreg of 69), the divisor from counts to
    lux beyond the 1.2 every mode has, and whether it keeps measuring."""

    opcode: int
    wait: float
    divisor: float
    continuous: bool


MODES: dict[str, Mode] = {
    # one-time: measure once, then power down
    "high": Mode(0x20, 0.180, 1.0, False),  # 1 lx resolution
    "high2": Mode(0x21, 0.180, 2.0, False),  # 0.5 lx resolution
    "low": Mode(0x23, 0.024, 1.0, False),  # 4 lx resolution
    # continuous
    "continuous_high": Mode(0x10, 0.180, 1.0, True),
    "continuous_high2": Mode(0x11, 0.180, 2.0, True),
    "continuous_low": Mode(0x13, 0.024, 1.0, True),
}


def raw_to_lux(raw: int, mode: str = "high") -> float:
    """Illuminance in lux from the 16-bit count: ``raw / 1.2``, halved in the
    high-resolution mode 2 ("high2", "continuous_high2")."""
    if mode not in MODES:
        raise InvalidInputError(
            f"unknown BH1750 mode {mode!r}; one of {', '.join(MODES)}", field="mode"
        )
    if not 0 <= raw <= 0xFFFF:
        raise InvalidInputError(f"a BH1750 count is 16 bits, not {raw!r}", field="raw")
    return raw / 1.2 / MODES[mode].divisor


class BH1750(Driver):
    """A BH1750 on I2C: reading ``illuminance`` in lx (1 to 65535 lx).

    ``address`` 0x23 (ADDR low) or 0x5C (ADDR high). ``mode`` one of
    "high" (one-time, 1 lx, default), "high2" (0.5 lx), "low" (4 lx, 24 ms)
    or their "continuous_" variants. ``bus`` a bus number or device path
    (opened on the first read, closed by :meth:`close`) or a bus object
    (borrowed). ``sleep`` is the wait function (a seam for tests).
    """

    name = "bh1750"
    OPTIONS = (
        Option("address", (int, str), 0x23, "I2C address: 0x23 (ADDR low) or 0x5C (ADDR high)"),
        Option(
            "mode",
            str,
            "high",
            "measurement mode (resolution, one-time or continuous)",
            choices=tuple(MODES),
        ),
        Option("bus", (int, str), 1, "I2C bus number (1 is /dev/i2c-1) or device path"),
    )
    READINGS = (ReadingSpec("illuminance", "lx"),)

    def __init__(
        self,
        *,
        address: int | str = 0x23,
        mode: str = "high",
        bus: int | str | Any = 1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.address = _i2c.check_address(self.name, address, ADDRESSES)
        self.mode = self.option("mode").check(self.name, mode)
        self._mode = MODES[self.mode]
        self._sleep = sleep
        self._bus = _i2c.BusRef(bus, driver=self.name, needs=("write_byte", "i2c_rdwr"))
        self._running = False  # a continuous measurement was started

    def __repr__(self) -> str:
        return f"<BH1750 driver 'bh1750' at 0x{self.address:02X} on {self._bus.label}>"

    def read(self) -> Readings:
        bus = self._bus.get()
        other = 0x5C if self.address == 0x23 else 0x23
        hint = f"check the wiring and the ADDR pin (or try address 0x{other:02X})"
        try:
            with _i2c.bus_errors(self.name, self.address, self._bus.label, hint):
                if not self._running:
                    bus.write_byte(self.address, POWER_ON)
                    bus.write_byte(self.address, self._mode.opcode)
                    self._sleep(self._mode.wait)
                    self._running = self._mode.continuous
                data = _i2c.read_bytes(bus, self.address, 2)
        except SensorUnavailableError:
            self._running = False
            raise
        raw = int.from_bytes(data, "big")
        return {"illuminance": self._reading("illuminance", raw_to_lux(raw, self.mode), "lx")}

    def close(self) -> None:
        """Power a continuously measuring sensor down, and close the bus if
        this driver opened it (a passed-in bus stays open)."""
        if self._running and self._bus.is_open:
            try:
                self._bus.get().write_byte(self.address, POWER_DOWN)
            except OSError as exc:  # unplugged: nothing to power down
                log.debug("bh1750 at 0x%02X: power down failed: %s", self.address, exc)
        self._running = False
        self._bus.close()
