"""The marketplace's device rules (iota_publisher.device), for the client and for configs."""

from __future__ import annotations

from typing import Any

import pytest

from iota_publisher import device, marketplace
from iota_publisher.config import Config
from iota_publisher.errors import ConfigError, InvalidInputError
from iota_publisher.payload import FieldMap


def fields(*entries: dict[str, Any]) -> list[dict[str, Any]]:
    return list(entries)


T = {"id": "temp", "name": "Temperature", "unit": "C"}
H = {"id": "hum", "name": "Humidity", "unit": "%"}


def test_aliases_at_the_old_place():
    assert marketplace.validate_device is device.validate_device
    assert marketplace.validate_data_types is device.validate_data_types


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("a", True),
        ("Hello", True),
        ("star-wars_2", True),
        ("a" * 40, True),
        ("a" * 41, False),
        ("9lives", False),
        ("-dash", False),
        ("_under", False),
        ("has space", False),
        ("dot.ted", False),
        ("ümlaut", False),
        ("", False),
        (None, False),
        (7, False),
    ],
)
def test_ids(value, ok):
    assert device.is_id(value) is ok
    if ok:
        assert device.check_id(value) == value
    else:
        with pytest.raises(InvalidInputError) as info:
            device.check_id(value, "sensorId")
        assert info.value.field == "sensorId"


@pytest.mark.parametrize(
    ("data_types", "field"),
    [
        (5, "dataTypes"),
        ("temp", "dataTypes"),
        ({"id": "temp"}, "dataTypes"),
        ([], "dataTypes"),
        ([T, "hum"], "dataTypes[1]"),
        ([T, {**H, "id": "2nd"}], "dataTypes[1].id"),
        ([T, {**H, "id": "temp"}], "dataTypes[1].id"),  # a duplicate id
        ([{**T, "id": None}], "dataTypes[0].id"),
        ([{**T, "name": ""}], "dataTypes[0].name"),
        ([{**T, "name": "n" * 41}], "dataTypes[0].name"),
        ([{**T, "name": 3}], "dataTypes[0].name"),
        ([{**T, "unit": "u" * 21}], "dataTypes[0].unit"),
        ([{"id": "temp", "name": "T"}], "dataTypes[0].unit"),
    ],
)
@pytest.mark.parametrize("error", [InvalidInputError, ConfigError])
def test_data_type_rules_name_the_key(data_types, field, error):
    with pytest.raises(error) as info:
        device.validate_data_types(data_types, error=error)
    assert info.value.field == field and field in str(info.value)


def test_data_type_limits_are_inclusive():
    ok = [
        {"id": "a" * 40, "name": "n" * 40, "unit": "u" * 20},
        {"id": "b", "name": "B", "unit": ""},
    ]
    assert device.validate_data_types(ok) is ok


def base_config(**extra: Any) -> dict[str, Any]:
    return {"sensorId": "dev", "secretKey": "sk", "debug": True, **extra}


@pytest.mark.parametrize(
    ("data_types", "field"),
    [
        (5, "dataTypes"),
        ([T, T], "dataTypes[1].id"),
        ([T, {"id": "x", "name": "X", "unit": "u" * 21}], "dataTypes[1].unit"),
    ],
)
def test_config_checks_data_types_with_config_errors(data_types, field):
    with pytest.raises(ConfigError) as info:
        Config.from_mapping(base_config(dataTypes=data_types))
    assert info.value.field == field
    with pytest.raises(ConfigError) as info:
        Config.from_mapping(base_config(dataTypes=data_types, fields=[{"id": "temp"}]))
    assert info.value.field == field


def test_config_with_good_data_types():
    config = Config.from_mapping(
        base_config(
            dataTypes=[T, H],
            sensors=[{"name": "station", "driver": "simulated"}],
            fields=[{"id": "temp", "reading": "temperature"}],
        )
    )
    assert config.fields.rules[0].unit == "C"  # taken from the declared field


def test_field_map_raises_config_errors_for_data_types():
    with pytest.raises(ConfigError) as info:
        FieldMap.from_config([{"id": "temp"}], [T, {**T}])
    assert info.value.field == "dataTypes[1].id"
    with pytest.raises(ConfigError) as info:
        FieldMap.from_config([{"id": "temp"}], "temp")
    assert info.value.field == "dataTypes"


def test_payload_does_not_import_the_marketplace_client():
    import ast
    import inspect

    from iota_publisher import payload

    tree = ast.parse(inspect.getsource(payload))
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module is not None
    }
    assert "marketplace" not in imported and "device" in imported


def test_template_uses_the_same_id_rule(tmp_path):
    from iota_publisher.template import build_template

    with pytest.raises(ConfigError) as info:
        build_template("9lives", "sk", "http://n", "http://m/newData", out_dir=tmp_path)
    assert info.value.field == "sensorId"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"lat": "52,3"}, "lat"),
        ({"lat": 91}, "lat"),
        ({"lon": "1e2"}, "lon"),
        ({"lon": float("inf")}, "lon"),
    ],
)
def test_device_coordinates(changes, field):
    d = {
        "sensorId": "dev",
        "type": "t",
        "owner": "o",
        "location": {"city": "c", "country": "d"},
        "lat": "-12.5",
        "lon": 180,
        "dataTypes": [T],
    }
    assert device.validate_device(d)["lat"] == -12.5
    with pytest.raises(ConfigError) as info:
        device.validate_device({**d, **changes}, error=ConfigError)
    assert info.value.field == field
