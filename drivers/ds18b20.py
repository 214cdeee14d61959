"""Maxim DS18B20 1-Wire temperature sensor through the Linux w1 sysfs interface.

Wiring: VDD to 3V3, GND, DQ to GPIO4 (pin 7) with a 4.7 kOhm pull-up from DQ
to 3V3 (waterproof probes: red VDD, black GND, yellow or white DQ). Enable
the bus with ``dtoverlay=w1-gpio`` in ``/boot/firmware/config.txt``
(``/boot/config.txt`` before Bookworm; ``dtoverlay=w1-gpio,gpiopin=N`` for
another pin) and reboot. Each sensor then appears as
``/sys/bus/w1/devices/28-<serial>/`` (family code 28).

Reading ``w1_slave`` makes the kernel run a conversion (up to 750 ms at 12
bits) and prints the 9 scratchpad bytes twice::

    72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
    72 01 4b 46 7f ff 0e 10 57 t=23125

``NO`` means the CRC failed (noise, a long cable): read again. 85.000 C is
the value the scratchpad holds at power-on, and a conversion that did not
run (parasite power, brown-out) reports it: treated as suspect and retried.
Newer kernels also offer a ``temperature`` file with the millidegrees
alone; it is used when ``w1_slave`` is absent.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigError
from ._base import Driver, Option, Readings, ReadingSpec, SensorDataError, SensorUnavailableError

__all__ = [
    "DEFAULT_BASE",
    "DS18B20",
    "POWER_ON_VALUE",
    "find_devices",
    "parse_temperature_file",
    "parse_w1_slave",
]

log = logging.getLogger(__name__)

DEFAULT_BASE = "/sys/bus/w1/devices"
FAMILY = "28"
POWER_ON_VALUE = 85.0
RETRY_DELAY = 0.2

OVERLAY_HINT = (
    "enable 1-Wire with dtoverlay=w1-gpio in /boot/firmware/config.txt and reboot; "
    "the sensor's data line goes to GPIO4 with a 4.7 kOhm pull-up to 3.3 V"
)

_DEVICE = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{12}$")
_CRC_LINE = re.compile(r"^((?:[0-9a-f]{2}\s+){9}):\s*crc=([0-9a-f]{2})\s+(YES|NO)$", re.IGNORECASE)
_T_LINE = re.compile(r"^(?:[0-9a-f]{2}\s+){9}t=(-?\d+)$", re.IGNORECASE)


def _error(message: str) -> SensorDataError:
    return SensorDataError(f"ds18b20: {message}", driver="ds18b20")


def parse_w1_slave(text: str) -> float:
    """Temperature in C from the text of a ``w1_slave`` file.

    Raises :class:`SensorDataError` when the CRC check failed (``NO``), the
    text is not the two expected lines, or the scratchpad is all zeros (what
    a shorted or unpowered data line reads as, with a valid CRC of 00).
    """
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) != 2:
        raise _error(f"w1_slave should have 2 lines, has {len(lines)}: {text!r}")
    crc = _CRC_LINE.match(lines[0])
    reading = _T_LINE.match(lines[1])
    if crc is None or reading is None:
        raise _error(f"w1_slave is malformed: {text!r}")
    if crc.group(3).upper() != "YES":
        raise _error(f"CRC check failed (crc={crc.group(2)} NO)")
    if all(int(b, 16) == 0 for b in crc.group(1).split()):
        raise _error("the scratchpad is all zeros: check the data line and the pull-up")
    return int(reading.group(1)) / 1000.0


def parse_temperature_file(text: str) -> float:
    """Temperature in C from the ``temperature`` file (millidegrees)."""
    try:
        return int(text.strip()) / 1000.0
    except ValueError:
        raise _error(f"temperature file is malformed: {text!r}") from None


def find_devices(base: str | Path = DEFAULT_BASE) -> list[str]:
    """Names of the DS18B20s (family 28) under ``base``, sorted.

    Raises :class:`SensorUnavailableError` when ``base`` does not exist (the
    w1-gpio overlay is not loaded).
    """
    root = Path(base)
    if not root.is_dir():
        raise SensorUnavailableError(
            f"ds18b20: {root} does not exist; {OVERLAY_HINT}", driver="ds18b20"
        )
    return sorted(p.name for p in root.glob(f"{FAMILY}-*") if _DEVICE.match(p.name))


class DS18B20(Driver):
    """A DS18B20 on the 1-Wire bus: reading ``temperature`` in C.

    ``device`` is the sensor's sysfs name ("28-0316a2794cff"); without it,
    the only 28-* device present is used (a :class:`ConfigError` lists them
    when there are several). ``base`` is the sysfs directory (a seam for
    tests), ``retries`` how many more reads follow a failed CRC or a suspect
    85 C, ``sleep`` the wait function between them.
    """

    name = "ds18b20"
    OPTIONS = (
        Option("device", str, None, "the sensor's 1-Wire id (28-...); default: the only one"),
        Option("base", (str, os.PathLike), DEFAULT_BASE, "the 1-Wire sysfs folder"),
        Option("retries", int, 3, "more reads after a bad CRC or a suspect 85 C", low=0),
    )
    READINGS = (ReadingSpec("temperature", "C"),)

    def __init__(
        self,
        *,
        device: str | None = None,
        base: str | Path = DEFAULT_BASE,
        retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if device is not None and (not isinstance(device, str) or not _DEVICE.match(device)):
            raise ConfigError(
                f"driver 'ds18b20': option 'device' must be a 1-Wire id such as "
                f"'28-0316a2794cff', not {device!r}",
                field="device",
            )
        if not isinstance(base, (str, Path)):
            raise ConfigError("driver 'ds18b20': option 'base' must be a path", field="base")
        retries = self.option("retries").check(self.name, retries)
        self.device = device
        self.base = Path(base)
        self.retries = retries
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"<DS18B20 driver 'ds18b20' {self.device or '(first found)'}>"

    def _device_dir(self) -> Path:
        found = find_devices(self.base)
        if self.device is None:
            if not found:
                raise SensorUnavailableError(
                    f"ds18b20: no DS18B20 (28-*) under {self.base}; check the wiring and the "
                    "4.7 kOhm pull-up",
                    driver=self.name,
                )
            if len(found) > 1:
                raise ConfigError(
                    f"driver 'ds18b20': several sensors found ({', '.join(found)}); "
                    "choose one with the option 'device'",
                    field="device",
                )
            self.device = found[0]  # keep it, even if another sensor is plugged in later
            log.info("ds18b20: using %s", self.device)
        elif not (self.base / self.device).is_dir():
            raise SensorUnavailableError(
                f"ds18b20: {self.device} is not under {self.base} (found: "
                f"{', '.join(found) or 'none'})",
                driver=self.name,
            )
        return self.base / self.device

    def _read_once(self, directory: Path) -> float:
        try:
            return parse_w1_slave((directory / "w1_slave").read_text(encoding="ascii"))
        except FileNotFoundError:
            pass
        return parse_temperature_file((directory / "temperature").read_text(encoding="ascii"))

    def read(self) -> Readings:
        directory = self._device_dir()
        error: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(RETRY_DELAY)
            try:
                value = self._read_once(directory)
            except FileNotFoundError as exc:
                raise SensorUnavailableError(
                    f"ds18b20: {directory.name} disappeared (or has neither w1_slave nor "
                    "temperature)",
                    driver=self.name,
                ) from exc
            except SensorDataError as exc:
                error = exc
            except (OSError, UnicodeDecodeError) as exc:  # EIO from the w1 core
                error = SensorUnavailableError(
                    f"ds18b20: reading {directory.name} failed: {exc}", driver=self.name
                )
                error.__cause__ = exc
            else:
                if value != POWER_ON_VALUE:
                    return {"temperature": self._reading("temperature", value, "C")}
                error = _error(
                    f"{directory.name} reports 85.000 C, the power-on value: the conversion "
                    "probably did not run (power supply, parasite power)"
                )
            log.debug("ds18b20 %s: attempt %d failed: %s", directory.name, attempt + 1, error)
        assert error is not None
        raise error
