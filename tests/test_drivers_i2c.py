"""I2C and 1-Wire drivers (BME280, BH1750, DS18B20) on fake buses and sysfs trees.

No hardware: real-sensor tests live in tests/hardware/ and are opt-in.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from iota_publisher.drivers import (
    SensorDataError,
    SensorUnavailableError,
    _i2c,
    create_driver,
    driver_class,
)
from iota_publisher.drivers._i2c import check_address, open_bus, read_bytes
from iota_publisher.drivers.bh1750 import BH1750, MODES, raw_to_lux
from iota_publisher.drivers.bme280 import (
    BME280,
    BME280Calibration,
    RawSample,
    compensate,
    compensate_humidity,
    compensate_pressure,
    compensate_temperature,
    measurement_time,
    unpack_data,
)
from iota_publisher.drivers.ds18b20 import DS18B20, find_devices, parse_w1_slave
from iota_publisher.drivers.fakes import FakeI2CBus, I2CWrite

from iota_publisher.errors import ConfigError, InvalidInputError, TransientError


class Sleeps(list):
    """A fake ``sleep`` that records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


# -- BME280 test vector (pimoroni/bme280-python tests, drivers.md) -----------------

CALIB_88 = bytes.fromhex("69 6d 36 64 32 00 e9 98 02 d6 d0 0b 23 16 88 ff f9 ff 8c 3c f8 c6 70 17")
CALIB_A1 = 0x4B
CALIB_E1 = bytes.fromhex("78 01 00 11 2e 03 1e")
DATA_F7 = bytes.fromhex("4f ca 00 81 32 70 76 49")
RAW = RawSample(pressure=326816, temperature=529191, humidity=30281)
EXPECTED_T, EXPECTED_P, EXPECTED_H = 24.78949, 1006.61518, 68.66997


def bme280_registers(data: bytes = DATA_F7, chip_id: int = 0x60) -> dict[int, int]:
    regs = {0xD0: chip_id, 0xA1: CALIB_A1}
    regs.update({0x88 + i: b for i, b in enumerate(CALIB_88)})
    regs.update({0xE1 + i: b for i, b in enumerate(CALIB_E1)})
    regs.update({0xF7 + i: b for i, b in enumerate(data)})
    return regs


@pytest.fixture
def calibration() -> BME280Calibration:
    return BME280Calibration.from_registers(CALIB_88, CALIB_A1, CALIB_E1)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def test_calibration_from_registers(calibration):
    assert calibration == BME280Calibration(
        t1=28009, t2=25654, t3=50,
        p1=39145, p2=-10750, p3=3024, p4=5667, p5=-120, p6=-7, p7=15500, p8=-14600, p9=6000,
        h1=75, h2=376, h3=0, h4=286, h5=50, h6=30,
    )  # fmt: skip


def test_calibration_h4_h5_are_signed_12_bit():
    # 0xE4 = 0xF1, 0xE5 = 0xA3, 0xE6 = 0x82: h4 = -15*16 + 3, h5 = -126*16 + 10
    cal = BME280Calibration.from_registers(CALIB_88, 0, bytes([0, 0, 0, 0xF1, 0xA3, 0x82, 0xFF]))
    assert (cal.h4, cal.h5, cal.h6) == (-237, -2006, -1)


@pytest.mark.parametrize("block", [bytes(24), b"\xff" * 24])
def test_calibration_blank(block):
    with pytest.raises(SensorDataError, match="blank"):
        BME280Calibration.from_registers(block, 0, CALIB_E1)


def test_calibration_wrong_length():
    with pytest.raises(SensorDataError, match="24 bytes"):
        BME280Calibration.from_registers(CALIB_88[:20], CALIB_A1, CALIB_E1)


def test_unpack_data():
    assert unpack_data(DATA_F7) == RAW
    with pytest.raises(SensorDataError):
        unpack_data(DATA_F7[:7])


def test_compensation_functions(calibration):
    assert compensate_temperature(RAW.temperature, calibration) == pytest.approx(
        EXPECTED_T, abs=1e-5
    )
    assert compensate_pressure(RAW.pressure, RAW.temperature, calibration) == pytest.approx(
        EXPECTED_P, abs=1e-5
    )
    assert compensate_humidity(RAW.humidity, RAW.temperature, calibration) == pytest.approx(
        EXPECTED_H, abs=1e-5
    )
    assert compensate(RAW, calibration) == pytest.approx((EXPECTED_T, EXPECTED_P, EXPECTED_H))


def test_humidity_is_clamped(calibration):
    assert compensate_humidity(0, RAW.temperature, calibration) == 0.0
    assert compensate_humidity(0xFFFF, RAW.temperature, calibration) == 100.0


@pytest.mark.parametrize(
    "raw",
    [
        RAW._replace(temperature=0x80000),
        RAW._replace(pressure=0x80000),
        RAW._replace(humidity=0x8000),
    ],
)
def test_compensate_skipped_measurement(calibration, raw):
    with pytest.raises(SensorDataError, match="skipped"):
        compensate(raw, calibration)


def test_measurement_time():
    assert measurement_time(1) == pytest.approx(0.00930)
    assert measurement_time(16) == pytest.approx(0.11280)


def test_bme280_reads_the_test_vector(sleeps):
    bus = FakeI2CBus({0x76: bme280_registers()})
    sensor = BME280(bus=bus, sleep=sleeps)
    readings = sensor.read()
    assert set(readings) == {"temperature", "pressure", "humidity"}
    t, p, h = readings["temperature"], readings["pressure"], readings["humidity"]
    assert (t.name, t.unit, p.unit, h.unit) == ("temperature", "C", "hPa", "%")
    assert t.value == pytest.approx(EXPECTED_T, abs=0.01)
    assert p.value == pytest.approx(EXPECTED_P, abs=0.01)
    assert h.value == pytest.approx(EXPECTED_H, abs=0.01)
    assert sleeps == [pytest.approx(measurement_time(1))]


def test_bme280_forced_mode_writes(sleeps):
    bus = FakeI2CBus({0x77: bme280_registers()})
    sensor = BME280(address=0x77, bus=bus, oversampling=4, sleep=sleeps)
    sensor.read()
    setup = [bytes([0xF4, 0x00]), bytes([0xF5, 0x00])]  # sleep mode, then config
    # ctrl_hum osrs_h = x4 (0b011), then ctrl_meas osrs_t = osrs_p = 0b011, mode forced (01)
    measure = [bytes([0xF2, 0b011]), bytes([0xF4, 0b011_011_01])]
    assert bus.writes_to(0x77) == setup + measure
    assert bus.writes[-1] == I2CWrite(0x77, b"\xf4\x6d")
    sensor.read()  # setup and calibration once, a measurement per read
    assert bus.writes_to(0x77) == setup + measure + measure


def test_bme280_normal_mode_writes(sleeps):
    bus = FakeI2CBus({0x76: bme280_registers()})
    sensor = BME280(bus=bus, mode="normal", oversampling=16, sleep=sleeps)
    sensor.read()
    sensor.read()
    assert bus.writes_to(0x76) == [
        bytes([0xF4, 0x00]),
        bytes([0xF5, 0b101_000_00]),  # standby 1000 ms, filter off
        bytes([0xF2, 0b101]),
        bytes([0xF4, 0b101_101_11]),  # normal mode
    ]


def test_bme280_waits_for_the_status_bit(sleeps):
    regs = bme280_registers()
    regs[0xF3] = [0x08, 0x08, 0x00]  # measuring, measuring, done
    sensor = BME280(bus=FakeI2CBus({0x76: regs}), sleep=sleeps)
    sensor.read()
    assert sleeps == [
        pytest.approx(measurement_time(1)),
        BME280.POLL_INTERVAL,
        BME280.POLL_INTERVAL,
    ]


def test_bme280_status_wait_gives_up(sleeps):
    regs = bme280_registers()
    regs[0xF3] = 0x08  # stuck measuring
    sensor = BME280(bus=FakeI2CBus({0x76: regs}), sleep=sleeps, status_timeout=0.01)
    with pytest.raises(SensorUnavailableError, match="not finished") as info:
        sensor.read()
    assert isinstance(info.value, TransientError)
    assert info.value.driver == "bme280"
    assert sum(sleeps) < 0.05  # bounded


def test_bme280_wrong_chip_id(sleeps):
    bus = FakeI2CBus({0x76: bme280_registers(chip_id=0x58)})
    with pytest.raises(SensorDataError, match=r"0x76.*0x58.*BMP280.*0x77") as info:
        BME280(bus=bus, sleep=sleeps).read()
    assert info.value.driver == "bme280"


def test_bme280_absent_address(sleeps):
    with pytest.raises(SensorUnavailableError, match=r"bme280.*0x76.*Remote I/O.*0x77") as info:
        BME280(bus=FakeI2CBus({}), sleep=sleeps).read()
    assert isinstance(info.value, TransientError)
    assert isinstance(info.value.__cause__, OSError) and info.value.__cause__.errno == 121


def test_bme280_recovers_after_unplug(sleeps):
    bus = FakeI2CBus({0x76: bme280_registers()})
    sensor = BME280(bus=bus, sleep=sleeps)
    sensor.read()
    regs = bus.registers.pop(0x76)
    with pytest.raises(SensorUnavailableError):
        sensor.read()
    bus.registers[0x76] = regs
    bus.writes.clear()
    assert sensor.read()["temperature"].value == pytest.approx(EXPECTED_T, abs=0.01)
    assert bus.writes_to(0x76)[:2] == [b"\xf4\x00", b"\xf5\x00"]  # set up again


def test_bme280_skipped_measurement(sleeps):
    data = bytes.fromhex("80 00 00 81 32 70 76 49")  # pressure 0x80000: skipped
    bus = FakeI2CBus({0x76: bme280_registers(data=data)})
    sensor = BME280(bus=bus, mode="normal", sleep=sleeps)
    with pytest.raises(SensorDataError, match="pressure skipped"):
        sensor.read()
    # the sensor may have been power-cycled: the next read sets it up again
    bus.registers[0x76].update({0xF7 + i: b for i, b in enumerate(DATA_F7)})
    bus.writes.clear()
    assert sensor.read()["pressure"].value == pytest.approx(EXPECTED_P, abs=0.01)
    assert bus.writes_to(0x76)[-1] == bytes([0xF4, 0b001_001_11])


def test_create_driver_bme280(sleeps):
    bus = FakeI2CBus({0x76: bme280_registers()})
    with create_driver("bme280", {"address": 0x76}, bus=bus, sleep=sleeps) as sensor:
        assert isinstance(sensor, BME280)
        assert sensor.read()["pressure"].value == pytest.approx(EXPECTED_P, abs=0.01)
    assert not bus.closed  # a passed-in bus stays open
    assert driver_class("bme280") is BME280


def test_create_driver_accepts_hex_string_address(sleeps):
    bus = FakeI2CBus({0x77: bme280_registers()})
    sensor = create_driver("bme280", {"address": "0x77"}, bus=bus, sleep=sleeps)
    assert sensor.address == 0x77


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"address": 0x75}, "address"),
        ({"address": "seventy-six"}, "address"),
        ({"address": True}, "address"),
        ({"oversampling": 3}, "oversampling"),
        ({"oversampling": 0}, "oversampling"),
        ({"oversampling": True}, "oversampling"),
        ({"mode": "sleep"}, "mode"),
        ({"bus": True}, "bus"),
        ({"bus": -1}, "bus"),
        ({"bus": object()}, "bus"),
        ({"status_timeout": -1}, "status_timeout"),
        ({"colour": "red"}, "options"),
    ],
)
def test_bme280_bad_options(options, field):
    with pytest.raises(ConfigError) as info:
        create_driver("bme280", options)
    assert info.value.field == field


def test_bme280_opens_its_own_bus_lazily_and_closes_it(monkeypatch, sleeps):
    opened = []

    def fake_open(bus):
        opened.append(bus)
        return FakeI2CBus({0x76: bme280_registers()})

    monkeypatch.setattr(_i2c, "open_bus", fake_open)
    sensor = BME280(bus=3, sleep=sleeps)
    assert opened == []  # nothing opened at construction
    sensor.read()
    sensor.read()
    assert opened == [3]
    own = sensor._bus.get()
    sensor.close()
    assert own.closed
    sensor.close()  # idempotent


# -- open_bus ---------------------------------------------------------------------


def test_open_bus_without_smbus2(monkeypatch):
    monkeypatch.setitem(sys.modules, "smbus2", None)  # import fails
    with pytest.raises(ConfigError, match=r"pip install iota-publisher\[pi\]") as info:
        open_bus(1)
    assert info.value.field == "bus"


def _fake_smbus2(monkeypatch, error: OSError | None = None) -> list:
    calls = []

    class SMBus:
        def __init__(self, bus):
            calls.append(bus)
            if error is not None:
                raise error

    monkeypatch.setitem(sys.modules, "smbus2", types.SimpleNamespace(SMBus=SMBus))
    return calls


def test_open_bus_opens_smbus(monkeypatch):
    calls = _fake_smbus2(monkeypatch)
    assert open_bus(1) is not None
    assert open_bus("/dev/i2c-3") is not None
    assert calls == [1, "/dev/i2c-3"]


@pytest.mark.parametrize(
    ("error", "kind", "match"),
    [
        (FileNotFoundError(2, "No such file or directory"), SensorUnavailableError, "i2c_arm=on"),
        (PermissionError(13, "Permission denied"), SensorUnavailableError, "i2c' group"),
        (OSError(25, "Inappropriate ioctl for device"), ConfigError, "not an I2C bus"),
        (OSError(16, "Device or resource busy"), SensorUnavailableError, "busy"),
    ],
)
def test_open_bus_errors(monkeypatch, error, kind, match):
    _fake_smbus2(monkeypatch, error)
    with pytest.raises(kind, match=match):
        open_bus(1)


def test_driver_names_itself_when_its_bus_fails(monkeypatch, sleeps):
    _fake_smbus2(monkeypatch, OSError(16, "Device or resource busy"))
    with pytest.raises(
        SensorUnavailableError, match=r"^bh1750: cannot open I2C bus /dev/i2c-1"
    ) as info:
        BH1750(sleep=sleeps).read()
    assert info.value.driver == "bh1750"


@pytest.mark.parametrize("driver", [BH1750, BME280])
def test_absent_bus_is_a_failing_sensor_not_a_config_error(monkeypatch, sleeps, driver):
    # no /dev/i2c-1 (I2C not enabled): transient, naming the device and the fix
    _fake_smbus2(monkeypatch, FileNotFoundError(2, "No such file or directory"))
    sensor = driver(sleep=sleeps)
    with pytest.raises(SensorUnavailableError) as info:
        sensor.read()
    assert not isinstance(info.value, ConfigError)
    assert isinstance(info.value, TransientError)
    assert "/dev/i2c-1" in str(info.value) and "raspi-config" in str(info.value)
    assert info.value.driver == driver.name
    with pytest.raises(SensorUnavailableError):  # and again on the next read: retried
        sensor.read()


def test_open_bus_rejects_other_types():
    with pytest.raises(ConfigError):
        open_bus(1.0)  # type: ignore[arg-type]


# -- FakeI2CBus -------------------------------------------------------------------


def test_fake_bus_registers_and_writes():
    bus = FakeI2CBus({0x40: {0x00: 0x12, 0x01: [1, 2, 3]}})
    assert bus.read_byte_data(0x40, 0x00) == 0x12
    assert [bus.read_byte_data(0x40, 0x01) for _ in range(4)] == [1, 2, 3, 3]
    assert bus.read_i2c_block_data(0x40, 0x00, 3) == [0x12, 3, 0x00]  # unset reads 0
    bus.write_byte_data(0x40, 0x05, 0xAB)
    bus.write_i2c_block_data(0x40, 0x10, [1, 2])
    assert bus.read_i2c_block_data(0x40, 0x10, 2) == [1, 2]
    assert bus.writes == [(0x40, b"\x05\xab"), (0x40, b"\x10\x01\x02")]
    # a plain read continues from the register pointer of the last write
    assert bus.read_byte(0x40) == 1
    with pytest.raises(ValueError):
        bus.read_i2c_block_data(0x40, 0, 33)


def test_fake_bus_absent_address_and_close():
    bus = FakeI2CBus({0x40: {}})
    with pytest.raises(OSError) as info:
        bus.read_byte_data(0x41, 0)
    assert info.value.errno == 121
    with bus:
        pass
    assert bus.closed
    with pytest.raises(OSError):
        bus.read_byte_data(0x40, 0)


def test_fake_bus_plain_reads():
    bus = FakeI2CBus(raw={0x23: [b"\x01\x90", b"\xff\xff"]})
    assert read_bytes(bus, 0x23, 2) == b"\x01\x90"
    assert read_bytes(bus, 0x23, 2) == b"\xff\xff"
    assert read_bytes(bus, 0x23, 3) == b"\xff\xff\x00"
    bus.write_byte(0x23, 0x01)
    assert bus.writes == [(0x23, b"\x01")]


def test_fake_bus_with_smbus2_messages():
    smbus2 = pytest.importorskip("smbus2")
    bus = FakeI2CBus({0x40: {0x07: 0x55}}, raw={0x23: b"\x12\x34"})
    read = smbus2.i2c_msg.read(0x23, 2)
    bus.i2c_rdwr(read)
    assert bytes(read) == b"\x12\x34"
    write, read = smbus2.i2c_msg.write(0x40, [0x07]), smbus2.i2c_msg.read(0x40, 1)
    bus.i2c_rdwr(write, read)
    assert list(read) == [0x55]


def test_check_address():
    assert check_address("x", "0x5C", (0x23, 0x5C)) == 0x5C
    assert check_address("x", 35, (0x23, 0x5C)) == 0x23
    with pytest.raises(ConfigError, match="0x23 or 0x5C, not 0x24"):
        check_address("x", 0x24, (0x23, 0x5C))


# -- BH1750 -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "mode", "lux"),
    [
        (0x0190, "high", 333.333),
        (0x0190, "continuous_high", 333.333),
        (0x0190, "high2", 166.667),
        (0x0190, "continuous_high2", 166.667),
        (0x0190, "low", 333.333),
        (0x0190, "continuous_low", 333.333),
        (0x0000, "high", 0.0),
        (0xFFFF, "high", 54612.5),
        (0xFFFF, "high2", 27306.25),
    ],
)
def test_raw_to_lux(raw, mode, lux):
    assert raw_to_lux(raw, mode) == pytest.approx(lux, abs=1e-3)


def test_raw_to_lux_rejects_bad_input():
    with pytest.raises(InvalidInputError):
        raw_to_lux(1, "medium")
    with pytest.raises(InvalidInputError):
        raw_to_lux(0x10000)


@pytest.mark.parametrize(
    ("mode", "opcode", "wait"),
    [("high", 0x20, 0.18), ("high2", 0x21, 0.18), ("low", 0x23, 0.024)],
)
def test_bh1750_one_time_modes(sleeps, mode, opcode, wait):
    bus = FakeI2CBus(raw={0x23: b"\x01\x90"})
    sensor = BH1750(mode=mode, bus=bus, sleep=sleeps)
    reading = sensor.read()["illuminance"]
    assert (reading.name, reading.unit) == ("illuminance", "lx")
    assert reading.value == pytest.approx(raw_to_lux(0x190, mode))
    sensor.read()
    # power on, then the one-time opcode, before each read (it powers down after)
    assert bus.writes_to(0x23) == [b"\x01", bytes([opcode])] * 2
    assert sleeps == [wait, wait]


def test_bh1750_continuous_mode(sleeps):
    bus = FakeI2CBus(raw={0x5C: [b"\x00\x0c", b"\x00\x18"]})
    sensor = BH1750(address=0x5C, mode="continuous_high2", bus=bus, sleep=sleeps)
    assert sensor.read()["illuminance"].value == pytest.approx(5.0)
    assert sensor.read()["illuminance"].value == pytest.approx(10.0)
    assert bus.writes_to(0x5C) == [b"\x01", b"\x11"]  # started once
    assert sleeps == [0.18]  # only the first read waits
    sensor.close()
    assert bus.writes_to(0x5C)[-1] == b"\x00"  # powered down
    assert not bus.closed


def test_bh1750_absent_device(sleeps):
    with pytest.raises(SensorUnavailableError, match=r"bh1750.*0x23.*0x5C") as info:
        BH1750(bus=FakeI2CBus({}), sleep=sleeps).read()
    assert info.value.driver == "bh1750"


def test_bh1750_create_driver_and_options(sleeps):
    bus = FakeI2CBus(raw={0x23: b"\x00\x0c"})
    sensor = create_driver("bh1750", {"mode": "low"}, bus=bus, sleep=sleeps)
    assert sensor.read()["illuminance"].value == pytest.approx(10.0)
    for options, field in [({"address": 0x46}, "address"), ({"mode": "HIGH"}, "mode")]:
        with pytest.raises(ConfigError) as info:
            create_driver("bh1750", options)
        assert info.value.field == field
    assert set(MODES) == {
        "high", "high2", "low", "continuous_high", "continuous_high2", "continuous_low",
    }  # fmt: skip


# -- DS18B20 ----------------------------------------------------------------------

GOOD = "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"
CRC_NO = "72 01 4b 46 7f ff 0e 10 57 : crc=ff NO\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"
NEGATIVE = "5e ff 4b 46 7f ff 02 10 f4 : crc=f4 YES\n5e ff 4b 46 7f ff 02 10 f4 t=-10125\n"
POWER_ON = "50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n"
ZEROS = "00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0\n"
DEVICE = "28-0316a2794cff"


def make_w1(base: Path, files: dict[str, dict[str, str]]) -> Path:
    """A fake /sys/bus/w1/devices: {device: {file name: content}}."""
    base.mkdir(parents=True, exist_ok=True)
    (base / "w1_bus_master1").mkdir()
    for device, contents in files.items():
        (base / device).mkdir()
        for name, text in contents.items():
            (base / device / name).write_text(text)
    return base


class ScriptedW1:
    """A ``sleep`` seam that rewrites w1_slave between attempts, as the kernel
    would produce a new conversion on each read."""

    def __init__(self, path: Path, texts: list[str]) -> None:
        self.path, self.texts, self.sleeps = path, texts, []
        path.write_text(texts.pop(0))

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.texts:
            self.path.write_text(self.texts.pop(0))


def test_parse_w1_slave():
    assert parse_w1_slave(GOOD) == 23.125
    assert parse_w1_slave(NEGATIVE) == -10.125
    assert parse_w1_slave(POWER_ON) == 85.0  # suspect, but the parser does not judge


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (CRC_NO, "CRC"),
        (ZEROS, "all zeros"),
        ("", "2 lines"),
        (GOOD.splitlines()[0], "2 lines"),
        ("72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=\n", "malformed"),
        ("hello\nworld\n", "malformed"),
    ],
)
def test_parse_w1_slave_rejects(text, match):
    with pytest.raises(SensorDataError, match=match):
        parse_w1_slave(text)


def test_ds18b20_good(tmp_path, sleeps):
    base = make_w1(tmp_path / "w1", {DEVICE: {"w1_slave": GOOD}})
    sensor = DS18B20(base=base, sleep=sleeps)
    reading = sensor.read()["temperature"]
    assert (reading.name, reading.value, reading.unit) == ("temperature", 23.125, "C")
    assert sensor.device == DEVICE
    assert sleeps == []


def test_ds18b20_crc_no_then_good(tmp_path):
    base = make_w1(tmp_path / "w1", {DEVICE: {}})
    script = ScriptedW1(base / DEVICE / "w1_slave", [CRC_NO, CRC_NO, GOOD])
    sensor = DS18B20(device=DEVICE, base=base, sleep=script)
    assert sensor.read()["temperature"].value == 23.125
    assert len(script.sleeps) == 2


def test_ds18b20_crc_no_gives_up(tmp_path, sleeps):
    base = make_w1(tmp_path / "w1", {DEVICE: {"w1_slave": CRC_NO}})
    with pytest.raises(SensorDataError, match="CRC"):
        DS18B20(base=base, retries=2, sleep=sleeps).read()
    assert len(sleeps) == 2


def test_ds18b20_power_on_value_is_suspect(tmp_path, sleeps):
    base = make_w1(tmp_path / "w1", {DEVICE: {"w1_slave": POWER_ON}})
    with pytest.raises(SensorDataError, match="85.000 C") as info:
        DS18B20(base=base, sleep=sleeps).read()
    assert info.value.driver == "ds18b20"
    assert len(sleeps) == 3  # retries=3 by default


def test_ds18b20_power_on_value_then_good(tmp_path):
    base = make_w1(tmp_path / "w1", {DEVICE: {}})
    script = ScriptedW1(base / DEVICE / "w1_slave", [POWER_ON, GOOD])
    assert DS18B20(base=base, sleep=script).read()["temperature"].value == 23.125


def test_ds18b20_malformed(tmp_path, sleeps):
    base = make_w1(tmp_path / "w1", {DEVICE: {"w1_slave": "garbage\n"}})
    with pytest.raises(SensorDataError, match="2 lines"):
        DS18B20(base=base, retries=0, sleep=sleeps).read()
    assert sleeps == []


def test_ds18b20_several_devices(tmp_path, sleeps):
    other = "28-0000075d6a2b"
    base = make_w1(tmp_path / "w1", {DEVICE: {"w1_slave": GOOD}, other: {"w1_slave": NEGATIVE}})
    with pytest.raises(ConfigError, match=f"{other}, {DEVICE}") as info:
        DS18B20(base=base, sleep=sleeps).read()
    assert info.value.field == "device"
    assert DS18B20(device=other, base=base, sleep=sleeps).read()["temperature"].value == -10.125
    assert find_devices(base) == [other, DEVICE]


def test_ds18b20_chosen_device_missing(tmp_path, sleeps):
    base = make_w1(tmp_path / "w1", {DEVICE: {"w1_slave": GOOD}})
    with pytest.raises(SensorUnavailableError, match=f"found: {DEVICE}"):
        DS18B20(device="28-000000000001", base=base, sleep=sleeps).read()


def test_ds18b20_no_devices(tmp_path, sleeps):
    base = make_w1(tmp_path / "w1", {})
    with pytest.raises(SensorUnavailableError, match="no DS18B20"):
        DS18B20(base=base, sleep=sleeps).read()


def test_ds18b20_no_w1_bus(tmp_path, sleeps):
    with pytest.raises(SensorUnavailableError, match="dtoverlay=w1-gpio") as info:
        DS18B20(base=tmp_path / "missing", sleep=sleeps).read()
    assert isinstance(info.value, TransientError)


def test_ds18b20_temperature_file_fallback(tmp_path, sleeps):
    base = make_w1(tmp_path / "w1", {DEVICE: {"temperature": "-1250\n"}})
    assert DS18B20(base=base, sleep=sleeps).read()["temperature"].value == -1.25


def test_ds18b20_temperature_file_malformed(tmp_path, sleeps):
    base = make_w1(tmp_path / "w1", {DEVICE: {"temperature": "\n"}})
    with pytest.raises(SensorDataError, match="malformed"):
        DS18B20(base=base, retries=1, sleep=sleeps).read()


def test_ds18b20_device_without_files(tmp_path, sleeps):
    base = make_w1(tmp_path / "w1", {DEVICE: {}})
    with pytest.raises(SensorUnavailableError, match="disappeared"):
        DS18B20(base=base, sleep=sleeps).read()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"device": "0316a2794cff"}, "device"),
        ({"device": 28}, "device"),
        ({"retries": -1}, "retries"),
        ({"retries": 1.5}, "retries"),
        ({"base": 3}, "base"),
    ],
)
def test_ds18b20_bad_options(options, field):
    with pytest.raises(ConfigError) as info:
        create_driver("ds18b20", options)
    assert info.value.field == field


def test_ds18b20_through_create_driver(tmp_path, sleeps):
    base = make_w1(tmp_path / "w1", {DEVICE: {"w1_slave": GOOD}})
    with create_driver("ds18b20", {"device": DEVICE, "base": str(base)}, sleep=sleeps) as sensor:
        assert sensor.read()["temperature"].value == 23.125


# -- module hygiene ---------------------------------------------------------------


@pytest.mark.parametrize("module", ["_i2c", "bme280", "bh1750", "ds18b20", "fakes"])
def test_public_names_exist(module):
    import importlib

    mod = importlib.import_module(f"iota_publisher.drivers.{module}")
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name}"


def test_no_hardware_library_imported_at_module_level():
    import importlib

    for module in ("_i2c", "bme280", "bh1750", "ds18b20"):
        source = Path(importlib.import_module(f"iota_publisher.drivers.{module}").__file__)
        top_level = [
            line
            for line in source.read_text().splitlines()
            if line.startswith(("import ", "from "))
        ]
        assert not any("smbus" in line for line in top_level), module
