"""Nordic Thingy:52 environment sensors over Bluetooth LE (bleak).

The Thingy:52's environment characteristics are *notify only*: they cannot be
read, a client subscribes and the Thingy sends a value every configured
interval. So the driver keeps one connection open for its lifetime (an
unconnected Thingy sleeps after 180 s of advertising) and :meth:`Thingy52.read`
waits until every subscribed characteristic has sent one value since the read
began, then reads the battery level::

    with create_driver("thingy52", {"address": "C4:6A:12:34:56:78"}) as thingy:
        thingy.read()   # {"temperature": Reading(..., unit="C"), "pressure": ..., ...}

Reading names and units:

=================================================  ======  ======================
name                                               unit    from
=================================================  ======  ======================
``temperature``                                    C       ``EF680201`` ``<bB``
``pressure``                                       hPa     ``EF680202`` ``<iB``
``humidity``                                       %       ``EF680203`` ``<B``
``eco2``, ``tvoc``                                 ppm,    ``EF680204`` ``<HH``
                                                   ppb     (CCS811)
``color_red``, ``color_green``, ``color_blue``,    None    ``EF680205`` ``<HHHH``
``color_clear``                                            (raw counts, not lux)
``battery``                                        %       ``2A19`` (read)
=================================================  ======  ======================

Options: ``address`` (MAC; on macOS the CoreBluetooth UUID) or ``name``
(advertised name, default ``"Thingy"``), ``adapter`` (``"hci0"``), ``sensors``
(subset of ``temperature, pressure, humidity, gas, color``; default the first
four), ``interval`` (ms, 200-60000: when given, the environment configuration
is written on every connect: all four sampling intervals, and the gas mode
whose period fits: 1 s below 10 s, 10 s below 60 s, else 60 s), ``timeout``
(seconds to wait for one value of each subscribed characteristic, default 10;
note the CCS811 gas sensor reports only every 10 s in the default gas mode 2).

Design:

* decoding is pure (:func:`decode_temperature` ... :func:`decode_config`);
* bleak is asyncio, the agent is not: the driver runs **one** private event
  loop in a daemon thread for its lifetime and submits coroutines to it
  (calling ``asyncio.run`` per read breaks BlueZ's D-Bus connection); that
  loop thread, the reconnect backoff and the bleak glue live in :mod:`._ble`;
* on a disconnect (bleak's ``disconnected_callback``, or ``is_connected``
  turning false) the next read scans for the device again (connecting by
  address without a recent scan fails on BlueZ) and reconnects, up to
  :attr:`Thingy52.connect_attempts` tries with exponential backoff;
* seams: ``client=`` (a factory called as ``client(device,
  disconnected_callback=...)``, or an object with bleak's ``BleakClient``
  API), ``scanner=`` (``async scanner(address=, name=, adapter=, timeout=)``
  returning a device or ``None``), ``sleep=`` (sync or async). When ``client``
  is given without ``scanner``, nothing is scanned: the factory gets the
  address (or name) string. :class:`~iota_publisher.drivers.fakes.FakeBleClient`
  and :class:`~iota_publisher.drivers.fakes.FakeScanner` ship in the package,
  so examples run without a radio.

Known firmware subtleties (Nordic-Thingy52-FW ``m_environment.c``): the
temperature's whole part is truncated toward zero and the hundredths are a
float cast to ``uint8``; Nordic's sample apps print them without zero padding
(23.05 C shows as "23.5"), this driver computes ``whole + hundredths / 100``.
Below 0 C the negative fraction either arrives wrapped (-1.25 C as whole -1,
hundredths 231) or saturated to 0 (then -1.25 C reads -1.0): a hundredths
byte of 157-255 with a whole part <= 0 is read as the signed fraction; any
other byte above 99 is rejected. Some older firmware caps the intervals at 5000 ms.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import struct
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from . import _ble
from ._base import (
    Driver,
    DriverError,
    Option,
    Readings,
    ReadingSet,
    ReadingSpec,
    SensorDataError,
    SensorUnavailableError,
    check_option,
)

__all__ = [
    "BATTERY_LEVEL_UUID",
    "COLOR_UUID",
    "CONFIGURATION_SERVICE_UUID",
    "CONFIG_UUID",
    "DEFAULT_SENSORS",
    "ENVIRONMENT_SERVICE_UUID",
    "GAS_UUID",
    "HUMIDITY_UUID",
    "PRESSURE_UUID",
    "SENSORS",
    "TEMPERATURE_UUID",
    "EnvironmentConfig",
    "Thingy52",
    "decode_battery",
    "decode_color",
    "decode_config",
    "decode_gas",
    "decode_humidity",
    "decode_pressure",
    "decode_temperature",
    "encode_config",
    "gas_mode_for_interval",
]

log = logging.getLogger(__name__)

_DRIVER = "thingy52"


def _thingy_uuid(short: int) -> str:
    return f"ef68{short:04x}-9b35-4933-9b10-52ffa9740042"


CONFIGURATION_SERVICE_UUID = _thingy_uuid(0x0100)  # advertised: a good scan filter
ENVIRONMENT_SERVICE_UUID = _thingy_uuid(0x0200)
TEMPERATURE_UUID = _thingy_uuid(0x0201)
PRESSURE_UUID = _thingy_uuid(0x0202)
HUMIDITY_UUID = _thingy_uuid(0x0203)
GAS_UUID = _thingy_uuid(0x0204)
COLOR_UUID = _thingy_uuid(0x0205)
CONFIG_UUID = _thingy_uuid(0x0206)
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"

SENSORS = ("temperature", "pressure", "humidity", "gas", "color")
DEFAULT_SENSORS = ("temperature", "pressure", "humidity", "gas")
_UUID_OF = {
    "temperature": TEMPERATURE_UUID,
    "pressure": PRESSURE_UUID,
    "humidity": HUMIDITY_UUID,
    "gas": GAS_UUID,
    "color": COLOR_UUID,
}


# ---------------------------------------------------------------- pure decoding


def _check_length(what: str, data: bytes | bytearray, size: int) -> bytes:
    data = bytes(data)
    if len(data) != size:
        raise SensorDataError(
            f"{_DRIVER}: {what} value has {len(data)} bytes, expected {size}", driver=_DRIVER
        )
    return data


def decode_temperature(data: bytes | bytearray) -> float:
    """Degrees C from the 2-byte temperature notification (``<bB``: whole, hundredths)."""
    whole, hundredths = struct.unpack("<bB", _check_length("temperature", data, 2))
    if hundredths >= 157 and whole <= 0:
        hundredths -= 256  # a negative fraction cast to uint8 by the firmware: wrapped
    elif hundredths > 99:
        raise SensorDataError(
            f"{_DRIVER}: temperature hundredths byte {hundredths} is out of range", driver=_DRIVER
        )
    return round(whole + hundredths / 100, 2)


def decode_pressure(data: bytes | bytearray) -> float:
    """hPa from the 5-byte pressure notification (``<iB``: whole, hundredths)."""
    whole, hundredths = struct.unpack("<iB", _check_length("pressure", data, 5))
    if hundredths > 99:
        raise SensorDataError(
            f"{_DRIVER}: pressure hundredths byte {hundredths} is out of range", driver=_DRIVER
        )
    return round(whole + hundredths / 100, 2)


def decode_humidity(data: bytes | bytearray) -> int:
    """Relative humidity in % from the 1-byte humidity notification."""
    (value,) = struct.unpack("<B", _check_length("humidity", data, 1))
    if value > 100:
        raise SensorDataError(f"{_DRIVER}: humidity {value} % is out of range", driver=_DRIVER)
    return value


def decode_gas(data: bytes | bytearray) -> tuple[int, int]:
    """(eCO2 ppm, TVOC ppb) from the 4-byte gas notification (``<HH``)."""
    eco2, tvoc = struct.unpack("<HH", _check_length("gas", data, 4))
    return eco2, tvoc


def decode_color(data: bytes | bytearray) -> tuple[int, int, int, int]:
    """Raw (red, green, blue, clear) counts from the 8-byte colour notification."""
    red, green, blue, clear = struct.unpack("<HHHH", _check_length("color", data, 8))
    return red, green, blue, clear


def decode_battery(data: bytes | bytearray) -> int:
    """Battery level in % from the standard Battery Level characteristic (uint8)."""
    (value,) = struct.unpack("<B", _check_length("battery", data, 1))
    if value > 100:
        raise SensorDataError(f"{_DRIVER}: battery level {value} % is out of range", driver=_DRIVER)
    return value


_CONFIG_FORMAT = "<HHHHBBBB"
_CONFIG_SIZE = struct.calcsize(_CONFIG_FORMAT)  # 12
_INTERVAL_RANGES = {
    "temperature_interval": (100, 60000),
    "pressure_interval": (50, 60000),
    "humidity_interval": (100, 60000),
    "color_interval": (200, 60000),
}
GAS_MODE_PERIODS = {1: 1.0, 2: 10.0, 3: 60.0}  # gas mode -> seconds between values


@dataclass(frozen=True)
class EnvironmentConfig:
    """The environment service's 12-byte configuration (``EF680206``).

    Intervals are milliseconds; ``gas_mode`` 1, 2, 3 samples every 1 s, 10 s,
    60 s; ``led_*`` is the colour sensor's LED (0-255). Out-of-range values
    raise :class:`ConfigError` (the Thingy refuses such a write).
    """

    temperature_interval: int = 2000
    pressure_interval: int = 2000
    humidity_interval: int = 2000
    color_interval: int = 1500
    gas_mode: int = 2
    led_red: int = 103
    led_green: int = 78
    led_blue: int = 29

    def __post_init__(self) -> None:
        for name, (low, high) in _INTERVAL_RANGES.items():
            _check_range(name, getattr(self, name), low, high)
        _check_range("gas_mode", self.gas_mode, 1, 3)
        for name in ("led_red", "led_green", "led_blue"):
            _check_range(name, getattr(self, name), 0, 255)


def _check_range(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(
            f"{_DRIVER} config: {name} must be an integer in {low}..{high}, not {value!r}",
            field=name,
        )


def encode_config(config: EnvironmentConfig) -> bytes:
    """The 12 bytes to write to the configuration characteristic."""
    return struct.pack(
        _CONFIG_FORMAT,
        config.temperature_interval,
        config.pressure_interval,
        config.humidity_interval,
        config.color_interval,
        config.gas_mode,
        config.led_red,
        config.led_green,
        config.led_blue,
    )


def decode_config(data: bytes | bytearray) -> EnvironmentConfig:
    """The configuration read from the Thingy (SensorDataError when malformed)."""
    values = struct.unpack(_CONFIG_FORMAT, _check_length("config", data, _CONFIG_SIZE))
    try:
        return EnvironmentConfig(*values)
    except ConfigError as exc:
        raise SensorDataError(
            f"{_DRIVER}: device sent an invalid config: {exc}", driver=_DRIVER
        ) from None


def gas_mode_for_interval(interval_ms: int) -> int:
    """The gas mode whose sampling period is not longer than ``interval_ms`` (60 s at most)."""
    if interval_ms < 10_000:
        return 1
    if interval_ms < 60_000:
        return 2
    return 3


#: sensor -> the readings (name, unit) it gives
_READINGS_OF: dict[str, tuple[tuple[str, str | None], ...]] = {
    "temperature": (("temperature", "C"),),
    "pressure": (("pressure", "hPa"),),
    "humidity": (("humidity", "%"),),
    "gas": (("eco2", "ppm"), ("tvoc", "ppb")),
    "color": tuple((f"color_{c}", None) for c in ("red", "green", "blue", "clear")),
}


def _decode_readings(sensor: str, data: bytes) -> list[tuple[str, float | int, str | None]]:
    if sensor == "temperature":
        return [("temperature", decode_temperature(data), "C")]
    if sensor == "pressure":
        return [("pressure", decode_pressure(data), "hPa")]
    if sensor == "humidity":
        return [("humidity", decode_humidity(data), "%")]
    if sensor == "gas":
        eco2, tvoc = decode_gas(data)
        return [("eco2", eco2, "ppm"), ("tvoc", tvoc, "ppb")]
    red, green, blue, clear = decode_color(data)
    return [
        ("color_red", red, None),
        ("color_green", green, None),
        ("color_blue", blue, None),
        ("color_clear", clear, None),
    ]


# ---------------------------------------------------------------- options

_ADDRESS = re.compile(
    r"^(?:[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}"  # MAC (Linux, Windows)
    r"|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$"  # macOS
)


# ---------------------------------------------------------------- the driver


class Thingy52(Driver):
    """Environment readings (and battery) from a Nordic Thingy:52 over BLE.

    See the module documentation for options, reading names and seams.
    """

    name = "thingy52"
    OPTIONS = (
        Option("address", str, None, "the Thingy's MAC address (macOS: its CoreBluetooth UUID)"),
        Option("name", str, "Thingy", "its advertised name, when no address is given"),
        Option("adapter", str, None, "the Bluetooth adapter, such as hci0"),
        Option("sensors", (list, str), list(DEFAULT_SENSORS), f"from {', '.join(SENSORS)}"),
        Option("interval", int, None, "sampling interval in ms to configure", low=200, high=60000),
        Option("timeout", float, 10.0, "seconds to wait for one value of each", positive=True),
    )
    READINGS = tuple(
        ReadingSpec(name, unit) for sensor in SENSORS for name, unit in _READINGS_OF[sensor]
    ) + (ReadingSpec("battery", "%"),)

    @classmethod
    def declared_readings(cls, options: Mapping[str, Any]) -> ReadingSet:
        try:
            chosen = _check_sensors(options.get("sensors"))
        except ConfigError:
            chosen = DEFAULT_SENSORS
        names = {name for sensor in chosen for name, _ in _READINGS_OF[sensor]} | {"battery"}
        return ReadingSet(tuple(s for s in cls.READINGS if s.name in names))

    #: tries per read to (re)connect, with a pause of ``backoff_base * 2**n``
    #: seconds (at most ``backoff_max``) between them
    connect_attempts = 3
    backoff_base = 1.0
    backoff_max = 30.0
    #: seconds a scan may take, and bleak's connect timeout
    scan_timeout = 10.0
    connect_timeout = 30.0

    def __init__(
        self,
        *,
        address: str | None = None,
        name: str | None = None,
        adapter: str | None = None,
        sensors: Sequence[str] | str | None = None,
        interval: int | None = None,
        timeout: float = 10.0,
        client: Any = None,
        scanner: Callable[..., Awaitable[Any]] | None = None,
        sleep: Callable[[float], Any] | None = None,
    ) -> None:
        address = check_option(_DRIVER, {"address": address}, "address", str)
        if address is not None and not _ADDRESS.match(address):
            raise ConfigError(
                f"driver {_DRIVER!r}: option 'address' must be a MAC like C4:6A:12:34:56:78, "
                f"not {address!r}",
                field="address",
            )
        device_name = (
            check_option(_DRIVER, {"name": name}, "name", str) if name is not None else "Thingy"
        )
        if not device_name:
            raise ConfigError(f"driver {_DRIVER!r}: option 'name' is empty", field="name")
        self._address = address
        self._device_name = device_name
        self._adapter = self.option("adapter").check(_DRIVER, adapter)
        self._sensors = _check_sensors(sensors)
        self._interval = self.option("interval").check(_DRIVER, interval)
        self._timeout = float(self.option("timeout").check(_DRIVER, timeout))

        if client is None:
            _ble.require_bleak(_DRIVER)
            client = _ble.client_factory(self._adapter, self.connect_timeout)
            if scanner is None:
                scanner = _ble.bleak_find_device
        elif scanner is None:
            scanner = _ble.no_scan
        self._client_seam = client
        self._scanner = scanner
        self._sleep = sleep if sleep is not None else asyncio.sleep

        self._loop = _ble.LoopThread(f"{_DRIVER}-ble-loop")
        self._closed = False
        # owned by the loop thread from here on
        self._client: Any = None
        self._connected = False
        self._subscribed: list[str] = []
        self._values: dict[str, bytes] = {}
        self._counts: dict[str, int] = {}
        self._notified: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def target(self) -> str:
        """The address, or the advertised name, this driver looks for."""
        return self._address or f"name {self._device_name!r}"

    @property
    def sensors(self) -> tuple[str, ...]:
        return self._sensors

    # --- synchronous face

    def read(self) -> Readings:
        if self._closed:
            raise DriverError(f"{_DRIVER}: the driver is closed", driver=_DRIVER)
        guard = self._guard_seconds()
        try:
            return self._loop.run(self._read(), timeout=guard)
        except TimeoutError:
            raise SensorUnavailableError(
                f"{_DRIVER}: read from {self.target} did not finish within {guard:.0f} s",
                driver=_DRIVER,
            ) from None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._loop.started:
            return
        try:
            if self._loop.alive:
                self._loop.run(self._disconnect(), timeout=self.connect_timeout)
        except Exception as exc:  # noqa: BLE001 - closing must not fail
            log.warning("%s: error while disconnecting from %s: %s", _DRIVER, self.target, exc)
        finally:
            self._loop.stop(timeout=self.connect_timeout)

    def _guard_seconds(self) -> float:
        """Upper bound of one read, so a hung BlueZ call cannot block the agent forever."""
        per_try = self.scan_timeout + self.connect_timeout + self.backoff_max
        return self.connect_attempts * per_try + self._timeout + 10.0

    # --- inside the loop thread

    async def _read(self) -> Readings:
        if self._lock is None:
            self._lock = asyncio.Lock()
            self._notified = asyncio.Event()
        async with self._lock:
            await self._ensure_connected()
            return await self._collect()

    async def _ensure_connected(self) -> None:
        if self._client is not None and self._connected and _ble.is_connected(self._client):
            return
        if self._client is not None:
            log.info("%s: %s is disconnected; reconnecting", _DRIVER, self.target)
        await self._disconnect()
        await _ble.connect_with_retries(
            self._connect_once,
            self._disconnect,
            driver=_DRIVER,
            target=self.target,
            attempts=self.connect_attempts,
            backoff_base=self.backoff_base,
            backoff_max=self.backoff_max,
            sleep=self._sleep,
        )

    async def _connect_once(self) -> None:
        device = await self._scanner(
            address=self._address,
            name=None if self._address else self._device_name,
            adapter=self._adapter,
            timeout=self.scan_timeout,
        )
        if device is None:
            raise SensorUnavailableError(
                f"{_DRIVER}: {self.target} not found while scanning (out of range, or asleep: "
                "an unconnected Thingy sleeps after 180 s; move it or press its button)",
                driver=_DRIVER,
            )
        seam = self._client_seam
        if callable(seam):
            client = seam(device, disconnected_callback=self._on_disconnect)
        else:
            client = seam
        self._client = client
        await client.connect()
        self._connected = True
        if self._interval is not None:
            await self._write_config(client)
        for sensor in self._sensors:
            uuid = _UUID_OF[sensor]
            await client.start_notify(uuid, functools.partial(self._on_notify, uuid))
            self._subscribed.append(uuid)
        log.info(
            "%s: connected to %s, subscribed to %s", _DRIVER, self.target, ", ".join(self._sensors)
        )

    async def _write_config(self, client: Any) -> None:
        current = decode_config(await client.read_gatt_char(CONFIG_UUID))
        wanted = EnvironmentConfig(
            temperature_interval=self._interval,
            pressure_interval=self._interval,
            humidity_interval=self._interval,
            color_interval=self._interval,
            gas_mode=gas_mode_for_interval(self._interval),
            led_red=current.led_red,
            led_green=current.led_green,
            led_blue=current.led_blue,
        )
        if wanted != current:
            await client.write_gatt_char(CONFIG_UUID, encode_config(wanted), response=True)

    async def _collect(self) -> Readings:
        assert self._notified is not None
        loop = asyncio.get_running_loop()
        uuids = {sensor: _UUID_OF[sensor] for sensor in self._sensors}
        start = {uuid: self._counts.get(uuid, 0) for uuid in uuids.values()}
        deadline = loop.time() + self._timeout
        while True:
            missing = [s for s, u in uuids.items() if self._counts.get(u, 0) <= start[u]]
            if not missing:
                break
            if not self._connected or not _ble.is_connected(self._client):
                self._connected = False
                raise SensorUnavailableError(
                    f"{_DRIVER}: {self.target} disconnected while reading "
                    f"(no {', '.join(missing)} yet); the next read reconnects",
                    driver=_DRIVER,
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise SensorUnavailableError(
                    f"{_DRIVER}: no {', '.join(missing)} notification from {self.target} "
                    f"within {self._timeout:g} s",
                    driver=_DRIVER,
                )
            self._notified.clear()
            try:
                await asyncio.wait_for(self._notified.wait(), remaining)
            except asyncio.TimeoutError:
                pass

        readings: Readings = {}
        for sensor, uuid in uuids.items():
            for name, value, unit in _decode_readings(sensor, self._values[uuid]):
                readings[name] = self._reading(name, value, unit)
        try:
            raw_battery = await self._client.read_gatt_char(BATTERY_LEVEL_UUID)
        except Exception as exc:
            if not _ble.is_connected(self._client):
                self._connected = False
            raise SensorUnavailableError(
                f"{_DRIVER}: reading the battery level of {self.target} failed: {exc}",
                driver=_DRIVER,
            ) from exc
        readings["battery"] = self._reading("battery", decode_battery(raw_battery), "%")
        return readings

    async def _disconnect(self) -> None:
        """Stop notifications and disconnect, ignoring errors (the link may be gone)."""
        client, self._client = self._client, None
        subscribed, self._subscribed = self._subscribed, []
        self._connected = False
        if client is None:
            return
        if _ble.is_connected(client):
            for uuid in subscribed:
                try:
                    await client.stop_notify(uuid)
                except Exception as exc:  # noqa: BLE001
                    log.debug("%s: stop_notify(%s) failed: %s", _DRIVER, uuid, exc)
            try:
                await client.disconnect()
            except Exception as exc:  # noqa: BLE001
                log.debug("%s: disconnect failed: %s", _DRIVER, exc)

    def _on_notify(self, uuid: str, _characteristic: Any, data: bytes | bytearray) -> None:
        self._values[uuid] = bytes(data)
        self._counts[uuid] = self._counts.get(uuid, 0) + 1
        if self._notified is not None:
            self._notified.set()

    def _on_disconnect(self, client: Any) -> None:
        if client is not self._client:
            return  # a client we already dropped
        if self._connected:
            log.warning("%s: %s disconnected", _DRIVER, self.target)
        self._connected = False
        if self._notified is not None:
            self._notified.set()  # wake a waiting read


def _check_sensors(sensors: Sequence[str] | str | None) -> tuple[str, ...]:
    if sensors is None:
        return DEFAULT_SENSORS
    if isinstance(sensors, str):
        sensors = [s.strip() for s in sensors.split(",") if s.strip()]
    if not isinstance(sensors, Iterable) or not all(isinstance(s, str) for s in sensors):
        raise ConfigError(
            f"driver {_DRIVER!r}: option 'sensors' must be a list of names", field="sensors"
        )
    chosen = set(sensors)
    unknown = sorted(chosen - set(SENSORS))
    if unknown:
        raise ConfigError(
            f"driver {_DRIVER!r}: unknown sensors {', '.join(unknown)}; "
            f"choose from {', '.join(SENSORS)}",
            field="sensors",
        )
    if not chosen:
        raise ConfigError(f"driver {_DRIVER!r}: option 'sensors' is empty", field="sensors")
    return tuple(s for s in SENSORS if s in chosen)
