"""Real PMS5003, SDS011 and MH-Z19B sensors on a UART (opt-in, see conftest.py)::

    pytest tests/hardware/test_serial_hardware.py --hardware=pms5003,sds011,mhz19

Each sensor is looked for on ``/dev/serial0`` unless an environment variable
names its port: ``IOTA_PMS5003_PORT``, ``IOTA_SDS011_PORT``, ``IOTA_MHZ19_PORT``
(e.g. ``IOTA_SDS011_PORT=/dev/ttyUSB0`` for the SDS011's USB adapter). The checks
are plausibility ranges and the sensors' own invariants, not values. The tests
leave the sensors as they found them where that matters: the SDS011's report
mode is stored in the sensor, so it is set back to active; the MH-Z19B's ABC
setting is not touched.
"""

from __future__ import annotations

import os

import pytest
from iota_publisher.drivers import create_driver
from iota_publisher.drivers import sds011 as sds011_module
from iota_publisher.drivers._serial import DEFAULT_DEVICE, SensorWarmingUpError


def _device(name: str) -> str:
    return os.environ.get(f"IOTA_{name.upper()}_PORT", DEFAULT_DEVICE)


def _check_pm(readings) -> None:
    for key in ("pm2_5", "pm10"):
        assert readings[key].unit == "ug/m3"
        assert 0 <= readings[key].value <= 1000


@pytest.mark.hardware("pms5003")
@pytest.mark.parametrize("mode", ["passive", "active"])  # active last: the power-up default
def test_pms5003(mode):
    with create_driver("pms5003", {"port": _device("pms5003"), "mode": mode}) as sensor:
        for _ in range(2):
            readings = sensor.read()
            _check_pm(readings)
            values = {key: reading.value for key, reading in readings.items()}
            # PM1 <= PM2.5 <= PM10, and counts "above d um" shrink as d grows
            assert values["pm1_0"] <= values["pm2_5"] <= values["pm10"]
            assert values["pm1_0_cf1"] <= values["pm2_5_cf1"] <= values["pm10_cf1"]
            counts = [values[k] for k in values if k.startswith("particles_")]
            assert counts == sorted(counts, reverse=True)


@pytest.mark.hardware("sds011")
@pytest.mark.parametrize("mode", ["query", "active"])
def test_sds011(mode):
    sensor = create_driver("sds011", {"port": _device("sds011"), "mode": mode})
    try:
        for _ in range(2):
            _check_pm(sensor.read())
    finally:
        if mode != "active":  # the report mode survives power cycles: put it back
            sensor.port.write(sds011_module.ACTIVE_MODE)
        sensor.close()


@pytest.mark.hardware("mhz19")
def test_mhz19():
    with create_driver("mhz19", {"port": _device("mhz19")}) as sensor:
        try:
            readings = sensor.read()
        except SensorWarmingUpError:
            pytest.skip("the MH-Z19B is still preheating (about 3 minutes after power-up)")
    assert readings["co2"].unit == "ppm"
    assert 300 <= readings["co2"].value <= 10000
