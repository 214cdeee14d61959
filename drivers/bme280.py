"""Bosch BME280 temperature, pressure and humidity sensor over I2C.

Wiring (3.3 V part; most breakouts): VCC to 3V3 (pin 1), GND, SDA to GPIO2
(pin 3), SCL to GPIO3 (pin 5). The address is 0x76 with SDO to GND (most
boards) or 0x77 with SDO to VCC (Adafruit's default). Enable I2C on the Pi
(see :mod:`._i2c`); ``i2cdetect -y 1`` should show 76 or 77.

Many cheap boards sold as "BME280" carry a BMP280 (chip id 0x58: no
humidity); the chip-id check says so.

The module has two layers: pure decoding (:class:`BME280Calibration`,
:func:`unpack_data`, the ``compensate_*`` functions: the datasheet's
double-precision formulas, section 8.1) and the :class:`BME280` driver that
talks to the bus. In forced mode (the default) each :meth:`BME280.read`
starts one measurement and the sensor sleeps in between (about 0.1 uA);
normal mode lets the sensor measure continuously (standby 1 s) and reads
the latest result.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from . import _i2c
from ._base import (
    Driver,
    Option,
    Readings,
    ReadingSpec,
    SensorDataError,
    SensorUnavailableError,
)

__all__ = [
    "ADDRESSES",
    "BME280",
    "CHIP_ID",
    "BME280Calibration",
    "RawSample",
    "compensate",
    "compensate_humidity",
    "compensate_pressure",
    "compensate_temperature",
    "measurement_time",
    "t_fine",
    "unpack_data",
]

log = logging.getLogger(__name__)

ADDRESSES = (0x76, 0x77)
CHIP_ID = 0x60
#: ids other Bosch parts answer with at the same addresses
OTHER_CHIPS = {
    0x56: "a BMP280 (engineering sample): no humidity sensor",
    0x57: "a BMP280 (engineering sample): no humidity sensor",
    0x58: "a BMP280: no humidity sensor",
    0x61: "a BME680",
}

# registers
REG_CALIB_T_P = 0x88  # 0x88..0x9F, 24 bytes
REG_CALIB_H1 = 0xA1
REG_CHIP_ID = 0xD0
REG_CALIB_H = 0xE1  # 0xE1..0xE7, 7 bytes
REG_CTRL_HUM = 0xF2
REG_STATUS = 0xF3
REG_CTRL_MEAS = 0xF4
REG_CONFIG = 0xF5
REG_DATA = 0xF7  # 0xF7..0xFE, 8 bytes: press msb lsb xlsb, temp msb lsb xlsb, hum msb lsb

STATUS_MEASURING = 0x08
MODE_SLEEP, MODE_FORCED, MODE_NORMAL = 0b00, 0b01, 0b11
MODES = {"forced": MODE_FORCED, "normal": MODE_NORMAL}
#: oversampling factor -> the 3-bit osrs_x field (x1 = 0b001 ... x16 = 0b101)
OVERSAMPLING = {1: 0b001, 2: 0b010, 4: 0b011, 8: 0b100, 16: 0b101}
#: config register in normal mode: t_sb = 0b101 (1000 ms standby), filter off
CONFIG_NORMAL = 0b101 << 5
CONFIG_FORCED = 0x00

#: what the data registers hold for a skipped (or not yet made) measurement
SKIPPED_20BIT = 0x80000
SKIPPED_16BIT = 0x8000


# -- pure decoding ------------------------------------------------------------


def _u16(data: Sequence[int], i: int) -> int:
    return data[i] | (data[i + 1] << 8)


def _s16(data: Sequence[int], i: int) -> int:
    value = _u16(data, i)
    return value - 0x10000 if value & 0x8000 else value


def _s8(value: int) -> int:
    return value - 0x100 if value & 0x80 else value


@dataclass(frozen=True)
class BME280Calibration:
    """The trimming parameters burnt into each chip (datasheet table 16).

    ``t1``, ``p1`` and ``h1``, ``h3`` are unsigned, the others signed; ``h4``
    and ``h5`` are signed 12-bit values sharing register 0xE5.
    """

    t1: int
    t2: int
    t3: int
    p1: int
    p2: int
    p3: int
    p4: int
    p5: int
    p6: int
    p7: int
    p8: int
    p9: int
    h1: int
    h2: int
    h3: int
    h4: int
    h5: int
    h6: int

    @classmethod
    def from_registers(
        cls, block_88: Sequence[int], h1: int, block_e1: Sequence[int]
    ) -> BME280Calibration:
        """Build from registers 0x88-0x9F (24 bytes), 0xA1 and 0xE1-0xE7 (7 bytes).

        Raises :class:`SensorDataError` for wrong lengths or a blank
        calibration (all zeros or all ones: the bus returned nothing real).
        """
        if len(block_88) != 24 or len(block_e1) != 7:
            raise SensorDataError(
                "bme280: calibration needs 24 bytes from 0x88 and 7 from 0xE1, "
                f"got {len(block_88)} and {len(block_e1)}",
                driver="bme280",
            )
        if all(b == 0 for b in block_88) or all(b == 0xFF for b in block_88):
            raise SensorDataError(
                "bme280: the calibration registers are blank; is this a BME280?",
                driver="bme280",
            )
        e = block_e1
        return cls(
            t1=_u16(block_88, 0),
            t2=_s16(block_88, 2),
            t3=_s16(block_88, 4),
            p1=_u16(block_88, 6),
            p2=_s16(block_88, 8),
            p3=_s16(block_88, 10),
            p4=_s16(block_88, 12),
            p5=_s16(block_88, 14),
            p6=_s16(block_88, 16),
            p7=_s16(block_88, 18),
            p8=_s16(block_88, 20),
            p9=_s16(block_88, 22),
            h1=h1 & 0xFF,
            h2=_s16(e, 0),
            h3=e[2] & 0xFF,
            h4=(_s8(e[3]) << 4) | (e[4] & 0x0F),  # 0xE4 [11:4], 0xE5 [3:0]
            h5=(_s8(e[5]) << 4) | (e[4] >> 4),  # 0xE6 [11:4], 0xE5 [7:4]
            h6=_s8(e[6]),
        )


class RawSample(NamedTuple):
    """Raw ADC values: 20-bit pressure and temperature, 16-bit humidity."""

    pressure: int
    temperature: int
    humidity: int


def unpack_data(data: Sequence[int]) -> RawSample:
    """Split the 8 data bytes read from 0xF7 into raw values."""
    if len(data) != 8:
        raise SensorDataError(f"bme280: expected 8 data bytes, got {len(data)}", driver="bme280")
    return RawSample(
        pressure=(data[0] << 12) | (data[1] << 4) | (data[2] >> 4),
        temperature=(data[3] << 12) | (data[4] << 4) | (data[5] >> 4),
        humidity=(data[6] << 8) | data[7],
    )


def t_fine(raw_temperature: int, cal: BME280Calibration) -> float:
    """The fine temperature the pressure and humidity formulas share."""
    var1 = (raw_temperature / 16384.0 - cal.t1 / 1024.0) * cal.t2
    var2 = (raw_temperature / 131072.0 - cal.t1 / 8192.0) ** 2 * cal.t3
    return var1 + var2


def compensate_temperature(raw_temperature: int, cal: BME280Calibration) -> float:
    """Temperature in degrees C."""
    return t_fine(raw_temperature, cal) / 5120.0


def compensate_pressure(raw_pressure: int, raw_temperature: int, cal: BME280Calibration) -> float:
    """Pressure in hPa (the datasheet's formula gives Pa)."""
    fine = t_fine(raw_temperature, cal)
    var1 = fine / 2.0 - 64000.0
    var2 = var1 * var1 * cal.p6 / 32768.0
    var2 = var2 + var1 * cal.p5 * 2.0
    var2 = var2 / 4.0 + cal.p4 * 65536.0
    var1 = (cal.p3 * var1 * var1 / 524288.0 + cal.p2 * var1) / 524288.0
    var1 = (1.0 + var1 / 32768.0) * cal.p1
    if var1 == 0.0:
        raise SensorDataError("bme280: pressure calibration gives zero (p1 = 0?)", driver="bme280")
    p = 1048576.0 - raw_pressure
    p = (p - var2 / 4096.0) * 6250.0 / var1
    var1 = cal.p9 * p * p / 2147483648.0
    var2 = p * cal.p8 / 32768.0
    p = p + (var1 + var2 + cal.p7) / 16.0
    return p / 100.0


def compensate_humidity(raw_humidity: int, raw_temperature: int, cal: BME280Calibration) -> float:
    """Relative humidity in %, clamped to 0..100 as the datasheet does."""
    h = t_fine(raw_temperature, cal) - 76800.0
    h = (raw_humidity - (cal.h4 * 64.0 + cal.h5 / 16384.0 * h)) * (
        cal.h2 / 65536.0 * (1.0 + cal.h6 / 67108864.0 * h * (1.0 + cal.h3 / 67108864.0 * h))
    )
    h = h * (1.0 - cal.h1 * h / 524288.0)
    return min(100.0, max(0.0, h))


def compensate(raw: RawSample, cal: BME280Calibration) -> tuple[float, float, float]:
    """(temperature C, pressure hPa, humidity %) from a raw sample.

    Raises :class:`SensorDataError` when a value was skipped (the sensor
    reports 0x80000 / 0x8000: oversampling 0, or no measurement made yet).
    """
    skipped = [
        name
        for name, value, marker in (
            ("temperature", raw.temperature, SKIPPED_20BIT),
            ("pressure", raw.pressure, SKIPPED_20BIT),
            ("humidity", raw.humidity, SKIPPED_16BIT),
        )
        if value == marker
    ]
    if skipped:
        raise SensorDataError(
            f"bme280: no measurement in the data registers ({', '.join(skipped)} skipped)",
            driver="bme280",
        )
    return (
        compensate_temperature(raw.temperature, cal),
        compensate_pressure(raw.pressure, raw.temperature, cal),
        compensate_humidity(raw.humidity, raw.temperature, cal),
    )


def measurement_time(oversampling: int) -> float:
    """Maximum time in seconds of one measurement of all three values
    (datasheet appendix 9.1: 1.25 + 2.3 T + (2.3 P + 0.575) + (2.3 H + 0.575) ms)."""
    n = oversampling
    return (1.25 + 2.3 * n + (2.3 * n + 0.575) + (2.3 * n + 0.575)) / 1000.0


# -- the driver -----------------------------------------------------------------


class BME280(Driver):
    """A BME280 on I2C: readings ``temperature`` (C), ``pressure`` (hPa, at
    the station, not sea-level adjusted) and ``humidity`` (%).

    ``address`` 0x76 (SDO low) or 0x77 (SDO high). ``bus`` is a bus number or
    device path (opened on the first read, closed by :meth:`close`) or a bus
    object such as an ``smbus2.SMBus`` or a :class:`~._i2c.FakeI2CBus`
    (borrowed: left open). ``oversampling`` 1, 2, 4, 8 or 16 applies to all
    three values (more is less noisy and slower: 9 ms at 1, 113 ms at 16).
    ``mode`` "forced" measures on each read; "normal" measures every second.
    ``sleep`` is the wait function (a seam for tests). ``status_timeout`` bounds
    the wait, beyond the datasheet's maximum time, for the measuring bit to clear.
    """

    name = "bme280"
    OPTIONS = (
        Option("address", (int, str), 0x76, "I2C address: 0x76 (SDO to GND) or 0x77 (SDO to VCC)"),
        Option("bus", (int, str), 1, "I2C bus number (1 is /dev/i2c-1) or device path"),
        Option("oversampling", int, 1, "samples per value", choices=(1, 2, 4, 8, 16)),
        Option(
            "mode",
            str,
            "forced",
            "measure on each read, or continuously",
            choices=("forced", "normal"),
        ),
        Option("status_timeout", float, 0.1, "seconds to wait beyond the datasheet time", low=0),
    )
    READINGS = (
        ReadingSpec("temperature", "C"),
        ReadingSpec("pressure", "hPa", "at the station, not sea-level adjusted"),
        ReadingSpec("humidity", "%"),
    )

    #: pause between polls of the status register
    POLL_INTERVAL = 0.002

    def __init__(
        self,
        *,
        address: int | str = 0x76,
        bus: int | str | Any = 1,
        oversampling: int = 1,
        mode: str = "forced",
        sleep: Callable[[float], None] = time.sleep,
        status_timeout: float = 0.1,
    ) -> None:
        self.address = _i2c.check_address(self.name, address, ADDRESSES)
        oversampling = self.option("oversampling").check(self.name, oversampling)
        mode = self.option("mode").check(self.name, mode)
        status_timeout = self.option("status_timeout").check(self.name, status_timeout)
        self.oversampling = oversampling
        self.mode = mode
        self._sleep = sleep
        self._status_timeout = float(status_timeout)
        self._bus = _i2c.BusRef(
            bus,
            driver=self.name,
            needs=("read_byte_data", "write_byte_data", "read_i2c_block_data"),
        )
        self.calibration: BME280Calibration | None = None
        self._configured = False

    def __repr__(self) -> str:
        return f"<BME280 driver 'bme280' at 0x{self.address:02X} on {self._bus.label}>"

    # bits of the control registers
    @property
    def _ctrl_hum(self) -> int:
        return OVERSAMPLING[self.oversampling]

    @property
    def _ctrl_meas(self) -> int:
        osrs = OVERSAMPLING[self.oversampling]
        return (osrs << 5) | (osrs << 2) | MODES[self.mode]

    def _hint(self) -> str:
        other = 0x77 if self.address == 0x76 else 0x76
        return (
            f"check the wiring, or try address 0x{other:02X} "
            f"(0x76 with SDO to GND, 0x77 with SDO to VCC); i2cdetect -y 1 lists addresses"
        )

    def read(self) -> Readings:
        bus = self._bus.get()
        try:
            with _i2c.bus_errors(self.name, self.address, self._bus.label, self._hint()):
                if not self._configured:
                    self._setup(bus)
                if self.mode == "forced":
                    # ctrl_hum only takes effect with the ctrl_meas write that follows
                    bus.write_byte_data(self.address, REG_CTRL_HUM, self._ctrl_hum)
                    bus.write_byte_data(self.address, REG_CTRL_MEAS, self._ctrl_meas)
                    self._sleep(measurement_time(self.oversampling))
                    self._wait_until_done(bus)
                # one burst read, so the values belong to one measurement
                data = bus.read_i2c_block_data(self.address, REG_DATA, 8)
        except SensorUnavailableError:
            self._configured = False  # the sensor may have been reset: set it up again
            raise
        assert self.calibration is not None
        try:
            temperature, pressure, humidity = compensate(unpack_data(data), self.calibration)
        except SensorDataError:
            # reset values: a power-cycled sensor sleeps with empty data registers
            self._configured = False
            raise
        return {
            "temperature": self._reading("temperature", temperature, "C"),
            "pressure": self._reading("pressure", pressure, "hPa"),
            "humidity": self._reading("humidity", humidity, "%"),
        }

    def _setup(self, bus: Any) -> None:
        chip = bus.read_byte_data(self.address, REG_CHIP_ID)
        if chip != CHIP_ID:
            what = OTHER_CHIPS.get(chip, "not a BME280")
            raise SensorDataError(
                f"bme280: the device at 0x{self.address:02X} on {self._bus.label} has chip id "
                f"0x{chip:02X} ({what}); a BME280 answers 0x{CHIP_ID:02X}. {self._hint()}",
                driver=self.name,
            )
        if self.calibration is None:
            block_88 = bus.read_i2c_block_data(self.address, REG_CALIB_T_P, 24)
            h1 = bus.read_byte_data(self.address, REG_CALIB_H1)
            block_e1 = bus.read_i2c_block_data(self.address, REG_CALIB_H, 7)
            self.calibration = BME280Calibration.from_registers(block_88, h1, block_e1)
            log.debug("bme280 at 0x%02X: calibration %s", self.address, self.calibration)
        # config is only reliably written in sleep mode
        bus.write_byte_data(self.address, REG_CTRL_MEAS, MODE_SLEEP)
        if self.mode == "normal":
            bus.write_byte_data(self.address, REG_CONFIG, CONFIG_NORMAL)
            bus.write_byte_data(self.address, REG_CTRL_HUM, self._ctrl_hum)
            bus.write_byte_data(self.address, REG_CTRL_MEAS, self._ctrl_meas)
            self._sleep(measurement_time(self.oversampling))  # the first measurement
        else:
            bus.write_byte_data(self.address, REG_CONFIG, CONFIG_FORCED)
        self._configured = True

    def _wait_until_done(self, bus: Any) -> None:
        waited = 0.0
        while bus.read_byte_data(self.address, REG_STATUS) & STATUS_MEASURING:
            if waited >= self._status_timeout:
                raise SensorUnavailableError(
                    f"bme280 at 0x{self.address:02X}: measurement not finished "
                    f"{measurement_time(self.oversampling) + waited:.3f} s after it started",
                    driver=self.name,
                )
            self._sleep(self.POLL_INTERVAL)
            waited += self.POLL_INTERVAL

    def close(self) -> None:
        """Close the bus if this driver opened it; a passed-in bus stays open."""
        self._bus.close()
        self._configured = False
