"""The I2C seam shared by the I2C drivers (BME280, BH1750).

A driver takes ``bus=``: an int (``1`` is ``/dev/i2c-1``, the header pins 3/5
on a Raspberry Pi) or a device path opens a real :class:`smbus2.SMBus` lazily,
on the first read, and the driver closes it again; any other object is used
as the bus as it is (a shared ``SMBus``, or a
:class:`~iota_publisher.drivers.fakes.FakeI2CBus`), and the driver leaves it open.

On a Raspberry Pi, enable I2C first (``sudo raspi-config`` -> Interface
Options -> I2C, or ``dtparam=i2c_arm=on`` in ``/boot/firmware/config.txt``),
add the user to the ``i2c`` group, and ``pip install iota-publisher[pi]``.
``i2cdetect -y 1`` (package i2c-tools) lists the addresses that answer.

The fake bus for tests and examples, a register map per address that speaks
the part of the smbus2 API the drivers use, is
:class:`iota_publisher.drivers.fakes.FakeI2CBus`.
"""

from __future__ import annotations

import ctypes
import errno
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..errors import ConfigError
from ._base import SensorUnavailableError

__all__ = [
    "BusRef",
    "bus_errors",
    "check_address",
    "open_bus",
    "read_bytes",
]

log = logging.getLogger(__name__)

#: errno the Linux i2c-dev driver returns when no device acknowledges an address
#: (``errno.EREMOTEIO`` exists on Linux only, hence the number)
EREMOTEIO = 121
#: the largest block smbus2 (and the SMBus protocol) transfers at once
BLOCK_MAX = 32
#: i2c_msg flag of a read message (``I2C_M_RD`` in linux/i2c.h)
I2C_M_RD = 0x0001

INSTALL_HINT = "pip install iota-publisher[pi]"
ENABLE_HINT = (
    "enable I2C (sudo raspi-config -> Interface Options -> I2C, or dtparam=i2c_arm=on "
    "in /boot/firmware/config.txt) and reboot"
)


def open_bus(bus: int | str = 1) -> Any:
    """Open I2C bus ``bus`` (a number, or a path such as ``"/dev/i2c-1"``) with smbus2.

    Raises :class:`ConfigError` (``field="bus"``) when smbus2 is not installed
    or the path is not an I2C bus device, and :class:`SensorUnavailableError`
    when the bus is absent (I2C not enabled yet), may not be opened, or fails
    otherwise: absent hardware is a failing sensor, retried, never fatal.
    """
    if isinstance(bus, bool) or not isinstance(bus, (int, str)):
        raise ConfigError(f"an I2C bus is a number or a device path, not {bus!r}", field="bus")
    try:
        import smbus2
    except ImportError as exc:
        raise ConfigError(
            f"reading I2C sensors needs the smbus2 package: {INSTALL_HINT}", field="bus"
        ) from exc
    path = f"/dev/i2c-{bus}" if isinstance(bus, int) else bus
    try:
        return smbus2.SMBus(bus)
    except FileNotFoundError as exc:
        raise SensorUnavailableError(
            f"I2C bus {path} does not exist: {ENABLE_HINT}", driver=None
        ) from exc
    except PermissionError as exc:
        raise SensorUnavailableError(
            f"no permission to open I2C bus {path}: add the user to the 'i2c' group "
            "(sudo adduser $USER i2c) and log in again",
            driver=None,
        ) from exc
    except OSError as exc:
        if exc.errno == errno.ENOTTY:
            raise ConfigError(f"{path} is not an I2C bus device", field="bus") from exc
        raise SensorUnavailableError(
            f"cannot open I2C bus {path}: {exc.strerror or exc}", driver=None
        ) from exc


def check_address(driver: str, value: Any, allowed: Sequence[int]) -> int:
    """Validate an I2C address option: an int, or a string such as ``"0x76"``
    (JSON has no hex literals), that is one of ``allowed``."""
    choices = " or ".join(f"0x{a:02X}" for a in allowed)
    address = value
    if isinstance(value, str):
        try:
            address = int(value, 0)
        except ValueError:
            address = None
    if isinstance(address, bool) or not isinstance(address, int) or address not in allowed:
        shown = f"0x{address:02X}" if isinstance(address, int) and address >= 0 else repr(value)
        raise ConfigError(
            f"driver {driver!r}: option 'address' must be {choices}, not {shown}", field="address"
        )
    return address


def _describe(bus: Any) -> str:
    return f"I2C bus {bus if isinstance(bus, (int, str)) else type(bus).__name__}"


class BusRef:
    """A driver's hold on its bus: opened lazily and owned (a number or a path),
    or borrowed (any other object, never closed here).

    ``needs`` names the bus methods the driver calls; a borrowed object without
    them is a :class:`ConfigError` at construction, not an AttributeError later.
    """

    def __init__(
        self,
        bus: Any,
        *,
        driver: str,
        needs: Sequence[str] = (),
    ) -> None:
        if isinstance(bus, bool) or bus is None:
            raise ConfigError(
                f"driver {driver!r}: option 'bus' must be a bus number, a device path "
                f"or a bus object, not {bus!r}",
                field="bus",
            )
        if isinstance(bus, int) and bus < 0:
            raise ConfigError(f"driver {driver!r}: option 'bus' must be >= 0", field="bus")
        if not isinstance(bus, (int, str)):
            missing = [name for name in needs if not callable(getattr(bus, name, None))]
            if missing:
                raise ConfigError(
                    f"driver {driver!r}: the bus object {type(bus).__name__} lacks "
                    f"{', '.join(missing)}",
                    field="bus",
                )
        self.spec = bus
        self.driver = driver
        self.owned = isinstance(bus, (int, str))
        self.label = _describe(bus)
        self._bus: Any = None if self.owned else bus

    def get(self) -> Any:
        """The bus, opening it on first use when it is ours to open."""
        if self._bus is None:
            try:
                self._bus = open_bus(self.spec)
            except SensorUnavailableError as exc:
                raise SensorUnavailableError(f"{self.driver}: {exc}", driver=self.driver) from exc
            log.debug("opened %s", self.label)
        return self._bus

    @property
    def is_open(self) -> bool:
        return self._bus is not None

    def close(self) -> None:
        """Close a bus we opened (idempotent); a borrowed bus is left alone."""
        if self.owned and self._bus is not None:
            bus, self._bus = self._bus, None
            bus.close()
            log.debug("closed %s", self.label)


@contextmanager
def bus_errors(driver: str, address: int, label: str, hint: str = "") -> Iterator[None]:
    """Turn an OSError from the bus into a :class:`SensorUnavailableError`
    naming the driver, the address and the bus."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        message = f"{driver}: no answer at address 0x{address:02X} on {label} ({reason})"
        if hint:
            message += f"; {hint}"
        raise SensorUnavailableError(message, driver=driver) from exc


class _I2CMsg:
    """Stand-in for ``smbus2.i2c_msg`` when smbus2 is not installed (then the
    bus can only be a fake): same fields, ``bytes()`` and iteration."""

    def __init__(self, addr: int, flags: int, data: bytes | int) -> None:
        self.addr = addr
        self.flags = flags
        if isinstance(data, int):
            self.buf = ctypes.create_string_buffer(data)
        else:
            self.buf = ctypes.create_string_buffer(bytes(data), len(data))
        self.len = len(self.buf)

    @staticmethod
    def read(address: int, length: int) -> _I2CMsg:
        return _I2CMsg(address, I2C_M_RD, length)

    @staticmethod
    def write(address: int, buf: bytes | Sequence[int]) -> _I2CMsg:
        return _I2CMsg(address, 0, bytes(buf))

    def __bytes__(self) -> bytes:
        return self.buf.raw[: self.len]

    def __iter__(self) -> Iterator[int]:
        return iter(bytes(self))

    def __len__(self) -> int:
        return self.len

    def __repr__(self) -> str:
        return f"i2c_msg({self.addr},{self.flags},{bytes(self)!r})"


def _msg_class() -> Any:
    try:
        from smbus2 import i2c_msg
    except ImportError:
        return _I2CMsg
    return i2c_msg


def read_bytes(bus: Any, address: int, length: int) -> bytes:
    """Plain I2C read of ``length`` bytes (START, address+R, bytes, STOP) with
    no register byte written first, through ``bus.i2c_rdwr``.

    For devices without registers (BH1750): SMBus block reads would send a
    command byte first, and ``read_byte`` reads one byte per transfer.
    """
    msg = _msg_class().read(address, length)
    bus.i2c_rdwr(msg)
    return bytes(msg)
