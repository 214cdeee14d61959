"""Sensor drivers, installed as ``iota_publisher.drivers``.

Each driver reads named readings from one source (an I2C, 1-Wire or serial
sensor, a BLE device, a web API, a file, a program). Hardware libraries are
imported only inside the driver that needs them.
"""

__all__: list[str] = []
