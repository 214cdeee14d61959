"""Fakes for every hardware seam, so drivers run (and are tested) without hardware.

* :class:`FakeI2CBus`: an I2C bus as a register map per address (BME280, BH1750),
  recording each write as an :class:`I2CWrite`;
* :class:`ScriptedSerial`: a serial port that serves scripted bytes (PMS5003,
  SDS011, MH-Z19B);
* :class:`FakeBleClient` / :class:`FakeScanner` / :class:`FakeBleDevice`: a
  Thingy:52 that replays notification bytes (:class:`FakeBleError` stands in
  for bleak's ``BleakError``);
* :class:`FakeMqttClient`: a paho-mqtt client joined to a broker in memory
  (subscriptions with wildcards, retained messages, refused connects, a
  dropped link and its reconnect);
* the ``simulated`` driver (:class:`Simulated`) stands in for a whole sensor.

Each driver takes its seam as a keyword (``bus=``, ``port=``, ``client=``)::

    bus = FakeI2CBus({0x76: {0xD0: 0x60}}, raw={0x23: b"\\x01\\x90"})
    create_driver("bh1750", {"address": 0x23}, bus=bus)
    create_driver("pms5003", port=ScriptedSerial([frame], loop=True))
    create_driver("thingy52", {"address": "C4:6A:12:34:56:78"}, client=FakeBleClient.thingy())
    create_driver("mqtt", {"readings": {"t": {"topic": "a/b"}}}, client=FakeMqttClient())

Production modules never import this one.
"""

from __future__ import annotations

import asyncio
import ctypes
import struct
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ._base import SensorDataError
from ._i2c import BLOCK_MAX, EREMOTEIO, I2C_M_RD
from .mqtt import topic_matches
from .simulated import Simulated
from .thingy52 import (
    _UUID_OF,
    BATTERY_LEVEL_UUID,
    COLOR_UUID,
    CONFIG_UUID,
    GAS_UUID,
    HUMIDITY_UUID,
    PRESSURE_UUID,
    TEMPERATURE_UUID,
    EnvironmentConfig,
    decode_config,
    encode_config,
)

__all__ = [
    "NOT_AUTHORIZED",
    "FakeBleClient",
    "FakeBleDevice",
    "FakeBleError",
    "FakeI2CBus",
    "FakeMqttClient",
    "FakeMqttMessage",
    "FakeReasonCode",
    "FakeScanner",
    "I2CWrite",
    "ScriptedSerial",
    "Simulated",
]


# ---------------------------------------------------------------- I2C


class I2CWrite(NamedTuple):
    """One write seen by :class:`FakeI2CBus`: the address and the bytes that
    went over the wire (register byte first, when there is one)."""

    address: int
    data: bytes


RegisterValue = int | Sequence[int]


class FakeI2CBus:
    """A fake smbus2 bus: a register map per address.

    ``registers`` maps address -> {register: value}. A value may be a list:
    successive reads return its items and then keep returning the last one
    (a status bit that clears after two polls is ``[0x08, 0x08, 0x00]``).
    Registers never set read as ``default``. ``raw`` maps address -> the bytes
    a plain read (``i2c_rdwr`` read message, ``read_byte``) returns, for
    devices without registers; a list of byte strings is used the same way
    as a register list. Without ``raw``, a plain read returns registers from
    the register pointer, which the last register write moved (as real
    register devices do).

    Every write is recorded in :attr:`writes` as :class:`I2CWrite` and
    applied to the register map. An address with neither registers nor raw
    data raises ``OSError(121, "Remote I/O error")``, as the kernel does when
    nothing acknowledges. Mutate :attr:`registers` / :attr:`raw` to plug or
    unplug devices during a test.
    """

    def __init__(
        self,
        registers: Mapping[int, Mapping[int, RegisterValue]] | None = None,
        *,
        raw: Mapping[int, bytes | Sequence[bytes]] | None = None,
        default: int = 0x00,
    ) -> None:
        self.registers: dict[int, dict[int, RegisterValue]] = {
            address: {reg: _copy_value(value) for reg, value in regs.items()}
            for address, regs in (registers or {}).items()
        }
        self.raw: dict[int, bytes | list[bytes]] = {
            address: bytes(data) if isinstance(data, (bytes, bytearray)) else list(data)
            for address, data in (raw or {}).items()
        }
        self.default = default
        self.writes: list[I2CWrite] = []
        self.closed = False
        self._pointer: dict[int, int] = {}

    # -- the smbus2.SMBus subset -------------------------------------------

    def read_byte_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        self._check(i2c_addr)
        return self._read_register(i2c_addr, register)

    def write_byte_data(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> None:
        self._check(i2c_addr)
        self._write(i2c_addr, bytes([register, value]))

    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]:
        if length > BLOCK_MAX:
            raise ValueError(f"Desired block length over {BLOCK_MAX} bytes")
        self._check(i2c_addr)
        return [self._read_register(i2c_addr, register + i) for i in range(length)]

    def write_i2c_block_data(
        self, i2c_addr: int, register: int, data: Sequence[int], force: bool | None = None
    ) -> None:
        if len(data) > BLOCK_MAX:
            raise ValueError(f"Data length cannot exceed {BLOCK_MAX} bytes")
        self._check(i2c_addr)
        self._write(i2c_addr, bytes([register, *data]))

    def read_byte(self, i2c_addr: int, force: bool | None = None) -> int:
        self._check(i2c_addr)
        return self._plain_read(i2c_addr, 1)[0]

    def write_byte(self, i2c_addr: int, value: int, force: bool | None = None) -> None:
        self._check(i2c_addr)
        self._write(i2c_addr, bytes([value]))

    def i2c_rdwr(self, *i2c_msgs: Any) -> None:
        """Combined transfer of ``smbus2.i2c_msg`` read/write messages."""
        for msg in i2c_msgs:
            self._check(msg.addr)
            if msg.flags & I2C_M_RD:
                data = self._plain_read(msg.addr, msg.len)
                ctypes.memmove(msg.buf, data, msg.len)
            else:
                self._write(msg.addr, bytes(msg))

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> FakeI2CBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        present = ", ".join(f"0x{a:02X}" for a in sorted(self._present()))
        return f"<FakeI2CBus devices=[{present}]>"

    # -- helpers for tests ------------------------------------------------

    def writes_to(self, address: int) -> list[bytes]:
        """The bytes written to ``address``, in order."""
        return [w.data for w in self.writes if w.address == address]

    # -- internals ----------------------------------------------------------

    def _present(self) -> set[int]:
        return set(self.registers) | set(self.raw)

    def _check(self, address: int) -> None:
        if self.closed:
            raise OSError(9, "Bad file descriptor")
        if address not in self._present():
            raise OSError(EREMOTEIO, "Remote I/O error")

    def _read_register(self, address: int, register: int) -> int:
        regs = self.registers.setdefault(address, {})
        value = regs.get(register & 0xFF, self.default)
        if isinstance(value, list):
            if len(value) > 1:
                return value.pop(0) & 0xFF
            value = value[0]
        return int(value) & 0xFF

    def _write(self, address: int, data: bytes) -> None:
        self.writes.append(I2CWrite(address, data))
        if address in self.raw or not data:
            return  # a device without registers: commands are only recorded
        register, values = data[0], data[1:]
        self._pointer[address] = register
        regs = self.registers.setdefault(address, {})
        for offset, value in enumerate(values):
            regs[(register + offset) & 0xFF] = value

    def _plain_read(self, address: int, length: int) -> bytes:
        if address in self.raw:
            data = self.raw[address]
            if isinstance(data, list):
                data = data.pop(0) if len(data) > 1 else data[0]
            return bytes(data[:length]).ljust(length, bytes([self.default]))
        start = self._pointer.get(address, 0)
        return bytes(self._read_register(address, start + i) for i in range(length))


def _copy_value(value: RegisterValue) -> RegisterValue:
    return value if isinstance(value, int) else list(value)


# ---------------------------------------------------------------- serial


class ScriptedSerial:
    """A fake serial port: serves scripted bytes, records writes.

    ``chunks`` is what the sensor sends, one chunk per ``read`` at most: a read
    never crosses a chunk boundary (a short read, as when bytes trickle in),
    an empty chunk ``b""`` is a read timeout, and when the script is used up
    every read times out (returns ``b""``) unless ``loop`` replays it.
    ``replies`` maps a command to what the sensor answers to it (bytes, or a
    list of chunks), queued after the script each time that command is written.

    Implements the pyserial subset the drivers use: ``read(n)``, ``write(b)``,
    ``reset_input_buffer()``, ``in_waiting``, ``timeout``, ``close()``,
    ``is_open``. ``written`` lists the writes; ``reads`` counts the reads.
    """

    def __init__(
        self,
        chunks: bytes | Iterable[bytes] = (),
        *,
        replies: Mapping[bytes, bytes | Sequence[bytes]] | None = None,
        loop: bool = False,
        timeout: float | None = 2.0,
    ) -> None:
        if isinstance(chunks, (bytes, bytearray)):
            chunks = [bytes(chunks)]
        self._script = [bytes(c) for c in chunks]
        self._queue: deque[bytes] = deque(self._script)
        self._current = b""  # the chunk that has "arrived": what in_waiting counts
        self._replies = {bytes(k): v for k, v in (replies or {}).items()}
        self._loop = loop and any(self._script)
        self.timeout = timeout
        self.written: list[bytes] = []
        self.reads = 0
        self.is_open = True

    def feed(self, *chunks: bytes) -> None:
        """Queue more bytes from the sensor, one read-chunk each."""
        self._queue.extend(bytes(c) for c in chunks)

    @property
    def in_waiting(self) -> int:
        self._check_open()
        return len(self._current)

    def read(self, size: int = 1) -> bytes:
        self._check_open()
        self.reads += 1
        if not self._current:
            if not self._queue and self._loop:
                self._queue.extend(self._script)
            if not self._queue:
                return b""  # timeout
            self._current = self._queue.popleft()
            if not self._current:
                return b""  # a scripted timeout
        data, self._current = self._current[:size], self._current[size:]
        return data

    def write(self, data: bytes) -> int:
        self._check_open()
        data = bytes(data)
        self.written.append(data)
        reply = self._replies.get(data)
        if reply is not None:
            self.feed(*([reply] if isinstance(reply, (bytes, bytearray)) else reply))
        return len(data)

    def reset_input_buffer(self) -> None:
        """Drop what has arrived and not been read (the current chunk)."""
        self._check_open()
        self._current = b""

    def flush(self) -> None:
        self._check_open()

    def close(self) -> None:
        self.is_open = False

    def _check_open(self) -> None:
        if not self.is_open:
            raise OSError("the port is closed")

    def __repr__(self) -> str:
        return f"<ScriptedSerial {len(self._queue)} chunk(s) queued, {len(self.written)} write(s)>"


# ---------------------------------------------------------------- BLE (Thingy:52)


class FakeBleError(Exception):
    """What the fakes raise where bleak raises ``BleakError``."""


@dataclass(frozen=True)
class FakeBleDevice:
    """Stands in for bleak's ``BLEDevice``."""

    address: str = "C4:6A:12:34:56:78"
    name: str | None = "Thingy"


@dataclass(frozen=True)
class _FakeCharacteristic:
    uuid: str


_NOTIFIABLE = {
    TEMPERATURE_UUID,
    PRESSURE_UUID,
    HUMIDITY_UUID,
    GAS_UUID,
    COLOR_UUID,
    BATTERY_LEVEL_UUID,
}


def _normalise_uuid(key: str) -> str:
    return _UUID_OF.get(key, key).lower()


class FakeBleClient:
    """A scripted Thingy:52 with bleak's ``BleakClient`` API, for tests and demos.

    ``notifications`` maps a UUID (or a sensor name: ``"temperature"``,
    ``"gas"`` ...) to the byte strings it sends, one every ``period`` seconds
    while subscribed; the last one repeats. A characteristic without a script
    never notifies. The instance is its own factory: the driver calls
    ``fake(device, disconnected_callback=cb)`` and gets the fake back, so pass
    ``client=FakeBleClient(...)``. :meth:`simulate_disconnect` drops the link
    as a Thingy walking out of range would; :meth:`fail_next_connects` makes
    connects fail. ``writes`` records ``(uuid, bytes)``; ``calls`` records the
    method names in order.
    """

    def __init__(
        self,
        notifications: Mapping[str, Sequence[bytes]] | None = None,
        *,
        battery: int = 87,
        config: EnvironmentConfig | None = None,
        period: float = 0.005,
    ) -> None:
        self.scripts = {
            _normalise_uuid(k): [bytes(v) for v in vs] for k, vs in (notifications or {}).items()
        }
        self.battery = battery
        self.config = config or EnvironmentConfig()
        self.period = period
        self.writes: list[tuple[str, bytes]] = []
        self.calls: list[str] = []
        self.devices: list[Any] = []
        self.connect_count = 0
        self.disconnect_count = 0
        self.disconnected_callback: Callable[[Any], None] | None = None
        self._positions: dict[str, int] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._subscriptions: set[str] = set()
        self._connected = False
        self._fail_connects = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def thingy(cls, **kwargs: Any) -> FakeBleClient:
        """A fake sending plausible values: 23.05 C, 1013.25 hPa, 45 %, 450 ppm, 12 ppb."""
        return cls(
            {
                "temperature": [bytes([23, 5])],
                "pressure": [struct.pack("<iB", 1013, 25)],
                "humidity": [bytes([45])],
                "gas": [struct.pack("<HH", 450, 12)],
                "color": [struct.pack("<HHHH", 120, 200, 90, 410)],
            },
            **kwargs,
        )

    # factory face
    def __call__(
        self, device: Any, disconnected_callback: Callable[[Any], None] | None = None, **_: Any
    ) -> FakeBleClient:
        self.devices.append(device)
        self.disconnected_callback = disconnected_callback
        return self

    # test controls
    def fail_next_connects(self, count: int) -> None:
        """Make the next ``count`` calls of :meth:`connect` fail."""
        self._fail_connects = count

    def simulate_disconnect(self) -> None:
        """Drop the link (thread-safe); bleak's disconnected callback runs on the loop."""
        self._connected = False
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._link_lost)

    @property
    def subscribed(self) -> set[str]:
        """The UUIDs notifying now."""
        return set(self._subscriptions)

    # bleak's API
    @property
    def is_connected(self) -> bool:
        return self._connected

    async def connect(self, **_: Any) -> bool:
        self.calls.append("connect")
        self.connect_count += 1
        if self._fail_connects:
            self._fail_connects -= 1
            raise FakeBleError("fake: connection aborted")
        self._loop = asyncio.get_running_loop()
        self._connected = True
        return True

    async def disconnect(self) -> bool:
        self.calls.append("disconnect")
        self.disconnect_count += 1
        was_connected = self._connected
        self._connected = False
        if was_connected:
            self._link_lost()
        return True

    async def start_notify(
        self, char_specifier: Any, callback: Callable[[Any, bytearray], None], **_: Any
    ) -> None:
        uuid = self._uuid(char_specifier)
        self.calls.append(f"start_notify {uuid}")
        self._require_connected()
        if uuid not in _NOTIFIABLE:
            raise FakeBleError(f"fake: {uuid} does not notify")
        self._cancel(uuid)
        self._subscriptions.add(uuid)
        if self.scripts.get(uuid):  # without a script: subscribed, but silent
            self._tasks[uuid] = asyncio.get_running_loop().create_task(
                self._deliver(uuid, callback)
            )

    async def stop_notify(self, char_specifier: Any) -> None:
        uuid = self._uuid(char_specifier)
        self.calls.append(f"stop_notify {uuid}")
        self._require_connected()
        self._cancel(uuid)

    async def read_gatt_char(self, char_specifier: Any, **_: Any) -> bytearray:
        uuid = self._uuid(char_specifier)
        self.calls.append(f"read {uuid}")
        self._require_connected()
        if uuid == BATTERY_LEVEL_UUID:
            return bytearray([self.battery])
        if uuid == CONFIG_UUID:
            return bytearray(encode_config(self.config))
        raise FakeBleError(f"fake: reading {uuid} is not permitted")

    async def write_gatt_char(
        self, char_specifier: Any, data: bytes | bytearray, response: bool | None = None
    ) -> None:
        uuid = self._uuid(char_specifier)
        self.calls.append(f"write {uuid}")
        self._require_connected()
        if uuid != CONFIG_UUID:
            raise FakeBleError(f"fake: writing {uuid} is not permitted")
        try:
            config = decode_config(data)
        except SensorDataError as exc:
            raise FakeBleError(f"fake: config write refused: {exc}") from None
        self.writes.append((uuid, bytes(data)))
        self.config = config

    # internals
    @staticmethod
    def _uuid(char_specifier: Any) -> str:
        return str(getattr(char_specifier, "uuid", char_specifier)).lower()

    def _require_connected(self) -> None:
        if not self._connected:
            raise FakeBleError("fake: not connected")

    def _cancel(self, uuid: str) -> None:
        self._subscriptions.discard(uuid)
        task = self._tasks.pop(uuid, None)
        if task is not None:
            task.cancel()

    def _link_lost(self) -> None:
        for uuid in list(self._subscriptions):
            self._cancel(uuid)
        if self.disconnected_callback is not None:
            self.disconnected_callback(self)

    async def _deliver(self, uuid: str, callback: Callable[[Any, bytearray], None]) -> None:
        script = self.scripts[uuid]
        characteristic = _FakeCharacteristic(uuid)
        while True:
            await asyncio.sleep(self.period)
            position = self._positions.get(uuid, 0)
            self._positions[uuid] = position + 1
            callback(characteristic, bytearray(script[min(position, len(script) - 1)]))


@dataclass
class FakeScanner:
    """An async device finder for tests: finds ``device`` after ``misses`` failed scans.

    Matches by address (case-insensitive) or advertised name like the bleak
    scanner; ``calls`` records the keyword arguments of every scan.
    """

    device: Any = field(default_factory=FakeBleDevice)
    misses: int = 0
    calls: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(
        self,
        *,
        address: str | None = None,
        name: str | None = None,
        adapter: str | None = None,
        timeout: float = 10.0,
    ) -> Any:
        self.calls.append(
            {"address": address, "name": name, "adapter": adapter, "timeout": timeout}
        )
        if self.misses:
            self.misses -= 1
            return None
        if address is not None:
            return self.device if str(self.device.address).lower() == address.lower() else None
        return self.device if self.device.name == name else None


# ---------------------------------------------------------------- MQTT


@dataclass(frozen=True)
class FakeReasonCode:
    """paho's ``ReasonCode`` as far as drivers look at it."""

    value: int = 0
    text: str = "Success"

    @property
    def is_failure(self) -> bool:
        return self.value >= 0x80

    def __str__(self) -> str:
        return self.text


NOT_AUTHORIZED = FakeReasonCode(0x87, "Not authorized")


@dataclass(frozen=True)
class FakeMqttMessage:
    """paho's ``MQTTMessage`` as far as drivers look at it."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False


class FakeMqttClient:
    """A paho-mqtt ``Client`` (version 2 callbacks) joined to a broker in memory.

    The driver sets the callbacks and calls ``connect_async`` and
    ``loop_start``; the fake then connects at once (or refuses, with
    ``refuse=``), calling ``on_connect`` in the caller's thread. A test
    publishes with :meth:`publish` (a retained message is kept and delivered
    to later subscriptions, with ``retain`` set, as a broker does), drops the
    link with :meth:`drop` and restores it with :meth:`reconnect`.
    ``calls`` records the setup calls (``username_pw_set`` shows the password
    as ``"***"``), ``subscriptions`` the current filters and their QoS.
    """

    def __init__(self, *, refuse: FakeReasonCode | None = None) -> None:
        self.refuse = refuse
        self.on_connect: Callable[..., None] | None = None
        self.on_disconnect: Callable[..., None] | None = None
        self.on_message: Callable[..., None] | None = None
        self.on_subscribe: Callable[..., None] | None = None
        self.calls: list[tuple[str, Any]] = []
        self.subscriptions: dict[str, int] = {}
        self.retained: dict[str, bytes] = {}
        self.published: list[FakeMqttMessage] = []
        self.connected = False
        self.looping = False
        self.password: str | None = None
        self.will: FakeMqttMessage | None = None

    # the paho API the driver uses

    def username_pw_set(self, username: str | None, password: str | None = None) -> None:
        self.password = password
        self.calls.append(("username_pw_set", (username, None if password is None else "***")))

    def tls_set(self, **kwargs: Any) -> None:
        self.calls.append(("tls_set", kwargs))

    def will_set(
        self, topic: str, payload: str | bytes = b"", qos: int = 0, retain: bool = False
    ) -> None:
        self.will = FakeMqttMessage(
            topic, payload if isinstance(payload, bytes) else payload.encode(), qos, retain
        )
        self.calls.append(("will_set", (topic, payload, qos, retain)))

    def reconnect_delay_set(self, min_delay: float = 1, max_delay: float = 120) -> None:
        self.calls.append(("reconnect_delay_set", (min_delay, max_delay)))

    def connect_async(self, host: str, port: int = 1883, keepalive: int = 60) -> None:
        self.calls.append(("connect_async", (host, port, keepalive)))

    def loop_start(self) -> None:
        self.looping = True
        self.reconnect()

    def loop_stop(self) -> None:
        self.looping = False

    def disconnect(self) -> None:
        was = self.connected
        self._lose()
        if was and self.on_disconnect is not None:
            self.on_disconnect(self, None, None, FakeReasonCode(), None)

    def subscribe(self, topic: str, qos: int = 0) -> tuple[int, int]:
        self.subscriptions[topic] = qos
        if self.on_subscribe is not None:  # the broker's SUBACK, then the retained messages
            self.on_subscribe(self, None, len(self.subscriptions), [FakeReasonCode(qos)], None)
        for name, payload in list(self.retained.items()):
            if topic_matches(topic, name):
                self._deliver(FakeMqttMessage(name, payload, qos, retain=True))
        return 0, len(self.subscriptions)

    def publish(
        self, topic: str, payload: bytes | str | float = b"", qos: int = 0, retain: bool = False
    ) -> None:
        """Publish as another client of the broker would (and as paho's ``publish``)."""
        data = payload if isinstance(payload, bytes) else str(payload).encode()
        self.published.append(FakeMqttMessage(topic, data, qos, retain))
        if retain:
            if data:
                self.retained[topic] = data
            else:
                self.retained.pop(topic, None)
        if self.connected and any(topic_matches(f, topic) for f in self.subscriptions):
            self._deliver(FakeMqttMessage(topic, data, qos))

    # what tests do

    def drop(self, reason: FakeReasonCode = FakeReasonCode(0x80, "Unspecified error")) -> None:
        """The link is lost (the broker went away); the broker publishes the will."""
        self._lose()
        if self.will is not None:
            self.publish(self.will.topic, self.will.payload, self.will.qos, self.will.retain)
        if self.on_disconnect is not None:
            self.on_disconnect(self, None, None, reason, None)

    def reconnect(self) -> None:
        """The network loop connects (again); the driver subscribes in ``on_connect``."""
        if self.on_connect is None:
            return
        if self.refuse is not None:
            self.on_connect(self, None, None, self.refuse, None)
            return
        self.connected = True
        self.on_connect(self, None, None, FakeReasonCode(), None)

    def _lose(self) -> None:
        self.connected = False
        self.subscriptions.clear()

    def _deliver(self, message: FakeMqttMessage) -> None:
        if self.on_message is not None:
            self.on_message(self, None, message)
