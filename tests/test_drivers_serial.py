"""The UART drivers (PMS5003, SDS011, MH-Z19B): frame parsing against the
reference's golden frames, resynchronisation, the exact command bytes, the
port layer, and one run over a real pseudo-terminal with pyserial."""

from __future__ import annotations

import logging
import os
import random
import select
import sys
import threading

import pytest
from iota_publisher.drivers import (
    SensorDataError,
    SensorUnavailableError,
    _serial,
    create_driver,
    mhz19,
    pms5003,
    sds011,
)
from iota_publisher.drivers._serial import (
    SensorWarmingUpError,
    open_port,
    sync_frame,
)
from iota_publisher.drivers.fakes import ScriptedSerial

from iota_publisher.errors import ConfigError, InvalidInputError, TransientError

h = bytes.fromhex

# golden frames from the reference (drivers.md)
PMS_GOLDEN = h(
    "42 4d 00 1c 00 00 00 08 00 08 00 00 00 08 00 08 "
    "00 d2 00 46 00 2d 00 1e 00 00 00 00 97 00 02 c5"
)
SDS_GOLDEN = h("aa c0 06 00 06 00 58 d9 3d ab")
MHZ_GOLDEN = h("ff 86 02 7c 42 00 00 00 ba")

PMS_ACK = h("42 4d 00 04 e1 00 01 74")  # the answer to a mode command: same header, length 4
SDS_REPLY = h("aa c5 02 01 01 00 ff ff 02 ab")  # the answer to "set report mode"
MHZ_PREHEAT = h("ff 86 00 00 00 00 00 00 7a")  # valid checksum, all-zero data


def pms_frame(values: list[int], reserved: int = 0x9700) -> bytes:
    words = b"".join(v.to_bytes(2, "big") for v in [*values, reserved])
    body = b"\x42\x4d" + (28).to_bytes(2, "big") + words
    return body + (sum(body) & 0xFFFF).to_bytes(2, "big")


def corrupt(frame: bytes, index: int) -> bytes:
    return frame[:index] + bytes([frame[index] ^ 0x01]) + frame[index + 1 :]


def chunked(data: bytes, rng: random.Random) -> list[bytes]:
    chunks, i = [], 0
    while i < len(data):
        n = rng.randint(1, 11)
        chunks.append(data[i : i + n])
        i += n
    return chunks


def pms_sync(port: ScriptedSerial, **limits):
    return sync_frame(
        port.read, header=pms5003.HEADER, size=32, parse=pms5003.parse_frame, **limits
    )


# --------------------------------------------------------------------------- PMS5003 frames


def test_pms5003_golden_frame():
    frame = pms5003.parse_frame(PMS_GOLDEN)
    assert frame == pms5003.PMSFrame(
        pm1_0_cf1=0,
        pm2_5_cf1=8,
        pm10_cf1=8,
        pm1_0=0,
        pm2_5=8,
        pm10=8,
        particles_0_3um=210,
        particles_0_5um=70,
        particles_1_0um=45,
        particles_2_5um=30,
        particles_5_0um=0,
        particles_10um=0,
    )


def test_pms5003_words_are_big_endian_and_in_order():
    values = [1, 2, 3, 4, 0x1234, 6, 7, 8, 9, 10, 11, 0xFFFF]
    frame = pms5003.parse_frame(pms_frame(values))
    assert list(vars(frame).values()) == values


@pytest.mark.parametrize(
    "frame, message",
    [
        (corrupt(PMS_GOLDEN, 0), "header"),
        (PMS_GOLDEN[:31], "31 bytes"),
        (PMS_GOLDEN + b"\x00", "33 bytes"),
        (PMS_GOLDEN[:2] + h("00 1a") + PMS_GOLDEN[4:30] + h("02 c3"), "length field"),
        (corrupt(PMS_GOLDEN, 17), "checksum"),
        (corrupt(PMS_GOLDEN, 31), "checksum"),
    ],
)
def test_pms5003_bad_frames_are_data_errors(frame, message):
    with pytest.raises(SensorDataError, match=message) as info:
        pms5003.parse_frame(frame)
    assert info.value.driver == "pms5003"


def test_pms5003_commands_are_the_documented_bytes():
    assert pms5003.PASSIVE_READ == h("42 4D E2 00 00 01 71")
    assert pms5003.PASSIVE_MODE == h("42 4D E1 00 00 01 70")
    assert pms5003.ACTIVE_MODE == h("42 4D E1 00 01 01 71")
    assert pms5003.SLEEP == h("42 4D E4 00 00 01 73")
    assert pms5003.WAKE == h("42 4D E4 00 01 01 74")


# --------------------------------------------------------------------------- resync


def test_sync_reads_a_frame_split_over_many_reads():
    port = ScriptedSerial([PMS_GOLDEN[i : i + 1] for i in range(32)])
    synced = pms_sync(port)
    assert synced.value.pm2_5 == 8
    assert (synced.frame, synced.skipped_bytes, synced.bad_frames) == (PMS_GOLDEN, 0, 0)


def test_sync_skips_garbage_and_leaves_what_follows_the_frame():
    port = ScriptedSerial(
        [b"\x00\xffnoise\x42", b"\x42" + PMS_GOLDEN[:5], PMS_GOLDEN[5:] + b"after"]
    )
    synced = pms_sync(port)
    assert synced.frame == PMS_GOLDEN
    assert synced.skipped_bytes == 9
    assert port.in_waiting == 5  # the bytes after the frame were not read
    assert port.read(10) == b"after"


def test_sync_finds_a_header_split_across_reads():
    port = ScriptedSerial([b"junk\x42", b"\x4d" + PMS_GOLDEN[2:]])
    assert pms_sync(port).skipped_bytes == 4


@pytest.mark.parametrize(
    "before",
    [
        corrupt(PMS_GOLDEN, 20),  # bad checksum
        PMS_GOLDEN[:17],  # truncated: the next frame starts inside it
        PMS_ACK,  # a command acknowledgement: right header, length 4
        PMS_GOLDEN[:2] + h("00 40") + PMS_GOLDEN[4:],  # wrong length field
        b"\x42\x4d\x42\x4d\x42",  # headers with nothing behind them
    ],
    ids=["checksum", "truncated", "ack", "length", "headers"],
)
def test_sync_resynchronises_after_a_bad_frame(before, caplog):
    caplog.set_level(logging.DEBUG, logger="iota_publisher.drivers._serial")
    frame = pms_frame([5] * 12)
    port = ScriptedSerial([before, frame[:9], frame[9:]])
    synced = pms_sync(port, driver="pms5003")
    assert synced.frame == frame
    assert synced.skipped_bytes == len(before)
    assert synced.bad_frames >= 1
    assert "pms5003: resynchronised: skipped" in caplog.text


def test_sync_survives_random_garbage_and_chunking():
    rng = random.Random(20240601)
    for _ in range(200):
        frame = pms_frame([rng.randrange(0x10000) for _ in range(12)])
        garbage = bytes(rng.randrange(256) for _ in range(rng.randrange(60)))
        if rng.random() < 0.5:
            garbage += corrupt(PMS_GOLDEN, rng.randrange(32))
        port = ScriptedSerial(chunked(garbage + frame + b"\x42\x4d\x00", rng))
        assert pms_sync(port, max_skip=200).frame == frame


def test_sync_gives_up_after_max_skip_bytes():
    port = ScriptedSerial([b"\x00" * 100, PMS_GOLDEN])
    with pytest.raises(SensorUnavailableError, match="skipped more than 64 bytes"):
        pms_sync(port, max_skip=64)


def test_sync_gives_up_after_max_bad_frames():
    port = ScriptedSerial([corrupt(PMS_GOLDEN, 30), PMS_GOLDEN])
    with pytest.raises(SensorDataError, match="checksum"):
        pms_sync(port, max_bad=1)


def test_sync_timeout_with_no_data_is_unavailable():
    with pytest.raises(SensorUnavailableError, match="no data") as info:
        pms_sync(ScriptedSerial(), driver="pms5003")
    assert isinstance(info.value, TransientError)
    assert info.value.driver == "pms5003"


def test_sync_timeout_in_the_middle_of_a_frame_is_unavailable():
    with pytest.raises(SensorUnavailableError, match="middle of a frame"):
        pms_sync(ScriptedSerial([b"xx" + PMS_GOLDEN[:20]]))


def test_sync_timeout_after_garbage_only_is_unavailable():
    with pytest.raises(SensorUnavailableError, match="no frame starting 42 4d"):
        pms_sync(ScriptedSerial([b"\x01\x02\x03"]))


def test_sync_timeout_after_a_bad_frame_is_a_data_error():
    with pytest.raises(SensorDataError, match="1 frame.* failed"):
        pms_sync(ScriptedSerial([corrupt(PMS_GOLDEN, 12)]))


# --------------------------------------------------------------------------- PMS5003 driver


def test_pms5003_through_the_registry_in_active_mode():
    port = ScriptedSerial([b"\x17\x42", PMS_GOLDEN[:10], PMS_GOLDEN[10:]])
    with create_driver("pms5003", {"port": port}) as sensor:
        readings = sensor.read()
    assert port.written == [pms5003.ACTIVE_MODE]
    assert list(readings)[:3] == ["pm1_0", "pm2_5", "pm10"]
    assert {k: (r.value, r.unit) for k, r in readings.items()} == {
        "pm1_0": (0, "ug/m3"),
        "pm2_5": (8, "ug/m3"),
        "pm10": (8, "ug/m3"),
        "pm1_0_cf1": (0, "ug/m3"),
        "pm2_5_cf1": (8, "ug/m3"),
        "pm10_cf1": (8, "ug/m3"),
        "particles_0_3um": (210, "/0.1L"),
        "particles_0_5um": (70, "/0.1L"),
        "particles_1_0um": (45, "/0.1L"),
        "particles_2_5um": (30, "/0.1L"),
        "particles_5_0um": (0, "/0.1L"),
        "particles_10um": (0, "/0.1L"),
    }
    assert port.is_open  # a passed-in port is not ours to close


def test_pms5003_active_mode_drops_stale_bytes_before_reading():
    fresh = pms_frame([9] * 12)
    port = ScriptedSerial([PMS_ACK + PMS_GOLDEN[:16], fresh])
    sensor = pms5003.PMS5003(port=port)
    port.read(3)  # something already arrived and waits in the buffer
    assert sensor.read()["pm2_5"].value == 9


def test_pms5003_passive_mode_asks_for_each_frame():
    port = ScriptedSerial(
        replies={
            pms5003.PASSIVE_MODE: PMS_ACK,
            pms5003.PASSIVE_READ: [PMS_GOLDEN[:7], PMS_GOLDEN[7:]],
        }
    )
    sensor = pms5003.PMS5003(port=port, mode="passive")
    assert sensor.read()["pm2_5"].value == 8
    assert sensor.read()["pm10"].value == 8
    assert port.written == [pms5003.PASSIVE_MODE, pms5003.PASSIVE_READ, pms5003.PASSIVE_READ]


def test_pms5003_corrupted_frames_are_not_fatal():
    port = ScriptedSerial([corrupt(PMS_GOLDEN, 25), PMS_GOLDEN[:30], PMS_GOLDEN])
    assert pms5003.PMS5003(port=port).read()["particles_0_3um"].value == 210


def test_pms5003_no_data_is_unavailable():
    sensor = pms5003.PMS5003(port=ScriptedSerial())
    with pytest.raises(SensorUnavailableError) as info:
        sensor.read()
    assert info.value.driver == "pms5003"


def test_pms5003_warmup_refuses_early_readings():
    now = [100.0]
    port = ScriptedSerial([PMS_GOLDEN], loop=True)
    sensor = pms5003.PMS5003(port=port, warmup=30, clock=lambda: now[0])
    with pytest.raises(SensorWarmingUpError, match="30 s to go") as info:
        sensor.read()  # the warm-up counts from the first use of the port
    assert isinstance(info.value, SensorDataError) and isinstance(info.value, TransientError)
    now[0] = 120.0
    with pytest.raises(SensorWarmingUpError, match="10 s to go"):
        sensor.read()
    now[0] = 130.5
    assert sensor.read()["pm10"].value == 8


def test_scripted_serial_loop_serves_a_laptop_stream():
    sensor = create_driver("pms5003", {"port": ScriptedSerial([PMS_GOLDEN], loop=True)})
    for _ in range(3):
        assert sensor.read()["pm2_5"].value == 8


# --------------------------------------------------------------------------- SDS011


def test_sds011_golden_frame():
    assert sds011.parse_frame(SDS_GOLDEN) == (0.6, 0.6)


def test_sds011_values_are_little_endian_tenths():
    body = h("aa c0 d2 04 39 30 01 02")  # 1234 -> 123.4, 12345 -> 1234.5
    frame = body + bytes([sum(body[2:]) & 0xFF, 0xAB])
    assert sds011.parse_frame(frame) == (123.4, 1234.5)


@pytest.mark.parametrize(
    "frame, message",
    [
        (SDS_REPLY, "not a data frame"),
        (SDS_GOLDEN[:9] + b"\xaa", "tail"),
        (corrupt(SDS_GOLDEN, 8), "checksum"),
        (corrupt(SDS_GOLDEN, 4), "checksum"),
        (SDS_GOLDEN[:9], "9 bytes"),
    ],
)
def test_sds011_bad_frames_are_data_errors(frame, message):
    with pytest.raises(SensorDataError, match=message):
        sds011.parse_frame(frame)


def test_sds011_commands_are_the_documented_bytes():
    assert sds011.QUERY == h("AA B4 04") + bytes(12) + h("FF FF 02 AB")
    assert sds011.command(0x04, b"") == sds011.QUERY
    assert sds011.SLEEP == h("AA B4 06 01 00") + bytes(10) + h("FF FF 05 AB")
    assert sds011.WAKE == h("AA B4 06 01 01") + bytes(10) + h("FF FF 06 AB")
    assert sds011.QUERY_MODE == h("AA B4 02 01 01") + bytes(10) + h("FF FF 02 AB")
    assert sds011.ACTIVE_MODE == h("AA B4 02 01 00") + bytes(10) + h("FF FF 01 AB")
    # work period 5 min, to device A160: checksum = 08+01+05+A1+60 = 0x10F
    assert sds011.command(0x08, b"\x01\x05", device=h("a1 60")) == (
        h("AA B4 08 01 05") + bytes(10) + h("A1 60 0F AB")
    )
    assert all(len(c) == 19 for c in (sds011.QUERY, sds011.SLEEP, sds011.WAKE))


@pytest.mark.parametrize("args", [(0x100, b""), (0x04, bytes(13)), (0x04, b"", b"\xff")])
def test_sds011_command_misuse(args):
    with pytest.raises(InvalidInputError):
        sds011.command(*args)


def test_sds011_active_mode_skips_command_replies():
    port = ScriptedSerial(
        [SDS_REPLY, SDS_REPLY[:4], SDS_REPLY[4:] + SDS_GOLDEN[:3], SDS_GOLDEN[3:]]
    )
    with create_driver("sds011", {"port": port}) as sensor:
        readings = sensor.read()
    assert {k: (r.value, r.unit) for k, r in readings.items()} == {
        "pm2_5": (0.6, "ug/m3"),
        "pm10": (0.6, "ug/m3"),
    }
    assert port.written == [sds011.WAKE, sds011.ACTIVE_MODE]


def test_sds011_query_mode_sends_the_query():
    port = ScriptedSerial(replies={sds011.QUERY: [SDS_REPLY, b"\x00", SDS_GOLDEN]})
    sensor = sds011.SDS011(port=port, mode="query")
    assert sensor.read()["pm10"].value == 0.6
    assert sensor.read()["pm2_5"].value == 0.6
    assert port.written == [sds011.WAKE, sds011.QUERY_MODE, sds011.QUERY, sds011.QUERY]


def test_sds011_bad_frame_then_good():
    port = ScriptedSerial([corrupt(SDS_GOLDEN, 3), SDS_GOLDEN[:6], SDS_GOLDEN])
    assert sds011.SDS011(port=port).read()["pm2_5"].value == 0.6


def test_sds011_no_data_is_unavailable():
    with pytest.raises(SensorUnavailableError):
        sds011.SDS011(port=ScriptedSerial(replies={sds011.QUERY: SDS_REPLY}), mode="query").read()


# --------------------------------------------------------------------------- MH-Z19B


def test_mhz19_golden_frame():
    assert mhz19.parse_frame(MHZ_GOLDEN) == 636


@pytest.mark.parametrize(
    "frame, message",
    [
        (corrupt(MHZ_GOLDEN, 8), "checksum"),
        (corrupt(MHZ_GOLDEN, 3), "checksum"),
        (h("ff 79 01 00 00 00 00 00 86"), "header"),
        (MHZ_GOLDEN[:8], "8 bytes"),
    ],
)
def test_mhz19_bad_frames_are_data_errors(frame, message):
    with pytest.raises(SensorDataError, match=message):
        mhz19.parse_frame(frame)


def test_mhz19_checksum_wraps_to_zero():
    # bytes 1-7 summing to a multiple of 256 give checksum 0, not 0x100
    body = h("ff 86 01 79 00 00 00 00")
    assert mhz19.checksum(body + b"\x00") == 0
    assert mhz19.parse_frame(body + b"\x00") == 377


def test_mhz19_commands_are_the_documented_bytes():
    assert mhz19.READ_CO2 == h("FF 01 86 00 00 00 00 00 79")
    assert mhz19.ABC_ON == h("FF 01 79 A0 00 00 00 00 E6")
    assert mhz19.ABC_OFF == h("FF 01 79 00 00 00 00 00 86")
    assert mhz19.ZERO_CALIBRATION == h("FF 01 87 00 00 00 00 00 78")
    with pytest.raises(InvalidInputError):
        mhz19.command(0x86, bytes(6))


def test_mhz19_reads_co2():
    port = ScriptedSerial(replies={mhz19.READ_CO2: [MHZ_GOLDEN[:4], MHZ_GOLDEN[4:]]})
    with create_driver("mhz19", {"port": port}) as sensor:
        readings = sensor.read()
    assert list(readings) == ["co2"]
    assert (readings["co2"].value, readings["co2"].unit) == (636, "ppm")
    assert port.written == [mhz19.READ_CO2]  # abc=None: the setting is left alone


@pytest.mark.parametrize("abc, command", [(True, mhz19.ABC_ON), (False, mhz19.ABC_OFF)])
def test_mhz19_abc_is_sent_once_at_start(abc, command):
    port = ScriptedSerial(replies={mhz19.READ_CO2: MHZ_GOLDEN})
    sensor = mhz19.MHZ19(port=port, abc=abc)
    sensor.read()
    sensor.read()
    assert port.written == [command, mhz19.READ_CO2, mhz19.READ_CO2]


def test_mhz19_skips_garbage_before_the_reply():
    port = ScriptedSerial(replies={mhz19.READ_CO2: [b"\xff\x79\x01", b"\xff" + MHZ_GOLDEN]})
    assert mhz19.MHZ19(port=port).read()["co2"].value == 636


@pytest.mark.parametrize("reply", [MHZ_PREHEAT, bytes(9)], ids=["zero-data", "zero-bytes"])
def test_mhz19_preheat_zeros_are_a_warming_up_error(reply):
    sensor = mhz19.MHZ19(port=ScriptedSerial(replies={mhz19.READ_CO2: reply}))
    with pytest.raises(SensorWarmingUpError, match="warming up") as info:
        sensor.read()
    assert isinstance(info.value, SensorDataError) and isinstance(info.value, TransientError)


def test_mhz19_retries_after_a_bad_checksum():
    port = ScriptedSerial([corrupt(MHZ_GOLDEN, 2)], replies={mhz19.READ_CO2: MHZ_GOLDEN})
    sensor = mhz19.MHZ19(port=port)
    assert sensor.read()["co2"].value == 636
    assert port.written == [mhz19.READ_CO2, mhz19.READ_CO2]


def test_mhz19_gives_up_after_repeated_bad_checksums():
    port = ScriptedSerial(replies={mhz19.READ_CO2: corrupt(MHZ_GOLDEN, 8)})
    with pytest.raises(SensorDataError, match="3 attempts.*checksum") as info:
        mhz19.MHZ19(port=port).read()
    assert not isinstance(info.value, TransientError)
    assert port.written == [mhz19.READ_CO2] * 3


def test_mhz19_no_answer_is_unavailable():
    with pytest.raises(SensorUnavailableError, match="no data"):
        mhz19.MHZ19(port=ScriptedSerial()).read()


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    "name, options, field",
    [
        ("pms5003", {"mode": "query"}, "mode"),
        ("pms5003", {"mode": 1}, "mode"),
        ("pms5003", {"port": 42}, "port"),
        ("pms5003", {"port": "  "}, "port"),
        ("pms5003", {"warmup": -1}, "warmup"),
        ("pms5003", {"warmup": "30"}, "warmup"),
        ("pms5003", {"timeout": 0}, "timeout"),
        ("pms5003", {"timeout": True}, "timeout"),
        ("pms5003", {"baud": 9600}, "options"),
        ("sds011", {"mode": "passive"}, "mode"),
        ("sds011", {"port": object()}, "port"),
        ("mhz19", {"abc": "yes"}, "abc"),
        ("mhz19", {"abc": 1}, "abc"),
        ("mhz19", {"mode": "active"}, "options"),
    ],
)
def test_bad_options_name_the_option(name, options, field):
    with pytest.raises(ConfigError) as info:
        create_driver(name, options)
    assert info.value.field == field


def test_creating_a_driver_does_not_open_the_port(monkeypatch):
    monkeypatch.setattr(_serial, "open_port", pytest.fail)
    for name in ("pms5003", "sds011", "mhz19"):
        create_driver(name, {"port": "/dev/does-not-exist"}).close()


# --------------------------------------------------------------------------- port layer


class _Opener:
    """Stands in for open_port: hands out ScriptedSerial ports and records the calls."""

    def __init__(self, *scripts: list[bytes]) -> None:
        self.scripts = list(scripts)
        self.calls: list[tuple] = []
        self.ports: list[ScriptedSerial] = []

    def __call__(self, device, baudrate, timeout):
        self.calls.append((device, baudrate, timeout))
        port = ScriptedSerial(self.scripts.pop(0), timeout=timeout)
        self.ports.append(port)
        return port


def test_a_device_path_is_opened_lazily_and_closed(monkeypatch):
    opener = _Opener([PMS_GOLDEN])
    monkeypatch.setattr(_serial, "open_port", opener)
    sensor = create_driver("pms5003", {"port": "/dev/ttyUSB0", "mode": "passive"})
    assert opener.calls == []
    sensor.read()
    assert opener.calls == [("/dev/ttyUSB0", 9600, 3.0)]
    port = opener.ports[0]
    assert port.written == [pms5003.PASSIVE_MODE, pms5003.PASSIVE_READ]
    sensor.close()
    assert not port.is_open
    sensor.close()  # idempotent


def test_an_io_error_drops_the_port_and_the_next_read_reopens(monkeypatch):
    opener = _Opener([], [MHZ_GOLDEN])
    monkeypatch.setattr(_serial, "open_port", opener)
    sensor = mhz19.MHZ19(port="/dev/serial0", abc=False, timeout=1)

    def unplugged(size):
        raise OSError(5, "Input/output error")

    first = sensor.port
    first.read = unplugged
    with pytest.raises(SensorUnavailableError, match="Input/output error"):
        sensor.read()
    assert not first.is_open
    assert sensor.read()["co2"].value == 636
    assert opener.calls == [("/dev/serial0", 9600, 1.0)] * 2
    assert opener.ports[1].written == [mhz19.ABC_OFF, mhz19.READ_CO2]  # start-up again


def test_open_port_without_pyserial_is_a_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "serial", None)
    with pytest.raises(ConfigError, match=r"pip install iota-publisher\[pi\]") as info:
        open_port("/dev/serial0")
    assert info.value.field == "port"


def test_open_port_on_a_missing_device_is_unavailable_with_a_hint(tmp_path):
    pytest.importorskip("serial")
    with pytest.raises(SensorUnavailableError, match="No such file.*console off") as info:
        open_port(str(tmp_path / "ttyNONE"))
    assert isinstance(info.value, TransientError)


def test_a_driver_reports_a_missing_device_as_unavailable(tmp_path):
    pytest.importorskip("serial")
    sensor = sds011.SDS011(port=str(tmp_path / "ttyNONE"))
    with pytest.raises(SensorUnavailableError) as info:
        sensor.read()
    assert info.value.driver == "sds011"


def test_scripted_serial_basics():
    port = ScriptedSerial([b"abc", b"", b"de"], timeout=0.5)
    assert port.timeout == 0.5 and port.in_waiting == 0
    assert port.read(2) == b"ab"
    assert port.in_waiting == 1
    port.reset_input_buffer()
    assert port.read(5) == b""  # the scripted timeout
    assert port.read(5) == b"de"
    assert port.read(5) == b""  # script used up
    assert port.write(b"\x01\x02") == 2 and port.written == [b"\x01\x02"]
    port.close()
    with pytest.raises(OSError):
        port.read(1)


# --------------------------------------------------------------------------- a real port


def test_pms5003_over_a_pseudo_terminal_with_pyserial():
    pytest.importorskip("serial")
    master, slave = os.openpty()
    stop = threading.Event()
    heard = bytearray()
    answered = 0

    def sensor_side():
        # answers each passive-read command with the golden frame, in two pieces
        nonlocal answered
        while not stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            heard.extend(os.read(master, 64))
            if heard.count(pms5003.PASSIVE_READ) > answered:
                answered += 1
                os.write(master, b"\x00\x13" + PMS_GOLDEN[:11])
                os.write(master, PMS_GOLDEN[11:])

    thread = threading.Thread(target=sensor_side, daemon=True)
    try:
        sensor = pms5003.PMS5003(port=os.ttyname(slave), mode="passive", timeout=2)
        try:
            assert type(sensor.port).__module__.startswith("serial")  # pyserial opened it
            thread.start()
            assert sensor.read()["pm2_5"].value == 8
            assert sensor.read()["particles_0_3um"].value == 210
        finally:
            sensor.close()
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(2)
        os.close(master)
        os.close(slave)
    assert bytes(heard) == (pms5003.PASSIVE_MODE + pms5003.PASSIVE_READ + pms5003.PASSIVE_READ)


def test_sync_frame_refuses_a_bad_header_as_misuse():
    for header, size in ((b"", 4), (b"\x42\x4d\x00", 2)):
        with pytest.raises(InvalidInputError) as info:
            sync_frame(ScriptedSerial().read, header=header, size=size, parse=bytes)
        assert info.value.field == "header"
