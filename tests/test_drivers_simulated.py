"""The simulated weather station (drivers/simulated.py)."""

from __future__ import annotations

import math

import pytest
from iota_publisher.drivers import (
    Reading,
    create_driver,
)
from iota_publisher.drivers.simulated import SIMULATED_READINGS, Simulated

from iota_publisher.errors import ConfigError

T0 = 1_556_712_000.0  # 2019-05-01T12:00:00Z


def values(readings: dict[str, Reading]) -> dict[str, object]:
    return {name: r.value for name, r in readings.items()}


# -- simulated -------------------------------------------------------------------


def test_simulated_is_deterministic():
    a = Simulated(seed=3, readings=list(SIMULATED_READINGS), clock=lambda: T0)
    b = create_driver(
        "simulated", {"seed": 3, "readings": list(SIMULATED_READINGS)}, clock=lambda: T0
    )
    assert a.read() == b.read() == a.read()
    other = Simulated(seed=4, readings=list(SIMULATED_READINGS), clock=lambda: T0)
    assert values(other.read()) != values(a.read())
    later = Simulated(clock=lambda: T0 + 600).read()
    assert values(later) != values(Simulated(clock=lambda: T0).read())


def test_simulated_stays_in_range_and_drifts_smoothly():
    ranges = {
        "temperature": (-40, 60),
        "humidity": (0, 100),
        "pressure": (870, 1085),
        "co2": (350, 5000),
        "pm2_5": (0, 1000),
        "illuminance": (0, 120_000),
    }
    now = [T0]
    sensor = Simulated(seed=11, readings=list(SIMULATED_READINGS), clock=lambda: now[0])
    previous = None
    series: dict[str, list[float]] = {name: [] for name in SIMULATED_READINGS}
    for step in range(2 * 24 * 12):  # two days, every 5 minutes
        now[0] = T0 + step * 300
        readings = sensor.read()
        assert set(readings) == set(SIMULATED_READINGS)
        for name, reading in readings.items():
            low, high = ranges[name]
            assert math.isfinite(reading.value) and low <= reading.value <= high, (name, reading)
            assert reading.unit == SIMULATED_READINGS[name]
            assert reading.time == now[0]
            series[name].append(reading.value)
        if previous is not None:
            assert abs(readings["temperature"].value - previous["temperature"].value) < 1.5
            assert abs(readings["pressure"].value - previous["pressure"].value) < 1.5
            assert abs(readings["humidity"].value - previous["humidity"].value) < 5
        previous = readings
    assert isinstance(series["co2"][0], int)
    for name in ("temperature", "humidity", "pressure", "co2", "pm2_5"):
        assert max(series[name]) - min(series[name]) > 1, name  # it moves
    assert min(series["illuminance"]) == 0 and max(series["illuminance"]) > 10_000  # night, day


def test_simulated_readings_subset_and_defaults():
    assert set(Simulated(clock=lambda: T0).read()) == {"temperature", "humidity", "pressure"}
    readings = Simulated(readings=["co2", "pm2_5"], clock=lambda: T0).read()
    assert list(readings) == ["co2", "pm2_5"]
    assert readings["pm2_5"].unit == "ug/m3"


@pytest.mark.parametrize(
    "options, field",
    [
        ({"seed": "1"}, "seed"),
        ({"seed": True}, "seed"),
        ({"readings": "temperature"}, "readings"),
        ({"readings": []}, "readings"),
        ({"readings": ["temperature", "wind"]}, "readings"),
        ({"readings": ["co2", "co2"]}, "readings"),
        ({"readings": [["co2"]]}, "readings"),
        ({"sed": 1}, "options"),
    ],
)
def test_simulated_bad_options(options, field):
    with pytest.raises(ConfigError) as info:
        create_driver("simulated", options)
    assert info.value.field == field
