"""Real BME280, BH1750 and DS18B20 sensors (opt-in, see conftest.py)::

    pytest tests/hardware/test_i2c_hardware.py --hardware=bme280,bh1750,ds18b20

I2C sensors are looked for on bus 1 at both of their addresses; the DS18B20
test uses the first 28-* device under /sys/bus/w1/devices. The checks are
plausibility ranges (the sensors' specified operating ranges), not values.
"""

from __future__ import annotations

import pytest
from iota_publisher.drivers import SensorUnavailableError, create_driver
from iota_publisher.drivers.bh1750 import ADDRESSES as BH1750_ADDRESSES
from iota_publisher.drivers.bme280 import ADDRESSES as BME280_ADDRESSES
from iota_publisher.drivers.ds18b20 import find_devices

I2C_BUS = 1


def _open_i2c(name: str, addresses: tuple[int, ...], **options):
    """The driver at whichever of ``addresses`` answers."""
    errors = []
    for address in addresses:
        sensor = create_driver(name, {"address": address, "bus": I2C_BUS, **options})
        try:
            sensor.read()
        except SensorUnavailableError as exc:
            sensor.close()
            errors.append(str(exc))
            continue
        return sensor
    pytest.fail(f"no {name} answers on I2C bus {I2C_BUS}: {'; '.join(errors)}")


@pytest.mark.hardware("bme280")
@pytest.mark.parametrize("mode", ["forced", "normal"])
def test_bme280(mode):
    with _open_i2c("bme280", BME280_ADDRESSES, mode=mode) as sensor:
        for _ in range(2):
            readings = sensor.read()
            assert -40.0 <= readings["temperature"].value <= 85.0
            assert 300.0 <= readings["pressure"].value <= 1100.0
            assert 0.0 <= readings["humidity"].value <= 100.0


@pytest.mark.hardware("bme280")
def test_bme280_oversampling_agrees():
    with _open_i2c("bme280", BME280_ADDRESSES) as fast:
        quick = fast.read()
    with _open_i2c("bme280", BME280_ADDRESSES, oversampling=16) as slow:
        careful = slow.read()
    assert abs(quick["temperature"].value - careful["temperature"].value) < 1.0
    assert abs(quick["pressure"].value - careful["pressure"].value) < 1.0


@pytest.mark.hardware("bh1750")
@pytest.mark.parametrize("mode", ["high", "high2", "low", "continuous_high"])
def test_bh1750(mode):
    with _open_i2c("bh1750", BH1750_ADDRESSES, mode=mode) as sensor:
        for _ in range(2):
            lux = sensor.read()["illuminance"].value
            assert 0.0 <= lux <= 65535 / 1.2


@pytest.mark.hardware("ds18b20")
def test_ds18b20():
    devices = find_devices()
    assert devices, "no 28-* device under /sys/bus/w1/devices"
    with create_driver("ds18b20", {"device": devices[0]}) as sensor:
        value = sensor.read()["temperature"].value
    assert -55.0 <= value <= 125.0
    assert value != 85.0
