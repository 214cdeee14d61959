"""Fakes for every hardware seam, so drivers run (and are tested) without hardware.

* :class:`FakeI2CBus`: an I2C bus as a register map per address (BME280, BH1750);
* :class:`ScriptedSerial`: a serial port that serves scripted bytes (PMS5003,
  SDS011, MH-Z19B);
* :class:`FakeBleClient` / :class:`FakeScanner`: a Thingy:52 that replays
  notification bytes;
* the ``simulated`` driver (:class:`Simulated`) stands in for a whole sensor.

Each driver takes its seam as a keyword (``bus=``, ``port=``, ``client=``).
"""

from ._i2c import FakeI2CBus
from ._serial import ScriptedSerial
from .generic import Simulated
from .thingy52 import FakeBleClient, FakeScanner

__all__ = ["FakeBleClient", "FakeI2CBus", "FakeScanner", "ScriptedSerial", "Simulated"]
