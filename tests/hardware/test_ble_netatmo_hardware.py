"""A real Nordic Thingy:52 and a real Netatmo account (opt-in, see conftest.py)::

    pytest tests/hardware/test_ble_netatmo_hardware.py --hardware=thingy52,netatmo

Thingy:52 (needs ``pip install iota-publisher[ble]`` and a Bluetooth adapter;
wake the Thingy by moving it first): ``IOTA_THINGY52_ADDRESS`` (MAC; without
it the first device advertising ``IOTA_THINGY52_NAME``, default ``Thingy``, is
used) and ``IOTA_THINGY52_ADAPTER`` (e.g. ``hci1``).

Netatmo: ``IOTA_NETATMO_CLIENT_ID``, ``IOTA_NETATMO_CLIENT_SECRET``,
``IOTA_NETATMO_REFRESH_TOKEN`` (from https://dev.netatmo.com/apps, scope
read_station), optional ``IOTA_NETATMO_DEVICE_ID`` and
``IOTA_NETATMO_TOKEN_FILE`` (default ``netatmo-token.json`` here). Refresh
tokens rotate: after a run the refresh token you passed is dead and the live
one is in the token file, so keep that file for the next run. The test makes
two or three API calls (the limit is 50 per 10 s).
"""

from __future__ import annotations

import asyncio
import os
import stat
import threading
import time

import pytest
from iota_publisher.drivers import create_driver

# --------------------------------------------------------------------------- Thingy:52


def _thingy_options(**extra):
    options = {"timeout": 25}  # the gas sensor reports every 10 s in its default mode
    if os.environ.get("IOTA_THINGY52_ADDRESS"):
        options["address"] = os.environ["IOTA_THINGY52_ADDRESS"]
    else:
        options["name"] = os.environ.get("IOTA_THINGY52_NAME", "Thingy")
    if os.environ.get("IOTA_THINGY52_ADAPTER"):
        options["adapter"] = os.environ["IOTA_THINGY52_ADAPTER"]
    options.update(extra)
    return options


def _check_environment(readings):
    assert readings["temperature"].unit == "C"
    assert -40 <= readings["temperature"].value <= 85
    assert 300 <= readings["pressure"].value <= 1100  # hPa
    assert 0 <= readings["humidity"].value <= 100
    assert 400 <= readings["eco2"].value <= 8192  # CCS811: 400 ppm is its floor
    assert 0 <= readings["tvoc"].value <= 1187
    assert 0 <= readings["battery"].value <= 100


def _ble_threads():
    return [t for t in threading.enumerate() if t.name.startswith("thingy52") and t.is_alive()]


@pytest.mark.hardware("thingy52")
def test_thingy52_reads_stay_connected_and_reconnect():
    pytest.importorskip("bleak", reason="pip install iota-publisher[ble]")
    thingy = create_driver("thingy52", _thingy_options())
    try:
        first = thingy.read()
        _check_environment(first)
        client = thingy._client
        second = thingy.read()
        _check_environment(second)
        assert thingy._client is client  # one connection for both reads

        # drop the link as a walk out of range would; the next read scans and reconnects
        asyncio.run_coroutine_threadsafe(client.disconnect(), thingy._loop).result(timeout=30)
        _check_environment(thingy.read())
    finally:
        thingy.close()
    assert not _ble_threads()


@pytest.mark.hardware("thingy52")
def test_thingy52_interval_and_colour():
    pytest.importorskip("bleak", reason="pip install iota-publisher[ble]")
    options = _thingy_options(interval=1000, sensors=["temperature", "color"], timeout=10)
    with create_driver("thingy52", options) as thingy:
        started = time.monotonic()
        readings = thingy.read()
        readings = thingy.read()
        assert time.monotonic() - started < 20
    assert {"color_red", "color_green", "color_blue", "color_clear"} <= set(readings)
    assert all(readings[k].unit is None for k in readings if k.startswith("color_"))
    assert not _ble_threads()


# --------------------------------------------------------------------------- Netatmo


def _netatmo_options():
    names = ("IOTA_NETATMO_CLIENT_ID", "IOTA_NETATMO_CLIENT_SECRET")
    missing = [n for n in names if not os.environ.get(n)]
    token_file = os.environ.get("IOTA_NETATMO_TOKEN_FILE", "netatmo-token.json")
    if not os.environ.get("IOTA_NETATMO_REFRESH_TOKEN") and not os.path.exists(token_file):
        missing.append("IOTA_NETATMO_REFRESH_TOKEN")
    if missing:
        pytest.fail(f"--hardware=netatmo needs the environment variables {', '.join(missing)}")
    options = {
        "client_id": os.environ["IOTA_NETATMO_CLIENT_ID"],
        "client_secret": os.environ["IOTA_NETATMO_CLIENT_SECRET"],
        "refresh_token": os.environ.get("IOTA_NETATMO_REFRESH_TOKEN") or None,
        "token_file": token_file,
    }
    if os.environ.get("IOTA_NETATMO_DEVICE_ID"):
        options["device_id"] = os.environ["IOTA_NETATMO_DEVICE_ID"]
    return options


@pytest.mark.hardware("netatmo")
def test_netatmo_reads_and_rotates_tokens():
    options = _netatmo_options()
    with create_driver("netatmo", options) as station:
        readings = station.read()
        token_file = station.token_file
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        saved = token_file.stat().st_mtime_ns
        again = station.read()  # the access token is still valid: no refresh, no rewrite
        assert token_file.stat().st_mtime_ns == saved
        assert station.last_update

    units = {"temperature": "C", "humidity": "%", "co2": "ppm", "noise": "dB", "pressure": "mbar"}
    indoor = {k: r for k, r in readings.items() if k.rsplit(".", 2)[-2] == "indoor"}
    assert indoor, f"no base-station readings in {sorted(readings)}"
    for name, reading in readings.items():
        quantity = name.rsplit(".", 1)[1]
        if quantity in units:
            assert reading.unit == units[quantity], name
        assert reading.time is None or reading.time > time.time() - 7 * 86400, name
    temperatures = [r.value for k, r in readings.items() if k.endswith(".temperature")]
    assert all(-50 <= t <= 60 for t in temperatures)
    assert set(again) == set(readings)
