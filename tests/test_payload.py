"""Field mapping and unit conversion."""

from __future__ import annotations

import math

import pytest
from iota_publisher.drivers import Reading

from iota_publisher.errors import ConfigError, InvalidInputError
from iota_publisher.payload import FieldMap, UnitError, convert


@pytest.mark.parametrize(
    "value, src, dst, expected",
    [
        (20, "C", "F", 68.0),
        (-40, "F", "C", -40.0),
        (0, "C", "K", 273.15),
        (300, "K", "F", 80.33),
        (1013.25, "hPa", "Pa", 101325.0),
        (1013.25, "hPa", "inHg", 29.92),
        (1013.25, "mbar", "hPa", 1013.25),
        (760, "mmHg", "atm", 1.0),
        (36, "km/h", "m/s", 10.0),
        (10, "m/s", "mph", 22.37),
        (10, "knots", "km/h", 18.52),
        (50, "%", "fraction", 0.5),
        (1000, "ppb", "ppm", 1.0),
        (25.4, "mm", "in", 1.0),
        (21.5, "°C", "degF", 70.7),
        (5, None, "F", 5),
        (5, "C", None, 5),
    ],
)
def test_convert(value, src, dst, expected):
    assert convert(value, src, dst) == pytest.approx(expected, abs=0.01)


def test_convert_refuses_mismatched_and_unknown_units():
    with pytest.raises(UnitError, match="cannot convert hPa"):
        convert(1, "hPa", "C")
    with pytest.raises(UnitError, match="unknown unit 'furlong'"):
        convert(1, "furlong", "m")
    assert issubclass(UnitError, InvalidInputError)


READINGS = {
    "outside": {
        "temperature": Reading("temperature", 21.456, "C"),
        "pressure": Reading("pressure", 1013.25, "hPa"),
        "status": Reading("status", "ok"),
        "count": Reading("count", 7),
    },
    "inside": {"temperature": Reading("temperature", 19.0, "C"), "co2": Reading("co2", 612, "ppm")},
}


def test_mapping_with_conversion_scale_offset_and_rounding():
    fm = FieldMap.from_config(
        [
            {"id": "temp", "sensor": "outside", "reading": "temperature", "unit": "F", "round": 1},
            {"id": "press", "reading": "pressure", "unit": "inHg", "round": 2},
            {"id": "co2", "reading": "co2"},
            {
                "id": "adjusted",
                "sensor": "inside",
                "reading": "temperature",
                "scale": 2,
                "offset": -1,
            },
            {"id": "status", "reading": "status"},
            {"id": "count", "reading": "count"},
            {"id": "rounded", "sensor": "outside", "reading": "temperature", "round": 0},
        ]
    )
    result = fm.apply(READINGS)
    assert result.complete
    assert result.data == {
        "temp": 70.6,
        "press": 29.92,
        "co2": 612,
        "adjusted": 37.0,
        "status": "ok",
        "count": 7,
        "rounded": 21,
    }
    assert isinstance(result.data["co2"], int) and isinstance(result.data["rounded"], int)


def test_missing_and_bad_readings_are_reported_not_published():
    fm = FieldMap.from_config(
        [
            {"id": "temp", "reading": "temperature"},  # two sensors give it
            {"id": "hum", "reading": "humidity"},  # nobody gives it
            {"id": "text", "reading": "status", "scale": 2},  # text cannot be scaled
            {"id": "bad", "sensor": "outside", "reading": "pressure", "unit": "C"},
            {"id": "co2", "reading": "co2"},
        ]
    )
    result = fm.apply(READINGS)
    assert result.data == {"co2": 612}
    assert set(result.problems) == {"temp", "hum", "text", "bad"}
    assert "name one with 'sensor'" in result.problems["temp"]
    assert "humidity" in result.problems["hum"]


def test_non_finite_values_never_reach_the_packet():
    class Loose:  # a third-party driver that skipped Reading's check
        value = math.inf
        unit = None

    result = FieldMap.from_config([{"id": "x", "reading": "x"}]).apply({"s": {"x": Loose()}})
    assert result.data == {} and "not finite" in result.problems["x"]


DEVICE_FIELDS = [
    {"id": "temp", "name": "Temperature", "unit": "F"},
    {"id": "co2", "name": "CO2", "unit": "ppm"},
]


def test_device_fields_supply_units_and_are_checked():
    fm = FieldMap.from_config(
        [
            {"id": "temp", "sensor": "inside", "reading": "temperature"},
            {"id": "co2", "reading": "co2"},
        ],
        DEVICE_FIELDS,
    )
    assert fm.apply(READINGS).data == {"temp": pytest.approx(66.2), "co2": 612}
    with pytest.raises(ConfigError, match="not one of the device's fields") as info:
        FieldMap.from_config([{"id": "hum", "reading": "humidity"}], DEVICE_FIELDS)
    assert info.value.field == "fields[0].id"


@pytest.mark.parametrize(
    "entries, field",
    [
        ([], "fields"),
        ([{"id": "a"}, {"id": "a"}], "fields"),
        (["a"], "fields[0]"),
        ([{"id": ""}], "fields[0].id"),
        ([{"id": "a", "scale": "2"}], "fields[0].scale"),
        ([{"id": "a", "offset": math.nan}], "fields[0].offset"),
        ([{"id": "a", "round": 1.5}], "fields[0].round"),
        ([{"id": "a", "colour": 1}], "fields[0].colour"),
    ],
)
def test_bad_field_config_names_the_entry(entries, field):
    with pytest.raises(ConfigError) as info:
        FieldMap.from_config(entries)
    assert info.value.field == field


@pytest.mark.parametrize(
    "fields, path",
    [
        ([{"id": "1abc", "name": "x", "unit": ""}], "dataTypes[0].id"),
        ([{"id": "a" * 41, "name": "x", "unit": ""}], "dataTypes[0].id"),
        ([{"id": "ok", "name": "n" * 41, "unit": ""}], "dataTypes[0].name"),
        ([{"id": "ok", "name": "x", "unit": "u" * 21}], "dataTypes[0].unit"),
    ],
)
def test_device_fields_follow_the_blueprint(fields, path):
    with pytest.raises(InvalidInputError) as info:
        FieldMap.from_config([{"id": "ok"}], fields)
    assert info.value.field == path


# -- units the reading does not carry; reading times -------------------------------------


def test_a_unitless_reading_under_a_field_unit_names_field_and_reading():
    from iota_publisher.drivers import Reading

    fields = FieldMap.from_config([{"id": "temp", "reading": "t", "unit": "F"}, {"id": "h"}])
    mapped = fields.apply({"s": {"t": Reading("t", 20.0), "h": Reading("h", 5)}})
    assert mapped.data == {"h": 5}
    assert "'temp'" in mapped.problems["temp"] and "'t'" in mapped.problems["temp"]
    assert "no unit" in mapped.problems["temp"]
    with_unit = fields.apply({"s": {"t": Reading("t", 20.0, "C"), "h": Reading("h", 5)}})
    assert with_unit.data == {"temp": 68.0, "h": 5}


def test_a_data_types_unit_is_a_label_for_a_unitless_reading():
    from iota_publisher.drivers import Reading

    data_types = [{"id": "temp", "name": "Temperature", "unit": "F"}]
    fields = FieldMap.from_config([{"id": "temp", "reading": "t"}], data_types)
    assert fields.rules[0].unit == "F" and not fields.rules[0].unit_given
    assert fields.apply({"s": {"t": Reading("t", 20.0)}}).data == {"temp": 20.0}
    assert fields.apply({"s": {"t": Reading("t", 20.0, "C")}}).data == {"temp": 68.0}


def test_unit_problem():
    from iota_publisher.payload import unit_problem

    assert unit_problem("C", "F") == ""
    assert "pressure" in unit_problem("C", "hPa")
    assert "no unit" in unit_problem(None, "C")
    assert unit_problem(None, "C", explicit=False) == ""
    assert "unknown unit" in unit_problem("C", "parsecs")


def test_an_unknown_field_unit_is_a_config_error_with_a_suggestion():
    with pytest.raises(ConfigError, match="did you mean 'hPa'") as info:
        FieldMap.from_config([{"id": "p", "unit": "hpa"}])
    assert info.value.field == "fields[0].unit"


def test_mapped_payload_carries_the_newest_reading_time():
    from iota_publisher.drivers import Reading

    fields = FieldMap.from_config([{"id": "a"}, {"id": "b"}, {"id": "c"}])
    mapped = fields.apply(
        {"s": {"a": Reading("a", 1, time=100.0), "b": Reading("b", 2, time=250.5)}}
    )
    assert mapped.time == 250.5 and set(mapped.problems) == {"c"}
    assert fields.apply({"s": {"a": Reading("a", 1)}}).time is None


def test_bad_data_types_are_config_errors():
    for data_types, key in [
        (5, "dataTypes"),
        (
            [{"id": "a", "name": "A", "unit": ""}, {"id": "a", "name": "B", "unit": ""}],
            "dataTypes[1].id",
        ),
    ]:
        with pytest.raises(ConfigError) as info:
            FieldMap.from_config([{"id": "a"}], data_types)
        assert info.value.field == key
