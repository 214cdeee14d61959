"""Every driver declares its options and readings, and the declarations are the truth."""

from __future__ import annotations

import inspect

import pytest
from iota_publisher.drivers import available, create_driver, driver_class, fakes
from iota_publisher.drivers._base import Option, ReadingSet, ReadingSpec
from iota_publisher.drivers.thingy52 import SENSORS

from iota_publisher.errors import ConfigError
from iota_publisher.payload import known_units

#: keyword arguments that are test seams, not config options
SEAMS = {"sleep", "clock", "session", "client", "scanner"}


def _parameters(cls):
    return {
        name: p
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


@pytest.mark.parametrize("name", available())
def test_every_driver_declares_options_and_readings(name):
    cls = driver_class(name)
    assert cls.OPTIONS is not None, f"{name} declares no options"
    assert all(isinstance(o, Option) and o.help for o in cls.OPTIONS)
    assert cls.READINGS or cls.OPEN_READINGS, f"{name} declares no readings"
    assert all(isinstance(r, ReadingSpec) for r in cls.READINGS)
    assert isinstance(cls.declared_readings({}), ReadingSet)


@pytest.mark.parametrize("name", available())
def test_declared_options_are_the_constructor_s_keywords(name):
    cls = driver_class(name)
    keywords = set(_parameters(cls)) - SEAMS
    assert {o.name for o in cls.OPTIONS} == keywords


@pytest.mark.parametrize("name", available())
def test_declared_units_are_known(name):
    units = set(known_units())
    for spec in driver_class(name).READINGS:
        assert spec.unit is None or spec.unit in units, (name, spec)


# defaults the signature spells as None (the driver then uses the declared value):
# how to see the value the driver uses
EFFECTIVE = {
    ("pms5003", "timeout"): lambda d: d.timeout,
    ("sds011", "timeout"): lambda d: d.timeout,
    ("mhz19", "timeout"): lambda d: d.timeout,
    ("http", "timeout"): lambda d: d.timeout,
    ("command", "timeout"): lambda d: d.timeout,
    ("simulated", "readings"): lambda d: list(d.readings),
    ("thingy52", "sensors"): lambda d: list(d.sensors),
    ("thingy52", "name"): lambda d: d._device_name,
    ("netatmo", "token_file"): lambda d: d.token_file.name,
}


def _build(name, tmp_path):
    options = {
        "file": {"path": str(tmp_path / "data.jsonl")},
        "command": {"command": "true"},
        "http": {"url": "http://127.0.0.1:9/"},
        "netatmo": {
            "client_id": "id",
            "client_secret": "secret",
            "refresh_token": "token",
            "token_file": str(tmp_path / "netatmo-token.json"),
        },
    }.get(name, {})
    seams = {"thingy52": {"client": fakes.FakeBleClient.thingy()}}.get(name, {})
    (tmp_path / "data.jsonl").write_text('{"a": 1}\n')
    return create_driver(name, options, **seams)


@pytest.mark.parametrize("name", available())
def test_declared_defaults_are_the_ones_used(name, tmp_path):
    cls = driver_class(name)
    parameters = _parameters(cls)
    driver = _build(name, tmp_path)
    try:
        for option in cls.OPTIONS:
            given = parameters[option.name].default
            if given is inspect.Parameter.empty:
                given = None
            if (name, option.name) in EFFECTIVE:
                assert given is None
                assert EFFECTIVE[name, option.name](driver) == option.default, option
            else:
                assert given == option.default, (name, option.name)
    finally:
        driver.close()


def test_http_timeout_default_is_the_shared_one():
    from iota_publisher._http import DEFAULT_TIMEOUT

    assert driver_class("http").option("timeout").default == DEFAULT_TIMEOUT


def test_simulated_yields_what_it_declares():
    cls = driver_class("simulated")
    every = [s.name for s in cls.READINGS]
    with create_driver("simulated", {"readings": every}) as sensor:
        readings = sensor.read()
    assert {n: r.unit for n, r in readings.items()} == {s.name: s.unit for s in cls.READINGS}
    chosen = cls.declared_readings({"readings": ["co2"]})
    assert chosen.names == ["co2"] and not chosen.open


def test_thingy52_yields_what_it_declares():
    cls = driver_class("thingy52")
    options = {"address": "C4:6A:12:34:56:78", "sensors": list(SENSORS)}
    with create_driver("thingy52", options, client=fakes.FakeBleClient.thingy()) as thingy:
        readings = thingy.read()
    declared = cls.declared_readings(options)
    assert {n: r.unit for n, r in readings.items()} == {s.name: s.unit for s in declared.specs}
    assert set(cls.declared_readings({}).names) == {
        "temperature",
        "pressure",
        "humidity",
        "eco2",
        "tvoc",
        "battery",
    }


def test_netatmo_readings_are_patterns_by_quantity():
    readings = driver_class("netatmo").declared_readings({})
    assert readings.find("indoor.temperature").unit == "C"
    assert readings.find("home.outdoor.humidity").unit == "%"
    assert readings.find("rain.sum_rain_24").unit == "mm"
    assert readings.find("outdoor.temprature") is None and not readings.open


def test_json_sources_know_the_names_of_their_units_option():
    readings = driver_class("command").declared_readings({"units": {"temp": "C"}})
    assert readings.open and readings.find("temp").unit == "C" and readings.find("x") is None
    http = driver_class("http")
    named = http.declared_readings(
        {"fields": {"t": "main.temp", "sky": "w.0"}, "units": {"t": "C"}}
    )
    assert not named.open and named.names == ["t", "sky"] and named.find("t").unit == "C"
    assert http.declared_readings({}).open


def test_option_problems_name_the_key():
    cls = driver_class("bme280")
    problems = list(cls.option_problems({"adress": 1, "mode": "sleepy"}, "sensors[3].options"))
    assert [p.field for p in problems] == ["sensors[3].options.adress", "sensors[3].options.mode"]
    assert "did you mean 'address'" in str(problems[0])
    assert all(isinstance(p, ConfigError) for p in problems)


def test_option_check_hides_secrets():
    option = Option("client_secret", str, None, "secret", secret=True, choices=("a",))
    with pytest.raises(ConfigError) as info:
        option.check("netatmo", "HIDDEN-VALUE")
    assert "HIDDEN-VALUE" not in str(info.value)


@pytest.mark.parametrize(
    ("option", "value", "ok"),
    [
        (Option("t", float, 1.0, "x", positive=True), 0, False),
        (Option("t", float, 1.0, "x", positive=True), 0.5, True),
        (Option("n", int, 1, "x", low=1, high=3), 4, False),
        (Option("n", int, 1, "x", low=1, high=3), True, False),
        (Option("n", int, 1, "x", low=1, high=3), 2.0, False),
        (Option("f", float, 1.0, "x"), 2, True),
        (Option("f", float, 1.0, "x"), float("nan"), False),
    ],
)
def test_option_check(option, value, ok):
    if ok:
        assert option.check("d", value) == value
    else:
        with pytest.raises(ConfigError):
            option.check("d", value)
