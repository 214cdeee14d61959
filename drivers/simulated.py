"""A simulated weather station: the source that needs nothing.

``simulated`` lets a fresh install run end to end on a laptop: plausible,
smooth, seeded values for a handful of quantities (:data:`SIMULATED_READINGS`).
"""

from __future__ import annotations

import hashlib
import math
import time as _time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from ..errors import ConfigError
from ._base import Driver, Option, Readings, ReadingSet, ReadingSpec, SensorDataError, check_value

__all__ = ["SIMULATED_READINGS", "Simulated"]

#: reading name -> unit, for :class:`Simulated`
SIMULATED_READINGS: dict[str, str] = {
    "temperature": "C",
    "humidity": "%",
    "pressure": "hPa",
    "co2": "ppm",
    "pm2_5": "ug/m3",
    "illuminance": "lx",
}
_DEFAULT_SIMULATED = ("temperature", "humidity", "pressure")
_DAY = 86_400.0


def _knot(seed: int, channel: str, k: int) -> float:
    """A fixed pseudo-random number in [-1, 1] for (seed, channel, k)."""
    digest = hashlib.blake2b(f"{seed}/{channel}/{k}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**63 - 1.0


def _noise(seed: int, channel: str, t: float, period: float) -> float:
    """Smooth value noise in [-1, 1]: random knots every ``period`` s, eased between."""
    x = t / period
    k = math.floor(x)
    f = x - k
    a, b = _knot(seed, channel, k), _knot(seed, channel, k + 1)
    return a + (b - a) * f * f * (3 - 2 * f)


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def _simulate(seed: int, t: float) -> dict[str, float | int]:
    """A plausible outdoor weather station at time ``t`` (UTC days; pure)."""
    hour = (t % _DAY) / 3600.0
    # +1 at 15:00 UTC, -1 at 03:00: the daily swing of temperature
    daily = math.sin(2 * math.pi * (hour - 9) / 24)
    temperature = (
        14
        + 4 * _knot(seed, "climate-t", 0)
        + 6 * daily
        + 3 * _noise(seed, "t-weather", t, 6 * 3600)
        + 0.6 * _noise(seed, "t-gust", t, 1200)
        + 0.1 * _noise(seed, "t-jitter", t, 180)
    )
    humidity = (
        62
        + 6 * _knot(seed, "climate-h", 0)
        - 14 * daily
        + 8 * _noise(seed, "h-weather", t, 6 * 3600)
        + 1.5 * _noise(seed, "h-gust", t, 900)
    )
    pressure = (
        1013
        + 6 * _knot(seed, "climate-p", 0)
        + 5 * _noise(seed, "p-front", t, 2 * _DAY)
        + 10 * _noise(seed, "p-weather", t, 8 * 3600)
        + 0.8 * math.sin(4 * math.pi * (hour - 10) / 24)  # the semidiurnal tide
        + 0.1 * _noise(seed, "p-jitter", t, 600)
    )
    co2 = (
        420
        + 10 * _knot(seed, "climate-c", 0)
        + 25 * (1 - daily) / 2
        + 8 * _noise(seed, "c-wind", t, 3600)
        + 2 * _noise(seed, "c-jitter", t, 300)
    )
    rush = math.exp(-(((hour - 8) / 1.5) ** 2)) + math.exp(-(((hour - 18) / 1.5) ** 2))
    pm2_5 = (
        9
        + 4 * _knot(seed, "climate-pm", 0)
        + 3 * rush
        + 5 * _noise(seed, "pm-weather", t, 4 * 3600)
        + 1.5 * _noise(seed, "pm-gust", t, 600)
    )
    sun = math.sin(2 * math.pi * (hour - 6) / 24)  # up from 06:00 to 18:00 UTC
    clouds = 0.65 + 0.35 * _noise(seed, "clouds", t, 2 * 3600)
    flicker = 1 + 0.05 * _noise(seed, "flicker", t, 300)
    illuminance = 60_000 * sun**1.2 * clouds * flicker if sun > 0 else 0.0
    return {
        "temperature": round(_clamp(temperature, -40.0, 60.0), 2),
        "humidity": round(_clamp(humidity, 0.0, 100.0), 1),
        "pressure": round(_clamp(pressure, 870.0, 1085.0), 2),
        "co2": round(_clamp(co2, 350.0, 5000.0)),
        "pm2_5": round(_clamp(pm2_5, 0.0, 1000.0), 1),
        "illuminance": round(_clamp(illuminance, 0.0, 120_000.0), 1),
    }


class Simulated(Driver):
    """A simulated outdoor weather station, for trying things without hardware.

    Values follow the time of day (warmest at 15:00 UTC, light from 06:00 to
    18:00 UTC) plus smooth seeded noise, so a chart of them looks real; they
    are always finite and physically plausible. The same ``seed`` and clock
    give the same values, in any process. Each reading's time is the clock's.

    Options: ``seed`` (int, default 0), ``readings`` (names from
    :data:`SIMULATED_READINGS`: ``temperature`` C, ``humidity`` %,
    ``pressure`` hPa, ``co2`` ppm, ``pm2_5`` ug/m3, ``illuminance`` lx;
    default the first three). Seam: ``clock`` (seconds since the epoch,
    default :func:`time.time`). Config::

        {"name": "station", "driver": "simulated",
         "options": {"seed": 7, "readings": ["temperature", "humidity", "pressure", "co2"]}}
    """

    name: ClassVar[str] = "simulated"
    OPTIONS = (
        Option("seed", int, 0, "the same seed gives the same values"),
        Option("readings", list, list(_DEFAULT_SIMULATED), "which readings to simulate"),
    )
    READINGS = tuple(ReadingSpec(name, unit) for name, unit in SIMULATED_READINGS.items())

    @classmethod
    def declared_readings(cls, options: Mapping[str, Any]) -> ReadingSet:
        chosen = options.get("readings") or _DEFAULT_SIMULATED
        if not isinstance(chosen, (list, tuple)):
            chosen = _DEFAULT_SIMULATED
        return ReadingSet(tuple(s for s in cls.READINGS if s.name in chosen))

    def __init__(
        self,
        *,
        seed: int = 0,
        readings: Sequence[str] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.seed: int = self.option("seed").check(self.name, seed)
        chosen = check_value(self.name, "readings", readings, (list, tuple), _DEFAULT_SIMULATED)
        known = all(isinstance(r, str) and r in SIMULATED_READINGS for r in chosen)
        if not chosen or not known or len(set(chosen)) != len(chosen):
            raise ConfigError(
                f"driver 'simulated': option 'readings' must list distinct names from "
                f"{', '.join(SIMULATED_READINGS)}, not {list(chosen)!r}",
                field="readings",
            )
        self.readings: tuple[str, ...] = tuple(chosen)
        self._clock = _time.time if clock is None else clock

    def read(self) -> Readings:
        t = float(self._clock())
        if not math.isfinite(t):
            raise SensorDataError(f"simulated: the clock says {t!r}", driver=self.name)
        values = _simulate(self.seed, t)
        return {r: self._reading(r, values[r], SIMULATED_READINGS[r], t) for r in self.readings}
